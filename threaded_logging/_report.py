"""Rate-limited diagnostics on stderr: the worker's only channel.

The worker never reports through :mod:`logging`: a record about a failed send
would be queued behind the records that cannot be sent, or loop back into the
handler. Messages with the same key are printed at most once per interval; the
next one says how many were held back.
"""

from __future__ import annotations

import sys
import threading
import time

#: Seconds between two lines with the same key.
DEFAULT_INTERVAL_S = 60.0


class Reporter:
    """Prints ``threaded_logging: <source>: <message>`` lines to stderr."""

    def __init__(self, source: str, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.source = source
        self._interval_s = interval_s
        self._lock = threading.Lock()  # guards: _last, _held
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, key: str, message: str, *, force: bool = False) -> bool:
        """Print ``message`` unless a line with ``key`` was printed recently.

        Returns:
            True when the line was printed.
        """
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if not force and last is not None and now - last < self._interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
        suffix = f" ({held} similar message(s) held back)" if held else ""
        write_stderr(f"threaded_logging: {self.source}: {message}{suffix}\n")
        return True


def write_stderr(text: str) -> None:
    """Write to stderr, tolerating interpreter shutdown and closed streams."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(text)
        stream.flush()
    except Exception:  # stderr closed or replaced during shutdown: nowhere left to report
        pass
