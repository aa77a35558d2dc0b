"""Fixtures for every suite: logging state restored, no leaked worker threads."""

from __future__ import annotations

import logging
import threading
from typing import Iterator, List

import pytest

from threaded_logging._handler import ThreadedHandler, close_all

from .helpers import GatedHandler, wait_for

_created: List[ThreadedHandler] = []
_original_init = ThreadedHandler.__init__


def _tracking_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    _original_init(self, *args, **kwargs)
    _created.append(self)


@pytest.fixture(autouse=True)
def _isolate_logging() -> Iterator[None]:
    """Restore the logging tree and close every handler a test created."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_loggers = dict(logging.Logger.manager.loggerDict)
    saved_states = {name: (lg.handlers[:], lg.level, lg.propagate, lg.disabled, lg.filters[:])
                    for name, lg in saved_loggers.items() if isinstance(lg, logging.Logger)}
    saved_disable = logging.root.manager.disable
    ThreadedHandler.__init__ = _tracking_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        ThreadedHandler.__init__ = _original_init  # type: ignore[method-assign]
        handlers, _created[:] = _created[:], []
        for handler in handlers:
            handler.options = handler.options.__class__(
                **{**handler.options.__dict__, "shutdown_timeout_s": 0.5}
            )
        close_all(handlers)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name in set(logging.Logger.manager.loggerDict) - set(saved_states):  # new, or a placeholder before
            logger = logging.Logger.manager.loggerDict[name]
            if isinstance(logger, logging.Logger):  # a later test may use the same name afresh
                logger.handlers[:], logger.filters[:] = [], []
                logger.propagate, logger.disabled = True, False
                logger.setLevel(logging.NOTSET)
        for name, (handlers_, level, propagate, disabled, filters) in saved_states.items():
            logger = logging.getLogger(name)  # dictConfig may have disabled or re-levelled it
            logger.handlers[:], logger.filters[:] = handlers_, filters
            logger.propagate, logger.disabled = propagate, disabled
            logger.setLevel(level)
        logging.disable(saved_disable)
        leaked = wait_for(lambda: not _worker_threads(), timeout=5)
        assert leaked, f"threaded_logging threads leaked: {_worker_threads()}"


@pytest.fixture
def stuck_target() -> Iterator[GatedHandler]:
    """A stdlib handler stuck in ``emit`` until the test sets ``gate`` (set at the end in any case)."""
    target = GatedHandler()
    try:
        yield target
    finally:
        target.gate.set()


def _worker_threads() -> List[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("threaded_logging.") and t.is_alive()
    ]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a loopback port: ``http://127.0.0.1:PORT``."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, so nothing reads a real AWS profile."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
