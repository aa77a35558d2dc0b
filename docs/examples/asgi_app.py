"""A plain ASGI application that logs from its coroutines.

Run it under uvicorn with the log configuration beside it::

    uvicorn asgi_app:app --workers 2 --log-config uvicorn_log_config.json

A logging call in a coroutine returns at once: the threaded handler only
queues the record, and its own thread does the sending, so a slow or stalled
collector never holds up the event loop. The same goes for any ASGI
framework (Starlette, FastAPI, Django's ASGI handler).
"""

import asyncio
import logging
import os

from threaded_logging import ThreadedHandler

log = logging.getLogger("app")


def flush_logging(timeout: float = 5.0) -> None:
    """Ship what the threaded handlers hold, waiting ``timeout`` seconds at most each."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, ThreadedHandler):
            handler.flush(timeout)


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            log.info("worker %d started", os.getpid())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            log.info("worker %d stopping", os.getpid())
            # uvicorn ends a worker by raising SIGTERM again once it has shut
            # down, so exit handlers do not run: ship what is queued now (in a
            # thread, so the loop goes on meanwhile).
            await asyncio.to_thread(flush_logging)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    log.info("request %s", scope["query_string"].decode())
    await asyncio.sleep(0.002)  # stands for the application's own awaits
    body = str(os.getpid()).encode()  # which worker answered
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
