"""``log_httpx_requests``: every request an httpx client makes becomes a record.

httpx is imported with this module, which ``threaded_logging`` imports only
when ``log_httpx_requests`` is first used.
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar, Union

import httpx

from ._fields import content_length, failure_fields, http_fields, log_request, resolve_level, resolve_logger

_MARK = "_threaded_logging_hooked"

ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)


class _Exchange:
    """One response on its way: logged once, when its body is read or it is closed."""

    def __init__(self, response: httpx.Response, logger: logging.Logger, level: int) -> None:
        self.response = response
        self.logger = logger
        self.level = level
        self.read_to_end = False
        self.logged = False

    def log(self) -> None:
        if self.logged:
            return
        self.logged = True
        try:
            response = self.response
            request = response.request
            size = response.num_bytes_downloaded if self.read_to_end else content_length(response.headers)
            log_request(self.logger, self.level, http_fields(
                request.method, str(request.url), response.status_code,
                response.elapsed.total_seconds(), size))
        except Exception:  # a hook must never break the caller's request
            pass


class _LoggedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, exchange: _Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner
        self._exchange.read_to_end = True

    def close(self) -> None:
        try:
            self._inner.close()  # sets response.elapsed
        finally:
            self._exchange.log()


class _LoggedAsyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, exchange: _Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk
        self._exchange.read_to_end = True

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()  # sets response.elapsed
        finally:
            self._exchange.log()


def _failed(logger: logging.Logger, level: int, request: httpx.Request, started: float,
            exc: httpx.TransportError) -> None:
    try:
        failed = exc.request  # the hop that failed, after redirects
    except RuntimeError:
        failed = request
    log_request(logger, level, failure_fields(failed.method, str(failed.url), time.monotonic() - started, exc))


def log_httpx_requests(
    client: ClientT,
    logger: Union[str, logging.Logger] = "threaded_logging.httpx",
    level: Union[int, str] = logging.INFO,
) -> ClientT:
    """Log every request ``client`` makes: one record per response.

    Works for :class:`httpx.Client` and :class:`httpx.AsyncClient`. A
    response event hook records ``method``, ``host``, ``path``, ``status``,
    ``duration`` (httpx's ``response.elapsed``: until the body was read or
    the response closed, in seconds), ``size`` (body bytes received, before
    decompression; for a streamed response closed before its end, the
    Content-Length) and ``error`` (status >= 400), once the response is
    read or closed. Requests that get no response (connection refused,
    timeouts, any :class:`httpx.TransportError`) are recorded by a wrapper
    around ``client.send`` with ``status`` None, ``error`` True and
    ``error_detail`` the exception; then the exception propagates as
    before. Each redirect hop is a record. Registering twice changes
    nothing. Query strings, headers and bodies are never logged.

    Args:
        client: an ``httpx.Client`` or ``httpx.AsyncClient``.
        logger: the logger's name, or a Logger (default
            ``"threaded_logging.httpx"``).
        level: the records' level, a number or a name (default INFO).

    Returns:
        The same client.

    Threads:
        Records are made on the caller's thread (in the event loop for an
        ``AsyncClient``): building one is a few dictionary operations, and
        with a threaded handler nothing waits on I/O.
    """
    if getattr(client, _MARK, False):
        return client
    target = resolve_logger(logger)
    lvl = resolve_level(level)
    if isinstance(client, httpx.AsyncClient):
        _hook_async(client, target, lvl)
    elif isinstance(client, httpx.Client):
        _hook_sync(client, target, lvl)
    else:
        raise TypeError(f"client must be an httpx.Client or httpx.AsyncClient, got {client!r}")
    setattr(client, _MARK, True)
    return client


def _hook_sync(client: httpx.Client, logger: logging.Logger, level: int) -> None:
    def on_response(response: httpx.Response) -> None:
        stream = response.stream
        if isinstance(stream, httpx.SyncByteStream):
            response.stream = _LoggedStream(stream, _Exchange(response, logger, level))

    original_send: Callable[..., httpx.Response] = client.send

    def send(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        started = time.monotonic()
        try:
            return original_send(request, **kwargs)
        except httpx.TransportError as exc:
            _failed(logger, level, request, started, exc)
            raise

    # first, so the response is logged even when a later hook of the
    # application raises (httpx then closes the response)
    client.event_hooks["response"].insert(0, on_response)
    client.send = send  # type: ignore[method-assign]


def _hook_async(client: httpx.AsyncClient, logger: logging.Logger, level: int) -> None:
    async def on_response(response: httpx.Response) -> None:
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            response.stream = _LoggedAsyncStream(stream, _Exchange(response, logger, level))

    original_send: Callable[..., Any] = client.send

    async def send(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        started = time.monotonic()
        try:
            response: httpx.Response = await original_send(request, **kwargs)
            return response
        except httpx.TransportError as exc:
            _failed(logger, level, request, started, exc)
            raise

    client.event_hooks["response"].insert(0, on_response)
    client.send = send  # type: ignore[method-assign]
