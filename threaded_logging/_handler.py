"""ThreadedHandler: emit on the caller's thread, ship on the timer thread."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable, Iterable, List, Mapping, Optional

from ._buffer import Buffer, InFlight
from ._config import DRY_RUN, build_handler
from ._delivery import Attempt, Chunk, Delivery
from ._options import Options, parse_options
from ._report import Reporter
from ._retry import Outcome
from ._schema import Schema
from ._snapshot import Item, as_stdlib_record, failed_snapshot, take_snapshot
from ._spool import Spool
from ._timer import WORKER_IDENTS, ThreadedTimer

_get_ident = threading.get_ident
_LIVE: "weakref.WeakSet[ThreadedHandler]" = weakref.WeakSet()


class ThreadedHandler(Delivery, logging.Handler):
    """A handler whose ``emit`` only queues; a daemon thread does the I/O.

    Given a stdlib ``handler``, it wraps it: that handler's ``handle`` runs on
    the timer thread (Camelot's ThreadedHandler). Subclasses ship batches
    themselves by overriding :meth:`prepare`, :meth:`send` and
    :meth:`close_transport`.

    Args:
        handler: a :class:`logging.Handler` to run on the timer thread, or
            (from config files) a dict such as ``{"class":
            "logging.FileHandler", "filename": "app.log"}``.
        flush_interval: milliseconds between two sends (default 1000). A full
            batch is sent at once.
        batch_size: records per batch at most (default 3000).
        capacity: records waiting in memory at most (default 10,000).
        overflow: when full: ``"drop_newest"`` (default), ``"drop_oldest"`` or
            ``"block"``. Drops are counted and reported by a gap record.
        block_timeout: seconds a caller waits for room with ``"block"``
            (default 1.0).
        shutdown_timeout: seconds ``close()`` (and a ``flush()`` without
            timeout) may take (default 5.0).
        spool_dir: a directory for the durable spool (default None: off).
        spool_max_bytes: bytes on disk at most (default 256 MiB).
        max_retry_time: seconds a batch is retried before it is counted as
            failed (default 60; None retries until close).
        static_fields: dict added to every record (default none).
        level: the handler's level (default NOTSET).

    Threads:
        ``emit``/``handle`` run on the caller's thread: they format the
        message, append to the buffer under a short lock and return; they
        block only with ``overflow="block"``, for ``block_timeout`` at most.
        ``timeout``, :meth:`prepare` and :meth:`send` run on the timer thread.
        ``flush`` blocks up to its timeout, ``close`` up to
        ``shutdown_timeout``; neither takes ``Handler.lock``.
    """

    def __init__(self, handler: Optional[Any] = None, **options: Any) -> None:
        name = options.pop("name", None)
        opts = parse_options(options)
        logging.Handler.__init__(self, opts.level)
        if handler is None and type(self).send is ThreadedHandler.send:
            raise TypeError("ThreadedHandler needs a handler to wrap, e.g. ThreadedHandler(FileHandler(...))")
        if isinstance(handler, Mapping):
            handler = build_handler(handler)
        if handler is not None and not isinstance(handler, logging.Handler):
            raise TypeError(f"handler must be a logging.Handler or a dict with 'class', got {handler!r}")
        self.target = handler
        self.options: Options = opts
        self._schema = Schema(opts.static_fields)
        self._batch_size = opts.batch_size
        self._closing = False
        self._close_lock = threading.Lock()  # guards: _closing
        self._deadline: Optional[float] = None  # the worker's, once closing
        self._close_deadline = 0.0
        self._flush_gave_up_at = -1.0
        self._dropped_at_close = 0
        self.last_error: Optional[str] = None
        self._spool: Optional[Spool] = None
        self._reset_runtime()
        if name is not None:
            logging.Handler.set_name(self, str(name))
        if opts.spool_dir is not None and not DRY_RUN.active:
            self._spool = Spool(opts.spool_dir, self.identity(), opts.spool_max_bytes, self._report,
                                self._schema.record_id)
            self._adopt_spooled()
        _LIVE.add(self)
        hook = weakref.WeakMethod(self._after_fork_in_child)
        os.register_at_fork(after_in_child=lambda: _call_alive(hook))

    def identity(self) -> str:
        """What names this handler's spool: its ``name`` if set, else its destination."""
        return self.get_name() or self.describe()

    def set_name(self, name: str) -> None:
        """Set the name; with a spool, records an earlier run left under the
        new name are adopted too (dictConfig and fileConfig name handlers
        after building them)."""
        logging.Handler.set_name(self, name)
        spool = self._spool
        if spool is not None and spool.own is None and name:
            spool.rename(self.identity())
            self._adopt_spooled()

    name = property(logging.Handler.get_name, set_name)

    def _adopt_spooled(self) -> None:
        """Take over spool files whose process is gone; send them first."""
        spool = self._spool
        assert spool is not None
        with self._start_lock:
            known = {id(seg) for seg in spool.adopted}
            spool.adopt_orphans()
            spool.open_all()
            fresh = [seg for seg in spool.adopted if id(seg) not in known and seg.bytes]
            if not fresh:
                return
            upto = self._buffer.adopt(sum(seg.rows for seg in fresh))
            for segment in fresh:
                self._marks.append((segment, segment.last_id(), upto))
        self._start()

    def _reset_runtime(self) -> None:
        opts = self.options
        self._buffer = Buffer(opts.capacity, opts.overflow, opts.block_timeout_s)
        self._timer = ThreadedTimer(opts.interval_s * 1000.0, self, name=f"threaded_logging.{type(self).__name__}")
        self._started = False
        self._start_lock = threading.Lock()  # guards: _started, starting _timer
        self._flight: Optional[InFlight] = None
        self._report = Reporter(self.describe())
        self._init_delivery()

    # -- caller's thread ----------------------------------------------------

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and queue ``record``; unlike the stdlib, no lock is taken."""
        rv: Any = True
        if self.filters:
            rv = self.filter(record)
            if isinstance(rv, logging.LogRecord):
                record = rv
        if rv:
            self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        """Queue a snapshot. Caller's thread; bounded work, no I/O."""
        if _get_ident() in WORKER_IDENTS:
            return  # produced by a sender on a worker thread: never fed back
        try:
            # take_snapshot, inlined: this is the hottest line of the library
            message = record.getMessage()
            aux = take_snapshot(record)[1] if record.exc_info or record.exc_text else None
        except RecursionError:
            raise
        except Exception as exc:
            message, aux = failed_snapshot(record, exc)
        if self._buffer.offer(record, message, aux) == self._batch_size:
            self._timer.wake()
        if not self._started:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._started or self._closing or DRY_RUN.active:
                return
            self._started = True
            self._timer.start()

    # -- timer thread ---------------------------------------------------------

    def prepare(self, items: List[Item]) -> List[Chunk]:
        """Encode a batch into the chunks sent one request each (timer thread).

        The default sends the batch as one chunk with no payloads.
        """
        return [Chunk(items)]

    def send(self, chunk: Chunk, timeout_s: Optional[float]) -> Attempt:
        """Send one chunk (timer thread); return what happened, or raise.

        ``timeout_s`` is the time left before ``close()``'s deadline (None when
        not closing): a transport should not block longer. The default runs
        the wrapped handler.
        """
        target = self.target
        assert target is not None
        items = chunk.items
        for index, item in enumerate(items):
            if self._deadline is not None and self._past_deadline():
                rest = range(index, len(items))
                return Attempt(Outcome.RETRY, "shutdown deadline reached", sent=range(index), pending=rest)
            record = as_stdlib_record(item, self._schema.record_id(item))
            # Only this thread calls the target, so its lock is not taken:
            # logging.shutdown() takes every handler's lock and must never
            # wait on a target stuck in emit.
            if record.levelno >= target.level:
                checked = target.filter(record) if target.filters else True
                if checked:
                    target.emit(checked if isinstance(checked, logging.LogRecord) else record)
        return Attempt(Outcome.DELIVERED)

    def classify_exception(self, exc: BaseException) -> Outcome:
        """Whether an exception from :meth:`send` is worth a retry."""
        return Outcome.RETRY if isinstance(exc, (OSError, TimeoutError)) else Outcome.FINAL

    def describe_failure(self, exc: BaseException) -> str:
        """The text for ``last_error`` and stderr (never secrets)."""
        return _describe_error(exc)

    def close_transport(self) -> None:
        """Release connections or files (called once by ``close``)."""
        if self.target is not None:
            self.target.close()

    def reset_transport(self) -> None:
        """Drop connections inherited from the parent (in a forked child)."""

    def describe(self) -> str:
        """The destination, for messages (never secrets)."""
        return f"{type(self).__name__}({type(self.target).__name__})"

    def setFormatter(self, fmt: Optional[logging.Formatter]) -> None:  # noqa: N802 - stdlib name
        """Set the formatter; a wrapped handler without one of its own uses it too."""
        super().setFormatter(fmt)
        target = self.target
        if target is not None and (target.formatter is None or getattr(target, "_formatter_from_wrapper", False)):
            target.setFormatter(fmt)
            target._formatter_from_wrapper = True  # type: ignore[attr-defined]

    # -- any thread -----------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:  # type: ignore[override]
        """Wait until every record emitted before the call is settled.

        Unlike the stdlib's ``flush()``, this takes a timeout (seconds, default
        ``shutdown_timeout``) and returns True when all those records were
        delivered, False when the timeout passed first or some were dropped
        or rejected.
        """
        low, target = self._buffer.mark()
        if _get_ident() in WORKER_IDENTS:
            return False  # the worker cannot wait for itself
        limit = self.options.shutdown_timeout_s if timeout is None else max(0.0, timeout)
        deadline = time.monotonic() + limit
        if self._started and not self._timer.stopping:
            self._timer.wake()
        done = self._buffer.wait_settled(target, deadline)
        if not done and timeout is None:
            self._flush_gave_up_at = time.monotonic()
        return done and not self._buffer.lost_between(low, target)

    def close(self) -> None:
        """Stop accepting, drain within ``shutdown_timeout``, stop the thread.

        Safe to call more than once. Records still held at the deadline are
        counted as dropped and reported once on stderr. When a ``flush()``
        without timeout has just given up (as in ``logging.shutdown()``),
        ``close`` does not wait a second time.
        """
        if self._begin_close():
            self._finish_close()
        super().close()

    def _begin_close(self) -> bool:
        with self._close_lock:
            if self._closing:
                return False
            self._closing = True
        now = time.monotonic()
        recently_gave_up = now - self._flush_gave_up_at < 1.0
        budget = 0.0 if recently_gave_up else self.options.shutdown_timeout_s
        self._close_deadline = now + budget
        # The worker stops a little earlier, so it can settle what it holds
        # before close() stops waiting for it.
        self._deadline = now + budget - min(0.25, budget * 0.1)
        self._dropped_at_close = self._buffer.snapshot_counters()["dropped"]
        self._buffer.close()
        self._timer.stop(timeout=0)
        return True

    def _finish_close(self) -> None:
        deadline = self._close_deadline
        dropped_before = self._dropped_at_close
        if self._started:
            self._timer.stop(timeout=max(0.0, deadline - time.monotonic()))
        # with a spool, the batch in flight is still on disk: not lost
        self._buffer.abandon(self._flight if self._spool is None else None)
        lost = self._buffer.counters.dropped - dropped_before
        untold = self._buffer.untold
        if lost or untold:
            earlier = (f"; {untold} record(s) dropped earlier (buffer full) are reported here, "
                       f"their gap record could not be sent" if untold else "")
            self._report(
                "close",
                f"{lost} record(s) not delivered to {self.describe()} before the "
                f"shutdown deadline were dropped{earlier} (last error: {self.last_error})",
                force=True,
            )
        if self._timer.is_alive():
            return  # the worker is stuck inside the transport: leave it be
        spool = self._spool
        if spool is not None:
            left = spool.rows
            if left:
                self._report(
                    "close-spool",
                    f"{left} record(s) stay in the spool under {spool.directory}; a handler with "
                    f"the same identity sends them when it starts (last error: {self.last_error})",
                    force=True,
                )
            spool.close()
        try:
            self.close_transport()
        except Exception as exc:
            self._report("close_transport", f"releasing the transport failed: {exc!r}")

    def stats(self) -> dict[str, Any]:
        """Counters: cumulative ``emitted``, ``sent``, ``dropped``, ``failed``,
        ``retried``, ``batches``; current ``queued``, ``spooled``,
        ``spool_bytes``; ``last_error``.

        At any quiet moment ``emitted == sent + dropped + failed + queued +
        spooled``.
        """
        counts: dict[str, Any] = self._buffer.snapshot_counters()
        spool = self._spool
        counts["spooled"] = spool.rows if spool is not None else 0
        counts["spool_bytes"] = spool.size if spool is not None else 0
        counts["last_error"] = self.last_error
        if spool is not None:
            counts["resent"] = self.resent
        return counts

    def _after_fork_in_child(self) -> None:
        self._schema.renew_id_prefix()
        if self._spool is not None:
            self._spool.forget_after_fork()  # the parent's files, locks and rows
        self._reset_runtime()
        try:
            self.reset_transport()
        except Exception as exc:
            self._report("fork", f"resetting the transport after fork failed: {exc!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()} ({logging.getLevelName(self.level)})>"


def _describe_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text


def _call_alive(ref: Callable[[], Optional[Callable[[], None]]]) -> None:
    method = ref()
    if method is not None:
        method()


def _forget_workers_in_child() -> None:
    WORKER_IDENTS.clear()


def close_all(handlers: Optional[Iterable[ThreadedHandler]] = None) -> None:
    """Close handlers together: all drain at once under their own deadlines."""
    chosen = [h for h in (list(_LIVE) if handlers is None else handlers)]
    begun = [h for h in chosen if h._begin_close()]
    for handler in begun:
        handler._finish_close()


os.register_at_fork(after_in_child=_forget_workers_in_child)
# Registered after logging's own hook, so this runs first: every threaded
# handler drains in parallel, then logging.shutdown() finds them closed.
atexit.register(close_all)
