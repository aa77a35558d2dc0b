"""boto (v2) request hooks: ``RequestLogHook``, ``RequestLogFormatter``, ``RequestLogger``.

boto calls ``hook.handle_request_data(request, response, error=False)`` after
every request made by a connection with ``conn.set_request_hook(hook)``, and
with ``error=True`` (the response may be None) once retries are exhausted.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import time
from typing import Any, Dict, Optional, Union
from urllib.parse import parse_qs, urlsplit

from ._fields import content_length, log_request, resolve_level, resolve_logger

try:  # a real subclass where boto imports; the interface is duck-typed anyway
    from boto.utils import RequestHook as _RequestHookBase
except Exception:  # boto is absent, or does not import (Python >= 3.12)
    _RequestHookBase = object


def _action(request: Any, method: str, path: str, query: str) -> str:
    params = getattr(request, "params", None)
    if isinstance(params, dict) and params.get("Action"):
        return str(params["Action"])
    found = parse_qs(query).get("Action")
    if found:
        return found[0]
    return f"{method} {path}"


def _size(response: Any) -> Optional[int]:
    if response is None:
        return None
    getheader = getattr(response, "getheader", None)
    if getheader is not None:
        size = content_length({"Content-Length": getheader("Content-Length")})
        if size is not None:
            return size
    cached = getattr(response, "_cached_response", None)  # boto's HTTPResponse keeps the body it read
    return len(cached) if isinstance(cached, (bytes, str)) else None


def request_fields(request: Any, response: Any, error: bool) -> Dict[str, Any]:
    """The record fields for one boto request."""
    method = str(getattr(request, "method", "") or "")
    raw_path = str(getattr(request, "path", "") or "/")
    parts = urlsplit(raw_path)
    path = parts.path or "/"
    status = getattr(response, "status", None) if response is not None else None
    started = getattr(request, "start_time", None)
    duration = None
    if isinstance(started, datetime.datetime):
        duration = (datetime.datetime.now(started.tzinfo) - started).total_seconds()
    return {
        "action": _action(request, method, path, parts.query),
        "method": method,
        "host": getattr(request, "host", None),
        "path": path,
        "status": status if isinstance(status, int) else None,
        "duration": duration,
        "size": _size(response),
        "error": bool(error) or not isinstance(status, int) or status >= 400,
    }


class RequestLogHook(_RequestHookBase):  # type: ignore[misc]
    """boto's ``RequestHook``: one LogRecord per request.

    ``conn.set_request_hook(RequestLogHook())``, then every request of that
    connection logs a record with the extra fields ``action`` (the ``Action``
    parameter, else method and path), ``method``, ``host``, ``path``,
    ``status``, ``duration`` (seconds since ``request.start_time``), ``size``
    (response bytes) and ``error``. ``error=True`` with no response is a
    record, not a crash. Parameters (signatures, keys) are never logged.

    Args:
        logger: logger name or Logger (default ``"threaded_logging.requests"``).
        level: level of the records (default INFO).

    Threads:
        Runs on the thread that made the request; it only creates a record,
        so with a threaded handler it never blocks the request.
    """

    def __init__(self, logger: Union[str, logging.Logger] = "threaded_logging.requests",
                 level: Union[int, str] = logging.INFO) -> None:
        self.logger = resolve_logger(logger)
        self.level = resolve_level(level)

    def handle_request_data(self, request: Any, response: Any, error: bool = False) -> None:
        try:
            log_request(self.logger, self.level, request_fields(request, response, error))
        except Exception:  # a hook must never break the caller's request
            pass


class RequestLogFormatter(logging.Formatter):
    """Render request records as boto's tutorial line.

    ``'2014-02-26 21:38:27', '200', '0.791542', '592', 'DescribeVolumes'``:
    time, status, duration in seconds, response size, action. Unknown values
    are empty. A record without request fields shows its message as the
    action.

    Args:
        fmt, datefmt, style, validate, defaults: ignored; accepted so that
            ``dictConfig`` and ``fileConfig`` can build it from ``class``.
        utc: timestamps in UTC instead of local time (default False, as boto).
    """

    def __init__(self, fmt: Any = None, datefmt: Any = None, style: str = "%", validate: bool = True,
                 *, defaults: Any = None, utc: bool = False) -> None:
        super().__init__()
        self.utc = bool(utc)

    def format(self, record: logging.LogRecord) -> str:
        moment = time.gmtime(record.created) if self.utc else time.localtime(record.created)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", moment)
        attrs = record.__dict__
        duration = attrs.get("duration")
        values = [
            stamp,
            attrs.get("status"),
            repr(round(duration, 6)) if isinstance(duration, float) else duration,
            attrs.get("size"),
            attrs.get("action") if "action" in attrs else record.getMessage(),
        ]
        return ", ".join(f"'{'' if v is None else v}'" for v in values)


_counter = itertools.count(1)


class RequestLogger(RequestLogHook):
    """Non-blocking replacement for ``boto.requestlog.RequestLogger``.

    ``conn.set_request_hook(RequestLogger("request_log.csv"))`` writes one
    tutorial line per request through a
    :class:`~threaded_logging.ThreadedFileHandler`: no hard-coded /tmp path,
    no non-daemon thread, no queue that blocks the caller when full.

    Args:
        filename: the CSV file (default ``"request_log.csv"``), appended to.
        utc: timestamps in UTC (default False: local time, as boto).
        **options: options of :class:`~threaded_logging.ThreadedFileHandler`.
    """

    def __init__(self, filename: str = "request_log.csv", utc: bool = False, **options: Any) -> None:
        from ..transports.file import ThreadedFileHandler

        logger = logging.getLogger(f"threaded_logging.requestlog.{next(_counter)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        self.handler = ThreadedFileHandler(filename, **options)
        self.handler.setFormatter(RequestLogFormatter(utc=utc))
        logger.addHandler(self.handler)
        super().__init__(logger, logging.INFO)

    def close(self) -> None:
        """Flush and close the file."""
        self.logger.removeHandler(self.handler)
        self.handler.close()
