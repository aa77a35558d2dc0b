"""ThreadedHttpHandler: records to an HTTP endpoint, on the timer thread."""

from __future__ import annotations

import gzip
import ssl
from typing import Any, List, Mapping, Optional, Tuple, Union

# Imported with the handler, not on first send: an import holds the GIL for a
# tenth of a second, which the timer thread would take from the application.
import requests
from requests.adapters import HTTPAdapter

from .._snapshot import Item
from .._delivery import Attempt, Chunk
from .._handler import ThreadedHandler
from .._retry import Outcome, classify_status, parse_retry_after
from ..formats import format_class
from ._encode import encode_form

FORMATS = {
    "ndjson": "application/x-ndjson",
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
}

#: Default bytes per request body before compression.
DEFAULT_MAX_BATCH_BYTES = 1024 * 1024


class ThreadedHttpHandler(ThreadedHandler):
    """Ship records to an HTTP endpoint from the timer thread.

    The positional signature is the stdlib :class:`logging.handlers.HTTPHandler`'s
    (and Camelot's). ``method="GET"`` sends one request per record with the
    stdlib's urlencoded record dict, so an endpoint written for
    ``HTTPHandler`` keeps working (``msg`` holds the formatted message). With
    ``method="POST"`` records are batched in the JSON record schema.

    Args:
        host: ``"host"`` or ``"host:port"`` (``"[::1]:8514"`` for IPv6), no scheme.
        url: the path, e.g. ``"/log"``; may carry a query string.
        method: ``"GET"`` (default) or ``"POST"``.
        secure: use https (default False). Certificates are verified.
        credentials: ``(user, password)`` sent as basic auth. Refused over
            plain http unless ``allow_insecure_credentials=True``.
        context: an :class:`ssl.SSLContext` for https (e.g. with your CA).
        format: POST body: ``"ndjson"`` (default, one JSON object per line),
            ``"json"`` (an array) or ``"form"`` (stdlib-compatible, one record
            per request).
        compress: gzip POST bodies: True (level 6) or a level 1-9 (default False).
        headers: dict of extra request headers (default none).
        timeout: seconds per request (default 10).
        max_batch_bytes: body bytes per request before compression (default
            1 MiB); a single larger record is truncated with a ``truncated``
            field instead of being dropped.
        verify: True (default), False, or a CA bundle path, as in requests.
        allow_insecure_credentials: permit credentials over plain http
            (default False).
        **options: the common options of :class:`ThreadedHandler`.

    Threads:
        ``emit`` never touches the network. The requests session is created,
        used and closed on the timer thread only; connections are kept alive
        between batches. A request waits at most ``timeout`` seconds, and
        during ``close()`` no longer than the shutdown deadline.
    """

    def __init__(
        self,
        host: str,
        url: str,
        method: str = "GET",
        secure: bool = False,
        credentials: Optional[Tuple[str, str]] = None,
        context: Optional[ssl.SSLContext] = None,
        *,
        format: str = "ndjson",
        compress: Union[bool, int] = False,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float = 10.0,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        verify: Union[bool, str, None] = None,
        allow_insecure_credentials: bool = False,
        **options: Any,
    ) -> None:
        if not isinstance(host, str) or not host or "://" in host or "/" in host:
            raise ValueError(f"host must be 'host' or 'host:port' without scheme or path, got {host!r}")
        if not isinstance(url, str) or not url.startswith("/"):
            raise ValueError(f"url must be a path starting with '/', got {url!r}")
        method = str(method).upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"method must be 'GET' or 'POST', got {method!r}")
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
        if credentials is not None:
            if not (isinstance(credentials, (tuple, list)) and len(credentials) == 2):
                raise TypeError("credentials must be a (user, password) pair")
            if not secure and not allow_insecure_credentials:
                raise ValueError(
                    "credentials over plain http would expose the password; use secure=True "
                    "or pass allow_insecure_credentials=True"
                )
        if context is not None and not isinstance(context, ssl.SSLContext):
            raise TypeError(f"context must be an ssl.SSLContext, got {context!r}")
        level = 6 if compress is True else int(compress or 0)
        if not 0 <= level <= 9:
            raise ValueError(f"compress must be True, False or a level 1-9, got {compress!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if isinstance(max_batch_bytes, bool) or not isinstance(max_batch_bytes, int) or max_batch_bytes < 1024:
            raise ValueError(f"max_batch_bytes must be a whole number >= 1024, got {max_batch_bytes!r}")
        if verify is not None and not isinstance(verify, (bool, str)):
            raise TypeError(f"verify must be True, False or a CA bundle path, got {verify!r}")
        self.host = host
        self.url = url
        self.method = method
        self.secure = bool(secure)
        self.body_format = format
        self.compress_level = level
        self.timeout_s = float(timeout)
        self.max_batch_bytes = max_batch_bytes
        self._credentials = tuple(credentials) if credentials is not None else None
        self._context = context
        self._verify: Union[bool, str] = True if verify is None else verify
        self._headers = dict(headers or {})
        self._endpoint = f"{'https' if secure else 'http'}://{host}{url}"
        self._session: Optional[requests.Session] = None
        super().__init__(**options)
        self._format = format_class(format)(self._schema)

    def describe(self) -> str:
        return f"{self.method} {self._endpoint}"

    # -- timer thread ---------------------------------------------------------

    def _get_session(self) -> "requests.Session":
        session = self._session
        if session is None:
            session = self._session = _make_session(self._context)
            session.headers.update(self._headers)
            if self._credentials is not None:
                session.auth = self._credentials  # type: ignore[assignment]
        return session

    def prepare(self, items: List[Item]) -> List[Chunk]:
        if self.method == "GET" or self.body_format == "form":
            return [Chunk([item], [encode_form(item, self._schema)]) for item in items]
        return [Chunk(list(request.items), [request.body]) for request in self._format.encode(items, self.max_batch_bytes, None)]

    def _body(self, payloads: List[bytes]) -> bytes:
        return payloads[0]

    def send(self, chunk: Chunk, timeout_s: Optional[float]) -> Attempt:
        session = self._get_session()
        timeout = self.timeout_s if timeout_s is None else max(0.05, min(self.timeout_s, timeout_s))
        payloads = chunk.payloads or []
        if self.method == "GET":
            separator = "&" if "?" in self.url else "?"
            response = session.get(
                self._endpoint + separator + payloads[0].decode("ascii"),
                timeout=timeout, verify=self._verify,
            )
        else:
            body = self._body(payloads)
            headers = {"Content-Type": FORMATS[self.body_format]}
            if self.compress_level:
                body = gzip.compress(body, self.compress_level, mtime=0)
                headers["Content-Encoding"] = "gzip"
            # verify is passed per request: requests lets REQUESTS_CA_BUNDLE
            # override a session's verify, which would ignore the CA given here.
            response = session.post(
                self._endpoint, data=body, headers=headers, timeout=timeout, verify=self._verify
            )
        status = response.status_code
        outcome = classify_status(status)
        if outcome is Outcome.DELIVERED:
            return Attempt(outcome)
        reason = (response.text or response.reason or "")[:200].strip()
        return Attempt(
            outcome,
            error=f"HTTP {status} from {self.describe()}: {reason}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def classify_exception(self, exc: BaseException) -> Outcome:
        if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                            requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
            return Outcome.FINAL
        return super().classify_exception(exc)

    def close_transport(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def reset_transport(self) -> None:
        # The parent's pooled sockets are the parent's: never write to them.
        self._session = None


def _make_session(context: Optional[ssl.SSLContext]) -> "requests.Session":
    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            if context is not None:
                kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    adapter = _Adapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
