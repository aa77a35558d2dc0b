"""Every way a process ends drains the threaded handlers: atexit, SIGTERM, multiprocessing workers.

* ``atexit``: every threaded handler closes, in parallel (``_handler.close_all``).
* SIGTERM (``docker stop``, Kubernetes, systemd): CPython's default ends the
  process without ``atexit``. When a handler is created on the main thread
  of a process that is not a multiprocessing child and SIGTERM's disposition
  is still the default, a handler is installed that closes every threaded
  handler together, then restores the default and sends SIGTERM again, so
  the exit status stays "killed by SIGTERM". An application's own handler is
  never replaced. ``handle_sigterm(False)`` or ``THREADED_LOGGING_SIGTERM=0``
  turns this off.
* multiprocessing workers end through ``os._exit`` after multiprocessing's
  own finalizers: a ``multiprocessing.util.Finalize`` closes the handlers
  there, within ``shutdown_timeout``. No SIGTERM handler is installed in a
  multiprocessing child (one inherited through fork is removed): a
  Python-level handler can hang ``Pool.terminate()``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable, Optional

#: Seconds the SIGTERM handler waits beyond the largest ``shutdown_timeout``.
MARGIN_S = 1.0
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

_enabled = os.environ.get("THREADED_LOGGING_SIGTERM", "1").strip().lower() not in ("0", "false", "no", "off")
_lock = threading.Lock()  # guards: _installed, _terminating, _mp_hooked, _finalizer
_installed = False
_terminating = False
_mp_hooked = False
_finalizer: Any = None
_closed = threading.Event()  # set once the SIGTERM closing is done
_masked = False  # SIGTERM is blocked in the forking thread, around a fork
#: Closes every live handler together; set by ``_handler`` (no import cycle).
close_all: Callable[[], None] = lambda: None
#: The largest ``shutdown_timeout`` among live handlers, in seconds.
longest_timeout: Callable[[], float] = lambda: 5.0


def handle_sigterm(enabled: bool = True) -> None:
    """Turn the SIGTERM handling on (default) or off, process-wide.

    Off removes the library's handler if it is installed and SIGTERM still
    goes to it; on installs it the next time a threaded handler is created
    (on the main thread, while SIGTERM's disposition is the default).
    """
    global _enabled, _installed
    with _lock:
        _enabled = bool(enabled)
        if not enabled and _installed:
            if signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _installed = False


def sigterm_installed() -> bool:
    """Whether the library's SIGTERM handler is in place now."""
    return signal.getsignal(signal.SIGTERM) is _on_sigterm


def on_handler_created() -> None:
    """A threaded handler was created: make sure this process's exit path drains it."""
    if _in_multiprocessing_child():
        _register_finalizer()
    elif _enabled and threading.current_thread() is threading.main_thread():
        _install()


def _install() -> None:
    global _installed
    with _lock:
        if _installed or not _enabled:
            return
        try:
            if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                return  # the application's own handler, or ignored: left untouched
            signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # not the main interpreter, or no SIGTERM here
            return
        _installed = True


def _on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    """Close every threaded handler, then die of SIGTERM as the default would.

    This runs on the main thread between two bytecodes, possibly while the
    interrupted code holds a buffer lock: the closing happens on another
    thread. The handler waits for it (with a deadline) unless the
    interrupted code is inside this library, which may hold a lock the
    closing needs: then it returns at once, and the closing thread sends
    SIGTERM again when it is done, which brings the main thread back here
    to die.
    """
    global _terminating
    if _closed.is_set():
        _die()
    if _terminating:
        return  # a second SIGTERM while closing: the first one's closing goes on
    _terminating = True
    wait = not _inside_library(frame)
    closer = threading.Thread(target=_close, args=(not wait,), name="threaded_logging.sigterm", daemon=True)
    closer.start()
    if wait:
        closer.join(longest_timeout() + MARGIN_S)
        _die()


def _close(resend: bool) -> None:
    try:
        close_all()
    finally:
        _closed.set()
        if resend:
            os.kill(os.getpid(), signal.SIGTERM)


def _die() -> None:
    """Restore SIGTERM's default and send it again (main thread): the exit status says SIGTERM."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except Exception:  # stderr closed: nothing left to flush
        pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _inside_library(frame: Optional[FrameType]) -> bool:
    while frame is not None:
        if os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_PACKAGE_DIR):
            return True
        frame = frame.f_back
    return False


# -- multiprocessing ---------------------------------------------------------------


def _in_multiprocessing_child() -> bool:
    process = sys.modules.get("multiprocessing.process")
    return process is not None and getattr(process, "_parent_process", None) is not None


def _register_finalizer() -> None:
    """In a multiprocessing child: drain the handlers on its exit path (once)."""
    global _finalizer
    with _lock:
        if _finalizer is not None:
            return
        from multiprocessing import util

        # Priority >= 0 runs first, before multiprocessing joins children.
        _finalizer = util.Finalize(None, _drain, exitpriority=100)


def _drain() -> None:
    close_all()


def _in_forked_multiprocessing_child(_: object) -> None:
    """multiprocessing's after-fork hook, in a forked worker: no inherited
    SIGTERM handler, and the handlers drain at the worker's exit."""
    global _installed, _finalizer, _terminating
    _finalizer = None
    _terminating = False
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _installed = False
    _register_finalizer()


class _Token:
    """What multiprocessing's after-fork registry holds on to (it keeps weak references)."""


_TOKEN = _Token()


def _before_fork() -> None:
    """Before a fork: hook into multiprocessing's forked workers, and hold
    SIGTERM back in the forking thread while the library's handler is in place.

    A worker inherits that handler; a SIGTERM landing before the worker resets
    it (``Pool.terminate()`` right after the pool started) would be taken by
    CPython's C-level handler and then dropped ("ignored due to race
    condition"), leaving a worker the pool waits on for ever. Blocked, it stays
    pending until the child has set the default action.
    """
    global _mp_hooked, _masked
    if not _mp_hooked and "multiprocessing.util" in sys.modules:
        sys.modules["multiprocessing.util"].register_after_fork(_TOKEN, _in_forked_multiprocessing_child)
        _mp_hooked = True
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        _masked = True


def _after_fork_in_parent() -> None:
    global _masked
    if _masked:
        _masked = False
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _after_fork_in_child() -> None:
    global _lock, _terminating, _closed, _installed, _masked
    _lock = threading.Lock()  # the parent's may have been held by another thread
    _terminating = False
    _closed = threading.Event()
    if _forked_by_multiprocessing() and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _installed = False
    if _masked:  # a SIGTERM held back since the fork is delivered now, to the right action
        _masked = False
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _forked_by_multiprocessing() -> bool:
    """Whether this fork is multiprocessing starting a worker (its Popen is on the stack)."""
    frame: Optional[FrameType] = sys._getframe()
    while frame is not None:
        if frame.f_code.co_filename.endswith(os.path.join("multiprocessing", "popen_fork.py")):
            return True
        frame = frame.f_back
    return False


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
