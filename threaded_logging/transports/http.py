"""ThreadedHttpHandler: records to an HTTP endpoint, on the timer thread."""

from __future__ import annotations

import gzip
import hashlib
import ssl
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qsl, urlsplit, urlunsplit

# Imported with the handler, not on first send: an import holds the GIL for a
# tenth of a second, which the timer thread would take from the application.
import requests
from requests.adapters import HTTPAdapter

from .._handler import ThreadedHandler
from .._options import choice, number, whole
from .._retry import Outcome
from .._schema import Schema
from .._snapshot import Item
from .._transport import Answer, Request, Transport
from ..formats import FORMAT_OPTIONS, FORMATS, Format, format_class
from ._encode import encode_form

#: Default bytes per request body before compression.
DEFAULT_MAX_BATCH_BYTES = 1024 * 1024
_FINAL_ERRORS = (requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                 requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)


class HttpTransport(Transport):
    """GET one urlencoded record per request, or POST bodies of a :class:`Format`.

    Args:
        endpoint: the full URL (``scheme://host/path?query``).
        method: ``"GET"`` or ``"POST"``.
        body_format: the POST body's format (a :class:`~threaded_logging.formats.Format`).
        compress_level: gzip level for POST bodies (0: none).
        timeout_s: seconds per request.
        max_batch_bytes: body bytes per request before compression.
        max_batch_records: records per request at most (None: no extra limit).
        headers: extra request headers.
        credentials: ``(user, password)`` for basic auth, or None.
        context: an SSL context for https, or None.
        verify: as in requests.
    """

    def __init__(self, endpoint: str, method: str, body_format: Format, *, compress_level: int = 0,
                 timeout_s: float = 10.0, max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
                 max_batch_records: Optional[int] = None, headers: Optional[Mapping[str, str]] = None,
                 credentials: Optional[Tuple[str, str]] = None, context: Optional[ssl.SSLContext] = None,
                 verify: Union[bool, str] = True) -> None:
        self._format = body_format
        super().__init__()
        self.endpoint = endpoint
        self.method = method
        self.compress_level = compress_level
        self.timeout_s = timeout_s
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_records = max_batch_records
        self._headers = {**body_format.headers(), **dict(headers or {})}
        self._credentials = credentials
        self._context = context
        self._verify = verify
        self._send_verify: Union[bool, str] = verify
        self._session: Optional[requests.Session] = None

    @property
    def schema(self) -> Schema:
        return self._format.schema

    @schema.setter
    def schema(self, value: Schema) -> None:
        self._format.schema = value

    def describe(self) -> str:
        return f"{self.method} {_without_secrets(self.endpoint)}"

    def identity(self) -> str:
        digest = hashlib.sha1(self.endpoint.encode("utf-8")).hexdigest()[:12]
        return f"{self.describe()}#{digest}"

    def _get_session(self) -> "requests.Session":
        session = self._session
        if session is None:
            session = self._session = _make_session(self._context)
            session.headers.update(self._headers)
            # The environment (proxies, ~/.netrc, REQUESTS_CA_BUNDLE) is read
            # once per session, not per request as requests does: each lookup
            # is a system call, and every system call on the timer thread
            # hands the GIL to a busy app for up to a switch interval (5 ms).
            settings = session.merge_environment_settings(self.endpoint, {}, None, self._verify, None)
            session.proxies = settings["proxies"]
            session.auth = self._credentials or requests.utils.get_netrc_auth(self.endpoint)
            session.trust_env = False
            verify = settings["verify"]
            self._send_verify = verify if self.endpoint.startswith("https:") and verify is not None else True
        return session

    def encode(self, items: Sequence[Item]) -> List[Request]:
        if self.method == "GET":
            return [Request([item], encode_form(item, self.schema)) for item in items]
        return self._format.encode(items, self.max_batch_bytes, self.max_batch_records)

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        session = self._get_session()
        timeout = self.timeout_s if timeout_s is None else max(0.05, min(self.timeout_s, timeout_s))
        # verify is passed per request: requests lets REQUESTS_CA_BUNDLE
        # override a session's verify, which would ignore the CA given here
        # (the environment's CA applies only when verify is True, read once).
        if self.method == "GET":
            separator = "&" if "?" in self.endpoint else "?"
            url = self.endpoint + separator + request.body.decode("ascii")
            response = session.get(url, timeout=timeout, verify=self._send_verify)
        else:
            body: bytes = request.body
            headers = {"Content-Type": self._format.content_type}
            if self.compress_level:
                body = gzip.compress(body, self.compress_level, mtime=0)
                headers["Content-Encoding"] = "gzip"
            response = session.post(self.endpoint, data=body, headers=headers, timeout=timeout, verify=self._send_verify)
        answer = self._format.read_answer(response.status_code, response.headers, response.content,
                                          len(request.items))
        if answer.error is not None:
            answer = _with_error(answer, f"{answer.error} from {self.describe()}")
        return answer

    def classify_exception(self, exc: BaseException) -> Outcome:
        if isinstance(exc, _FINAL_ERRORS):
            return Outcome.FINAL
        return super().classify_exception(exc)

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def after_fork(self) -> None:
        # The parent's pooled sockets are the parent's: never write to them.
        self._session = None


def _without_secrets(url: str) -> str:
    """The URL with its query values and user info masked: tokens often travel there."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(f"{name}=***" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _with_error(answer: Answer, error: str) -> Answer:
    return Answer(answer.delivered, answer.retry, answer.failed, answer.duplicates,
                  answer.retry_after_s, answer.split, error)


class ThreadedHttpHandler(ThreadedHandler):
    """Ship records to an HTTP endpoint from the timer thread.

    The positional signature is the stdlib :class:`logging.handlers.HTTPHandler`'s
    (and Camelot's). ``method="GET"`` sends one request per record with the
    stdlib's urlencoded record dict, so an endpoint written for
    ``HTTPHandler`` keeps working (``msg`` holds the formatted message). With
    ``method="POST"`` records are batched in the chosen ``format``.

    Args:
        host: ``"host"`` or ``"host:port"`` (``"[::1]:8514"`` for IPv6), no scheme.
        url: the path, e.g. ``"/log"``; may carry a query string.
        method: ``"GET"`` (default) or ``"POST"``.
        secure: use https (default False). Certificates are verified.
        credentials: ``(user, password)`` sent as basic auth. Refused over
            plain http unless ``allow_insecure_credentials=True``.
        context: an :class:`ssl.SSLContext` for https (e.g. with your CA).
        format: POST body: ``"ndjson"`` (default, one JSON object per line),
            ``"json"`` (an array), ``"form"`` (stdlib-compatible, one record
            per request), or a destination's own protocol (see
            ``threaded_logging.formats``).
        compress: gzip POST bodies: True (level 6) or a level 1-9 (default False).
        headers: dict of extra request headers (default none).
        timeout: seconds per request (default 10).
        max_batch_bytes: body bytes per request before compression (default
            1 MiB); a single larger record is truncated with a ``truncated``
            field instead of being dropped.
        max_batch_records: records per request at most (default: no limit
            beyond ``batch_size``).
        verify: True (default), False, or a CA bundle path, as in requests.
        allow_insecure_credentials: permit credentials over plain http
            (default False).
        **options: the format's own options (``service_name``, ``index``...,
            refused by the formats they do not apply to) and the common
            options of :class:`ThreadedHandler`.

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
        max_batch_records: Optional[int] = None,
        verify: Union[bool, str, None] = None,
        allow_insecure_credentials: bool = False,
        **options: Any,
    ) -> None:
        method = choice("method", str(method).upper(), ("GET", "POST"))
        _check_destination(host, url, credentials, secure, allow_insecure_credentials, context, verify)
        level = 6 if compress is True else whole("compress", compress or 0, minimum=0, maximum=9)
        format_options = {key: options.pop(key) for key in list(options) if key in FORMAT_OPTIONS}
        body_format = format_class(choice("format", format, tuple(FORMATS)))(Schema(), **format_options)
        self.host = host
        self.url = url
        self.secure = bool(secure)
        self.body_format = format
        self.compress_level = level
        self.timeout_s = number("timeout", timeout, minimum=0.001)
        self.max_batch_bytes = whole("max_batch_bytes", max_batch_bytes, minimum=1024)
        self.max_batch_records = (None if max_batch_records is None
                                  else whole("max_batch_records", max_batch_records, minimum=1))
        endpoint = f"{'https' if secure else 'http'}://{host}{url}"
        transport = HttpTransport(
            endpoint, method, body_format, compress_level=level, timeout_s=self.timeout_s,
            max_batch_bytes=self.max_batch_bytes, max_batch_records=self.max_batch_records,
            headers=_check_headers(headers), credentials=_pair(credentials),
            context=context, verify=True if verify is None else verify,
        )
        self._http = transport
        super().__init__(transport=transport, **options)

    @property
    def method(self) -> str:
        """``"GET"`` or ``"POST"``; settable, as on the stdlib's ``HTTPHandler``
        (it applies to the next batch)."""
        return self._http.method

    @method.setter
    def method(self, value: str) -> None:
        self._http.method = choice("method", str(value).upper(), ("GET", "POST"))


def _check_destination(host: Any, url: Any, credentials: Any, secure: bool, allow_insecure: bool,
                       context: Any, verify: Any) -> None:
    if not isinstance(host, str):
        raise TypeError(f"host must be a string 'host' or 'host:port', got {host!r}")
    if not host or "://" in host or "/" in host:
        raise ValueError(f"host must be 'host' or 'host:port' without scheme or path, got {host!r}")
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, got {url!r}")
    if not url.startswith("/"):
        raise ValueError(f"url must be a path starting with '/', got {url!r}")
    if credentials is not None:
        if not (isinstance(credentials, (tuple, list)) and len(credentials) == 2):
            raise TypeError("credentials must be a (user, password) pair")
        if not secure and not allow_insecure:
            raise ValueError(
                "credentials over plain http would expose the password; use secure=True "
                "or pass allow_insecure_credentials=True"
            )
    if context is not None and not isinstance(context, ssl.SSLContext):
        raise TypeError(f"context must be an ssl.SSLContext, got {context!r}")
    if verify is not None and not isinstance(verify, (bool, str)):
        raise TypeError(f"verify must be True, False or a CA bundle path, got {verify!r}")


def _pair(credentials: Optional[Sequence[str]]) -> Optional[Tuple[str, str]]:
    return None if credentials is None else (str(credentials[0]), str(credentials[1]))


def _check_headers(headers: Any) -> Dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in headers.items()):
        raise TypeError(f"headers must be a dict of strings, got {headers!r}")
    return dict(headers)


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
