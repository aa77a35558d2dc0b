"""``log_requests``: every request a requests Session makes becomes a record."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Union

from ._fields import content_length, failure_fields, http_fields, log_request, resolve_level, resolve_logger

if TYPE_CHECKING:
    import requests

_MARK = "_threaded_logging_hooked"


def _size(response: "requests.Response") -> Any:
    consumed = getattr(response, "_content", False)
    if isinstance(consumed, (bytes, bytearray)):
        return len(consumed)  # already read: the exact size, no extra I/O
    return content_length(response.headers)  # streamed: never read it here


def response_fields(response: "requests.Response") -> Dict[str, Any]:
    """The record fields for one response (one per redirect hop)."""
    request = response.request
    return http_fields(str(request.method or "GET"), str(request.url or response.url),
                       response.status_code, response.elapsed.total_seconds(), _size(response))


def log_requests(
    session: "requests.Session",
    logger: Union[str, logging.Logger] = "threaded_logging.requests",
    level: Union[int, str] = logging.INFO,
) -> "requests.Session":
    """Log every request ``session`` makes: one record per response.

    A response hook records ``method``, ``host``, ``path``, ``status``,
    ``duration`` (``response.elapsed``, seconds), ``size`` (bytes, without
    reading a streamed body) and ``error`` (status >= 400). Requests that get
    no response (connection refused, timeouts) are recorded by a wrapper
    around ``session.send`` with ``status`` None, ``error`` True and
    ``error_detail`` the exception; then the exception propagates as before. Each redirect hop is a record.
    Registering twice changes nothing. Query strings, headers and bodies are
    never logged.

    Returns:
        The same session.
    """
    if getattr(session, _MARK, False):
        return session
    target = resolve_logger(logger)
    lvl = resolve_level(level)

    def on_response(response: "requests.Response", *args: Any, **kwargs: Any) -> None:
        try:
            log_request(target, lvl, response_fields(response))
        except Exception:  # a hook must never break the caller's request
            pass

    original_send: Callable[..., Any] = session.send

    def send(request: "requests.PreparedRequest", **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return original_send(request, **kwargs)
        except Exception as exc:
            log_request(target, lvl, failure_fields(
                str(request.method or "GET"), str(request.url), time.monotonic() - started, exc))
            raise

    session.hooks.setdefault("response", []).append(on_response)
    session.send = send  # type: ignore[method-assign]
    setattr(session, _MARK, True)
    return session
