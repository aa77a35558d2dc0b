"""A WSGI application for the gunicorn tests: one record per request, its pid as the body."""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Iterable

log = logging.getLogger("app")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Log ``request <query string>`` and answer with this worker's pid."""
    log.info("request %s", environ.get("QUERY_STRING", ""))
    time.sleep(0.002)  # a busy worker leaves the next connection to another one
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
