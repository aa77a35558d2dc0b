"""ThreadedTimer: the daemon thread that drives a handler's ``timeout()``."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Protocol, Set

from ._report import Reporter

#: Idents of every live worker thread. Records created on one of them come
#: from the sending machinery itself and are never fed back into a handler.
WORKER_IDENTS: Set[int] = set()


class _HasTimeout(Protocol):
    def timeout(self) -> None: ...


class ThreadedTimer(threading.Thread):
    """Call ``handler.timeout()`` every ``interval`` ms, or sooner when woken.

    Camelot's timer, kept compatible: any object with a ``timeout()`` method
    can be driven. An exception from ``timeout()`` is reported on stderr and
    the timer keeps going. After :meth:`stop` it calls ``timeout()`` once more
    so the handler can drain.

    Args:
        interval: milliseconds between two calls.
        handler: the object whose ``timeout()`` is called.
        name: the thread's name (default ``threaded_logging.ThreadedTimer``).

    Threads:
        ``start``, ``wake`` and ``stop`` are called from any thread; ``wake``
        never blocks; ``stop`` blocks up to its ``timeout``. ``timeout()``
        runs on this thread only.
    """

    def __init__(self, interval: float, handler: _HasTimeout, name: Optional[str] = None) -> None:
        super().__init__(name=name or "threaded_logging.ThreadedTimer", daemon=True)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise ValueError(f"interval must be a positive number of milliseconds, got {interval!r}")
        self._interval_s = interval / 1000.0
        self.handler = handler
        self._wake = threading.Event()
        self._stop_event = threading.Event()
        #: Where an exception from ``timeout()`` is reported (rate-limited).
        self.report = Reporter(self.name)
        #: Called on this thread once it is done, after the last ``timeout()``.
        self.on_exit: Optional[Callable[[], None]] = None

    @property
    def interval(self) -> float:
        """Milliseconds between two calls."""
        return self._interval_s * 1000.0

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop_event.is_set()

    def wake(self) -> None:
        """Run ``timeout()`` now instead of at the end of the interval."""
        self._wake.set()

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Stop after one last ``timeout()`` call; wait up to ``timeout`` seconds.

        Returns:
            True when the thread has ended.
        """
        self._stop_event.set()
        self._wake.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        return not self.is_alive()

    def pause(self, seconds: float) -> None:
        """Sleep on this thread, cut short when :meth:`stop` is called."""
        if seconds <= 0:
            return
        if self._stop_event.is_set():
            time.sleep(seconds)
        else:
            self._stop_event.wait(seconds)

    def run(self) -> None:
        ident = threading.get_ident()
        WORKER_IDENTS.add(ident)
        try:
            stop = self._stop_event
            while not stop.is_set():
                self._wake.wait(self._interval_s)
                self._wake.clear()
                if stop.is_set():
                    break
                self._cycle()
            self._cycle()
            if self.on_exit is not None:
                self.on_exit()
        finally:
            WORKER_IDENTS.discard(ident)

    def _cycle(self) -> None:
        try:
            self.handler.timeout()
        except Exception as exc:  # one bad cycle must not end shipping
            self.report("timeout", f"{self.name}: timeout() raised {exc!r}")
