"""``log_boto3_requests``: boto3/botocore API calls become records."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional, Union

from ._fields import content_length, describe_error, log_request, resolve_level, resolve_logger, split_url

_UNIQUE = "threaded_logging.log_boto3_requests"
_CONTEXT_KEY = "threaded_logging"


class _Recorder:
    """The event handlers; one instance per registration."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self.logger = logger
        self.level = level

    def before_call(self, model: Any = None, params: Any = None, request_signer: Any = None,
                    context: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        if context is None:
            return
        params = params or {}
        context[_CONTEXT_KEY] = {
            "started": time.monotonic(),
            "url": params.get("url") or "",
            "method": params.get("method") or "",
            "region": getattr(request_signer, "region_name", None),
        }

    def _common(self, model: Any, context: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        stash = (context or {}).get(_CONTEXT_KEY) or {}
        host, path = split_url(stash.get("url") or "")
        retries = ((context or {}).get("retries") or {}).get("attempt")
        started = stash.get("started")
        return {
            "service": getattr(getattr(model, "service_model", None), "service_name", None),
            "region": stash.get("region"),
            "action": getattr(model, "name", None),
            "method": stash.get("method") or (getattr(model, "http", None) or {}).get("method"),
            "host": host,
            "path": path,
            "duration": (time.monotonic() - started) if started is not None else None,
            "retries": (retries - 1) if isinstance(retries, int) else 0,
        }

    def after_call(self, http_response: Any = None, parsed: Any = None, model: Any = None,
                   context: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        try:
            fields = self._common(model, context)
            parsed = parsed or {}
            metadata = parsed.get("ResponseMetadata") or {}
            status = getattr(http_response, "status_code", None)
            size = content_length(getattr(http_response, "headers", None))
            if size is None:
                content = getattr(http_response, "_content", None)
                size = len(content) if isinstance(content, (bytes, bytearray)) else None
            if isinstance(metadata.get("RetryAttempts"), int):
                fields["retries"] = metadata["RetryAttempts"]
            fields.update(
                status=status,
                size=size,
                error=status is None or status >= 400,
                request_id=metadata.get("RequestId"),
            )
            code = (parsed.get("Error") or {}).get("Code")
            if code:
                fields["error_detail"] = str(code)
            log_request(self.logger, self.level, fields)
        except Exception:  # a hook must never break the caller's API call
            pass

    def after_call_error(self, exception: Optional[BaseException] = None, model: Any = None,
                         context: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        try:
            fields = self._common(model, context)
            fields.update(status=None, size=None, error=True, request_id=None)
            if exception is not None:
                fields["error_detail"] = describe_error(exception)
            log_request(self.logger, self.level, fields)
        except Exception:
            pass


def log_boto3_requests(
    client_or_session: Any,
    logger: Union[str, logging.Logger] = "threaded_logging.boto3",
    level: Union[int, str] = logging.INFO,
) -> Any:
    """Log every API call of a boto3/botocore client or session: one record per call.

    Registers on botocore's events: ``before-call`` stamps the start,
    ``after-call`` (a response arrived, including 4xx/5xx errors) and
    ``after-call-error`` (no response: connection errors, timeouts, after
    botocore's own retries) emit the record. Fields: ``service``, ``region``,
    ``action`` (the operation name), ``method``, ``host``, ``path``,
    ``status``, ``duration`` (seconds, the whole call with its retries),
    ``size`` (response bytes), ``retries`` (attempts beyond the first),
    ``error`` (bool), ``error_detail``, ``request_id``.

    Registering on a boto3 ``Session`` (or a botocore session) covers every
    client it creates afterwards; registering on a client covers that
    client. Registering twice does not double the records.

    Returns:
        ``client_or_session``.
    """
    events = _events_of(client_or_session)
    recorder = _Recorder(resolve_logger(logger), resolve_level(level))
    events.register("before-call", recorder.before_call, unique_id=_UNIQUE + ".before-call")
    events.register("after-call", recorder.after_call, unique_id=_UNIQUE + ".after-call")
    events.register("after-call-error", recorder.after_call_error, unique_id=_UNIQUE + ".after-call-error")
    return client_or_session


def _events_of(obj: Any) -> Any:
    meta = getattr(obj, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        return meta.events  # a client
    if hasattr(obj, "events") and hasattr(obj, "client"):
        return obj.events  # a boto3 Session
    if hasattr(obj, "register") and hasattr(obj, "create_client"):
        return obj  # a botocore Session (register is on the session itself)
    raise TypeError(f"expected a boto3/botocore client or session, got {obj!r}")
