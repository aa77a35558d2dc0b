"""Helpers shared by the test suites: bounded waits and recording targets."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, List


#: Added to every upper time bound: a loaded 2-core machine runs late.
SLACK_S = 2.0


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class ListHandler(logging.Handler):
    """A stdlib handler that keeps the formatted messages (and records)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: List[logging.LogRecord] = []
        self.messages: List[str] = []
        self.threads: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.messages.append(record.getMessage())
        self.threads.append(threading.current_thread().name)


class GatedHandler(ListHandler):
    """A target whose ``emit`` blocks until ``gate`` is set (a stuck destination)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        self.gate.wait(30)
        super().emit(record)


class SlowHandler(ListHandler):
    """A target that takes ``delay`` seconds per record."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def emit(self, record: logging.LogRecord) -> None:
        time.sleep(self.delay)
        super().emit(record)


def log_from_threads(logger: logging.Logger, threads: int, per_thread: int) -> None:
    """Log ``"<thread>:<i>"`` from several threads at once; wait for all of them."""

    def work(t: int) -> None:
        for i in range(per_thread):
            logger.info("%d:%d", t, i)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)


def make_logger(name: str, handler: logging.Handler) -> logging.Logger:
    """A non-propagating DEBUG logger with only ``handler`` attached."""
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger
