"""ThreadedHandler: emit on the caller's thread, ship on the timer thread."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from zlib import adler32 as _adler32
from typing import Any, Iterable, List, Optional

from . import _exit
from ._buffer import Buffer
from ._config import DRY_RUN, fill_level_caches_if_configuring, target_handler
from ._journal import Journal, fast_dumps as _fast_dumps
from ._journal import encode as journal_entry
from ._ledger import Ledger
from ._options import Options, parse_options
from ._pipeline import Pipeline
from ._report import Reporter
from ._schema import Schema
from ._snapshot import failed_snapshot, take_snapshot
from ._spool import Spool
from ._timer import WORKER_IDENTS, ThreadedTimer
from ._transport import Transport

_get_ident = threading.get_ident
_LIVE: "weakref.WeakSet[ThreadedHandler]" = weakref.WeakSet()


class ThreadedHandler(logging.Handler):
    """A handler whose ``emit`` only queues; a daemon thread does the I/O.

    Given a stdlib ``handler``, it wraps it: that handler's ``emit`` runs on
    the timer thread (Camelot's ThreadedHandler). Given a ``transport``, it
    ships to that destination (see :class:`~threaded_logging.Transport`).

    Args:
        handler: a :class:`logging.Handler` to run on the timer thread, or
            (from config files) a dict such as ``{"class":
            "logging.FileHandler", "filename": "app.log"}``.
        transport: a :class:`~threaded_logging.Transport` to ship to
            instead of a wrapped handler.
        flush_interval: milliseconds between two sends (default 1000). A full
            batch is sent at once.
        batch_size: records per batch at most (default 3000).
        capacity: records waiting in memory at most (default 10,000).
        overflow: when full: ``"drop_newest"`` (default), ``"drop_oldest"`` or
            ``"block"``. Drops are counted and reported by a gap record.
        block_timeout: with ``overflow="block"``, seconds a caller waits for
            room before its record is dropped (default 1.0).
        shutdown_timeout: seconds ``close()`` (and interpreter exit) may take
            to deliver what is left (default 5.0).
        spool_dir: directory of the durable spool (default none: memory only).
        spool_max_bytes: bytes the spool may take on disk (default 256 MiB).
        max_retry_time: seconds a batch is retried before its records are
            counted as failed (default 60; None retries until close). With a
            spool, records wait on disk instead.
        static_fields: dict added to every record (default none).
        level: the handler's level (default NOTSET).
        journal: also write each record to a memory-mapped journal in
            ``spool_dir`` before ``emit`` returns, so it survives ``kill
            -9`` and crashes (default False; needs ``spool_dir``).
        journal_bytes: the journal's size in bytes (default 8 MiB, at least
            64 KiB); when it is full, records go to memory only and are
            counted in ``stats()["unjournaled"]``.
        name: the handler's name; it also names the spool.

    Threads:
        ``emit``/``handle`` run on the caller's thread: they format the
        message, append to the buffer under a short lock and return; they
        block only with ``overflow="block"``, for ``block_timeout`` at most.
        ``timeout`` (and every transport method) runs on the timer thread.
        ``flush`` blocks up to its timeout, ``close`` up to
        ``shutdown_timeout``; neither takes ``Handler.lock``.
    """

    def __init__(self, handler: Optional[Any] = None, *, transport: Optional[Transport] = None,
                 **options: Any) -> None:
        name = options.pop("name", None)
        opts = parse_options(options)
        logging.Handler.__init__(self, opts.level)
        self.target = target_handler(handler)
        self.transport: Transport = transport if transport is not None else self._default_transport(self.target)
        self.options: Options = opts
        self._schema = Schema(opts.static_fields)
        self.transport.schema = self._schema
        self._batch_size = opts.batch_size
        self._close_lock = threading.Lock()  # guards: _closing, _released
        self._closing = False
        self._released = False
        self._close_done = threading.Event()  # set once the first close() is done
        self._close_deadline = 0.0
        self._flush_gave_up_at = -1.0
        self._spool: Optional[Spool] = None
        self._journal: Optional[Journal] = None
        if name is not None:
            logging.Handler.set_name(self, str(name))
        if opts.spool_dir is not None and not DRY_RUN.active:
            self._spool = Spool(opts.spool_dir, self.identity(), opts.spool_max_bytes, self._stderr,
                                self._schema.record_id)
            self._open_journal()
        self._reset_runtime()
        _LIVE.add(self)
        if not DRY_RUN.active:
            _exit.on_handler_created()
        if self._spool is not None:
            self._start()  # records an earlier run left are sent without waiting for a log call

    def _default_transport(self, target: Optional[logging.Handler]) -> Transport:
        if target is not None:
            from .transports.wrapped import WrappedTransport

            return WrappedTransport(target)
        if callable(getattr(type(self), "send", None)):  # a subclass of the 0.1 hooks
            from ._legacy import HookTransport

            return HookTransport(self)
        raise TypeError("ThreadedHandler needs a handler to wrap, e.g. ThreadedHandler(FileHandler(...)), "
                        "or a transport=")

    def _open_journal(self) -> None:
        """This process's journal (``journal=True``), beside its spool and sharing its lock."""
        spool = self._spool
        if spool is None or not self.options.journal:
            return
        spool.lock_own()
        self._journal = Journal(spool.journal_path(), self.options.journal_bytes, self._schema.id_prefix, spool.stem)

    def _stderr(self, key: str, message: str, *, force: bool = False) -> bool:
        return self._report(key, message, force=force)

    def identity(self) -> str:
        """What names this handler's spool: its ``name`` if set, else its destination."""
        return self.get_name() or self.transport.identity()

    def set_name(self, name: str) -> None:
        """Set the name; with a spool, records an earlier run left under the
        new name are adopted too (dictConfig and fileConfig name handlers
        after building them)."""
        logging.Handler.set_name(self, name)
        spool = self._spool
        if spool is not None and name and spool.rename(self.identity()):
            if self._journal is not None:
                self._journal.rename(spool.stem)
            self._pipeline.readopt()
            self._timer.wake()

    name = property(logging.Handler.get_name, set_name)

    @property
    def last_error(self) -> Optional[str]:
        """The last delivery error (no secrets), or None."""
        return self._pipeline.last_error

    def _reset_runtime(self) -> None:
        """Fresh counters, buffer, timer and send loop (construction, forked child)."""
        opts = self.options
        self._ledger = Ledger()
        self._buffer = Buffer(opts.capacity, opts.overflow, opts.block_timeout_s, self._ledger, self._journal)
        self._timer = ThreadedTimer(opts.interval_s * 1000.0, self, name=f"threaded_logging.{type(self).__name__}")
        self._started = False
        self._start_lock = threading.Lock()  # guards: _started, starting _timer
        self._report = Reporter(self.describe())
        self._timer.report = self._report
        self._timer.on_exit = self._release_if_closed
        self._pipeline = Pipeline(self.transport, self._buffer, self._ledger, self._spool, opts,
                                  self._report, self._timer.pause)

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
        payload = None
        if self._journal is not None:
            try:  # journal.encode, inlined when orjson is there: a call costs a tenth of it
                if _fast_dumps is None:
                    payload = journal_entry(record, message, aux)
                else:
                    data = _fast_dumps((message, aux, record.__dict__), default=repr)
                    payload = (data, _adler32(data))
            except RecursionError:
                raise
            except Exception:  # surrogates, huge ints: the careful path
                try:
                    payload = journal_entry(record, message, aux)
                except Exception:  # counted as unjournaled; the record still ships
                    payload = (b"", 0)
        if self._buffer.offer(record, message, aux, payload) == self._batch_size:
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

    def timeout(self) -> None:
        """Drain the buffer (through the spool, if any) and send (timer thread)."""
        self._pipeline.cycle()

    def describe(self) -> str:
        """The destination, for messages (never secrets)."""
        return self.transport.describe()

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
        or rejected. Records an earlier run left in the spool count as
        emitted before the first call.
        """
        if _get_ident() in WORKER_IDENTS:
            return False  # the worker cannot wait for itself
        fill_level_caches_if_configuring()
        limit = self.options.shutdown_timeout_s if timeout is None else max(0.0, timeout)
        deadline = time.monotonic() + limit
        if not self._pipeline.adopted.is_set() and self._started:
            self._timer.wake()
            self._pipeline.adopted.wait(limit)
        low, target = self._ledger.position()
        if self._started and not self._timer.stopping:
            self._timer.wake()
        done = self._ledger.wait_settled(target, deadline)
        if not done and timeout is None:
            self._flush_gave_up_at = time.monotonic()
        return done and not self._ledger.lost_between(low, target)

    def close(self) -> None:
        """Stop accepting, drain within ``shutdown_timeout``, stop the thread.

        Safe to call more than once, from any thread: a second call waits
        for the first to finish. Records still held at the deadline are
        counted as dropped (or stay in the spool) and reported once on
        stderr. When a ``flush()`` without timeout has just given up (as in
        ``logging.shutdown()``), ``close`` does not wait a second time.
        """
        if self._begin_close():
            self._finish_close()
        else:
            self._close_done.wait(max(0.0, self._close_deadline - time.monotonic()) + 0.5)
        super().close()

    def _begin_close(self) -> bool:
        with self._close_lock:
            if self._closing:
                return False
            self._closing = True
        fill_level_caches_if_configuring()
        now = time.monotonic()
        recently_gave_up = now - self._flush_gave_up_at < 1.0
        budget = 0.0 if recently_gave_up else self.options.shutdown_timeout_s
        self._close_deadline = now + budget
        # The worker stops sending a little earlier, so it can settle what it
        # holds before close() stops waiting for it.
        self._pipeline.stop_sending_at = now + budget - min(0.25, budget * 0.1)
        self._dropped_at_close = self._ledger.counters()["dropped"]
        self._buffer.close()
        self._timer.stop(timeout=0)
        return True

    def _finish_close(self) -> None:
        try:
            if self._started:
                self._timer.stop(timeout=max(0.0, self._close_deadline - time.monotonic()))
            self._pipeline.abandon()
            self._report_losses()
            if not self._timer.is_alive():
                self._release()
            # else the worker is stuck inside the transport: it releases both when it ends
        finally:
            self._close_done.set()

    def _release_if_closed(self) -> None:
        """The worker ended (its thread): release what a timed-out close() left."""
        if self._closing:
            self._release()

    def _release(self) -> None:
        """Close the spool and the transport, once."""
        with self._close_lock:
            if self._released:
                return
            self._released = True
        self._close_spool()
        try:
            self.transport.close()
        except Exception as exc:
            self._report("close_transport", f"releasing the transport failed: {exc!r}")

    def _report_losses(self) -> None:
        lost = self._ledger.counters()["dropped"] - self._dropped_at_close
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

    def _close_spool(self) -> None:
        spool = self._spool
        if spool is None:
            return
        journal = self._journal
        if journal is not None:  # kept when records it holds were neither spooled nor sent
            journal.close(remove=journal.all_done())
        left = spool.rows
        if left:
            self._report(
                "close-spool",
                f"{left} record(s) stay in the spool under {spool.directory}; a handler with "
                f"the same identity sends them when it starts (last error: {self.last_error})",
                force=True,
            )
        spool.close()

    def stats(self) -> dict[str, Any]:
        """Counters: cumulative ``emitted``, ``sent``, ``dropped``, ``failed``,
        ``duplicates``, ``retried``, ``batches``, ``resent``,
        ``unjournaled``; current ``queued``, ``spooled``, ``spool_bytes``;
        ``last_error``.

        At any quiet moment ``emitted == sent + dropped + failed + queued +
        spooled`` (``sent`` includes ``duplicates``).
        """
        counts: dict[str, Any] = self._ledger.counters()
        counts["queued"] = self._buffer.queued()
        spool = self._spool
        counts["spooled"] = spool.rows if spool is not None else 0
        counts["spool_bytes"] = spool.size if spool is not None else 0
        counts["last_error"] = self.last_error
        return counts

    def _after_fork_in_child(self) -> None:
        self._schema.renew_id_prefix()
        if self._spool is not None:
            self._spool.forget_after_fork()  # the parent's files, locks and rows
        if self._journal is not None:
            self._journal.forget()  # the parent's file: never written from here
            self._journal = None
            if not self._closing:
                self._open_journal()
        self._reset_runtime()
        if self._closing:
            self._buffer.close()
        try:
            self.transport.after_fork()
        except Exception as exc:
            self._report("fork", f"resetting the transport after fork failed: {exc!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()} ({logging.getLevelName(self.level)})>"


def close_all(handlers: Optional[Iterable[ThreadedHandler]] = None) -> None:
    """Close handlers together: all drain at once under their own deadlines."""
    chosen: List[ThreadedHandler] = list(_LIVE) if handlers is None else list(handlers)
    begun = [h for h in chosen if h._begin_close()]
    for handler in begun:
        handler._finish_close()


def _longest_timeout() -> float:
    return max((handler.options.shutdown_timeout_s for handler in list(_LIVE)), default=0.0)


def _after_fork_in_child() -> None:
    WORKER_IDENTS.clear()
    for handler in list(_LIVE):
        handler._after_fork_in_child()


_exit.close_all = close_all
_exit.longest_timeout = _longest_timeout
os.register_at_fork(after_in_child=_after_fork_in_child)
# Registered after logging's own hook, so this runs first: every threaded
# handler drains in parallel, then logging.shutdown() finds them closed.
atexit.register(close_all)
