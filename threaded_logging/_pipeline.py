"""The timer thread's send loop: one batch in flight, settled record by record.

A cycle moves what waits in memory to the spool (when there is one), takes
the batch in flight (or the next one: from the spool, else from memory),
and sends its open records once their retry time has come. The transport's
answer settles each record once, as delivered, duplicate or failed, in the
ledger and the spool; the records it marks *retry* stay open, and the
batch's :class:`~threaded_logging._retry.RetryState` says when they go next
or that they are given up. Everything here runs on the timer thread, except
:meth:`Pipeline.abandon` (the closing thread, once the worker is done or
out of time).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import TYPE_CHECKING, Callable, Deque, Iterator, List, Optional, Sequence, Tuple

from ._retry import GiveUp, RetryState
from ._snapshot import SEQ, Item, counted
from ._transport import Answer, Request, Transport

if TYPE_CHECKING:
    from ._buffer import Buffer
    from ._ledger import Ledger
    from ._options import Options
    from ._report import Reporter
    from ._spool import Spool, SpoolBatch

_DELIVERED, _DUPLICATE, _FAILED = 1, 2, 3


class Batch:
    """The open records of one batch in flight, and when they go next.

    Attributes:
        items: the records not yet settled, in logged order.
        retry: when to send them again, or until when.
        stored: where they are on disk (spool mode), else None.
        abandoned: ``close()`` gave the batch up; nothing more is counted.
    """

    __slots__ = ("items", "retry", "stored", "abandoned", "retry_after_s")

    def __init__(self, items: List[Item], retry: RetryState, stored: Optional["SpoolBatch"] = None) -> None:
        self.items = items
        self.retry = retry
        self.stored = stored
        self.abandoned = False
        self.retry_after_s: Optional[float] = None

    def first_seq(self) -> Optional[int]:
        return next((item[SEQ] for item in self.items if item[SEQ]), None)


class Pipeline:
    """Drain, encode, send, settle and retry for one handler.

    Args:
        transport: the destination.
        buffer: the handler's in-memory FIFO.
        ledger: the handler's counters and watermark.
        spool: the durable spool, or None.
        options: the handler's validated options.
        report: the handler's stderr reporter.
        pause: sleeps on the timer thread, cut short when the timer stops.
    """

    def __init__(self, transport: Transport, buffer: "Buffer", ledger: "Ledger", spool: Optional["Spool"],
                 options: "Options", report: "Reporter", pause: Callable[[float], None]) -> None:
        self.transport = transport
        self._buffer = buffer
        self._ledger = ledger
        self._spool = spool
        self._batch_size = options.batch_size
        self._retry_limit_s = options.max_retry_time_s
        self._evict = options.overflow == "drop_oldest"
        self._report = report
        self._pause = pause
        self.current: Optional[Batch] = None
        self.last_error: Optional[str] = None
        self._stop_sending_at: Optional[float] = None
        #: Set once records left on disk by earlier processes are counted.
        self.adopted = threading.Event()
        if spool is None:
            self.adopted.set()

    @property
    def stop_sending_at(self) -> Optional[float]:
        """Set by ``close()``: no request is sent after this ``time.monotonic()``."""
        return self._stop_sending_at

    @stop_sending_at.setter
    def stop_sending_at(self, when: Optional[float]) -> None:
        self._stop_sending_at = when
        self.transport.deadline = when

    # -- the cycle ----------------------------------------------------------------

    def cycle(self) -> None:
        """One ``timeout()``: send what waits, until it is done or must wait."""
        if not self.adopted.is_set():
            self._adopt()
        sent = False
        while True:
            if self._spool is not None:
                self._spool_in()
                self._buffer.journal_done()
            if sent and self.current is None and not self._more_now():
                break  # a partial batch waits for the next wake: fewer, fuller requests
            batch = self.current or self._next_batch()
            self.current = batch
            if batch is None or not self._due(batch):
                break
            self.step(batch)
            sent = True
            self._reschedule(batch)
            self._publish()
        self._publish()

    def _more_now(self) -> bool:
        """After one batch in a cycle: send another only when a full batch
        waits, or someone waits for delivery (flush, close). At 20,000
        records/s this halves the worker's share of a core (measured)."""
        if self.stop_sending_at is not None or self._ledger.has_waiters():
            return True
        if self._spool is not None:
            return self._spool.rows >= self._batch_size
        return self._buffer.waiting() >= self._batch_size

    def _due(self, batch: Batch) -> bool:
        """Whether the batch may be sent now; waits here when that is the policy."""
        while True:
            now = time.monotonic()
            stop_at = self.stop_sending_at
            if stop_at is not None and now >= stop_at:
                return False
            wait = batch.retry.next_at - now
            if wait <= 0:
                return True
            if stop_at is None and self._spool is not None:
                return False  # the records wait on disk; memory keeps moving there
            if stop_at is not None and now + wait >= stop_at:
                return False
            self._pause(wait)

    def _next_batch(self) -> Optional[Batch]:
        now = time.monotonic()
        if self._spool is None:
            items = self._buffer.drain(self._batch_size)
            return Batch(items, RetryState.start(now, self._retry_limit_s)) if items else None
        stored = self._spool.peek(self._batch_size)
        if stored is None:
            return None
        if stored.unreadable:
            self._ledger.count(failed=stored.unreadable)
        if stored.resent:
            self._ledger.count(resent=stored.resent)
        batch = Batch(list(stored.items), RetryState.start(now, None), stored)
        if not batch.items:
            self._spool.settle(stored, [])
            return self._next_batch()
        return batch

    def step(self, batch: Batch) -> None:
        """Send the batch's open records once; keep open only those to retry."""
        still_open: List[Item] = []
        batch.retry_after_s = None
        requests: Deque[Request] = collections.deque(self._encode(batch))
        while requests:
            request = requests.popleft()
            if self._stopped():
                still_open.extend(request.items)
                continue
            answer = self._send(request)
            if answer.split and len(request.items) > 1:
                halves = self._split(batch, request)
                requests.extendleft(reversed(halves))
                continue
            if answer.split:
                answer = Answer.fail_all(1, f"too large even alone: {answer.error}")
            still_open.extend(self._settle(batch, request, answer))
        batch.items = still_open
        if batch.stored is not None and self._spool is not None and not batch.abandoned:
            self._spool.settle(batch.stored, still_open)

    def _reschedule(self, batch: Batch) -> None:
        if not batch.items:
            self.current = None
            return
        state = batch.retry.next(time.monotonic(), batch.retry_after_s)
        if isinstance(state, GiveUp):
            reason = f"{state.reason}: {self.last_error}"
            self._settle(batch, Request(batch.items), Answer.fail_all(len(batch.items), reason))
            if batch.stored is not None and self._spool is not None:
                self._spool.settle(batch.stored, [])
            batch.items = []
            self.current = None
            return
        batch.retry = state
        self._report("retry", f"sending to {self.transport.describe()} failed, retrying: {self.last_error}")

    # -- one request ------------------------------------------------------------------

    def _encode(self, batch: Batch) -> List[Request]:
        try:
            return list(self.transport.encode(batch.items))
        except Exception:  # find the records that cannot be encoded, fail only those
            pass
        requests: List[Request] = []
        for item in batch.items:
            try:
                requests.extend(self.transport.encode([item]))
            except Exception as exc:
                reason = f"could not encode the record: {exc!r}"
                self._settle(batch, Request([item]), Answer.fail_all(1, reason))
        return requests

    def _split(self, batch: Batch, request: Request) -> List[Request]:
        items = request.items
        middle = len(items) // 2
        halves: List[Request] = []
        for part in (items[:middle], items[middle:]):
            halves.extend(self._encode(Batch(list(part), batch.retry)))
        return halves

    def _send(self, request: Request) -> Answer:
        stop_at = self.stop_sending_at
        timeout_s = None if stop_at is None else max(0.0, stop_at - time.monotonic())
        transport = self.transport
        try:
            return transport.send(request, timeout_s)
        except Exception as exc:
            try:
                outcome, error = transport.classify_exception(exc), transport.describe_failure(exc)
            except Exception as bug:  # a transport bug must not lose the count
                return Answer.fail_all(len(request.items), f"send failed: {exc!r}; classifying it failed: {bug!r}")
            return Answer.of(outcome, len(request.items), error)

    def _settle(self, batch: Batch, request: Request, answer: Answer) -> List[Item]:
        """Count each record of ``request`` once; returns those to retry, in order."""
        items = request.items
        if answer.all_delivered and not answer.duplicates and len(answer.delivered) == len(items):
            self._ledger.settle(batch, sent=counted(items), batches=1)
            return []
        fate = _fates(answer, len(items))
        retry = [item for item, state in zip(items, fate) if not state]
        delivered = sum(1 for item, state in zip(items, fate) if state == _DELIVERED and item[SEQ])
        duplicates = sum(1 for item, state in zip(items, fate) if state == _DUPLICATE and item[SEQ])
        failed = [(i, item) for i, (item, state) in enumerate(zip(items, fate)) if state == _FAILED]
        counted_failed = [item[SEQ] for _, item in failed if item[SEQ]]
        if not self._ledger.settle(batch, sent=delivered + duplicates, duplicates=duplicates,
                                   failed=counted_failed, batches=int(delivered + duplicates > 0),
                                   retried=int(bool(retry))):
            return []
        if answer.error and (retry or failed):
            self.last_error = answer.error
            batch.retry_after_s = answer.retry_after_s if retry else batch.retry_after_s
        for reason, count in _reasons(answer, failed):
            self.last_error = reason
            self._report("failed", f"{count} record(s) failed ({self.transport.describe()}): {reason}")
        return retry

    def _stopped(self) -> bool:
        stop_at = self.stop_sending_at
        return stop_at is not None and time.monotonic() >= stop_at

    # -- the spool ----------------------------------------------------------------------

    def _adopt(self) -> None:
        spool = self._spool
        assert spool is not None
        try:
            _, skipped = spool.adopt(self._ledger.reserve)
            if skipped:
                self._report("journal", f"{skipped} torn or corrupt journal entr{'y was' if skipped == 1 else 'ies were'} "
                             "skipped (a process died while writing it)", force=True)
        finally:
            self.adopted.set()

    def readopt(self) -> None:
        """Look for orphaned records again (the spool's identity changed)."""
        if self._spool is not None:
            self.adopted.clear()

    def _spool_in(self) -> None:
        """Move what waits in memory to the spool, as far as it has room."""
        spool = self._spool
        assert spool is not None
        while True:
            items = self._buffer.drain(self._batch_size)
            if not items:
                return
            result = spool.put(items, evict_oldest=self._evict)
            if result.evicted:
                self._buffer.drop_evicted(result.evicted)
            if result.lost:
                self._ledger.count(dropped=result.lost)
            if result.stored < len(items):
                self._buffer.requeue(items[result.stored:])
                self._report("spool-full", f"the spool is full ({spool.max_bytes} bytes); records wait in memory")
                return

    # -- watermark and close ----------------------------------------------------------------

    def _publish(self) -> None:
        held = [seq for seq in self._held_firsts() if seq]
        self._buffer.publish(min(held) if held else None)

    def _held_firsts(self) -> Iterator[Optional[int]]:
        batch = self.current
        if batch is not None:
            yield batch.first_seq()
        if self._spool is not None:
            yield self._spool.first_seq()

    def abandon(self) -> int:
        """At the shutdown deadline: count what memory still holds as dropped.

        The batch in flight is dropped too, unless it is on disk (spool).
        Returns how many records were given up.
        """
        batch = self.current
        lost = 0
        if batch is not None and batch.stored is None:
            lost = self._ledger.abandon(batch, [item[SEQ] for item in batch.items if item[SEQ]])
        lost += self._buffer.clear()
        self._ledger.release_waiters()
        return lost


def _fates(answer: Answer, count: int) -> bytearray:
    """Per record: 0 retry (also when the answer forgot it), else delivered, duplicate or failed."""
    fate = bytearray(count)
    for indices, state in ((answer.delivered, _DELIVERED), (answer.duplicates, _DUPLICATE), (answer.failed, _FAILED)):
        for index in indices:
            if 0 <= index < count:
                fate[index] = state
    for index in answer.retry:
        if 0 <= index < count:
            fate[index] = 0
    return fate


def _reasons(answer: Answer, failed: Sequence[Tuple[int, Item]]) -> List[Tuple[str, int]]:
    """Failed records grouped by reason, in first-seen order."""
    counts: "collections.OrderedDict[str, int]" = collections.OrderedDict()
    for index, _ in failed:
        reason = answer.failed.get(index) or answer.error or "rejected"
        counts[reason] = counts.get(reason, 0) + 1
    return list(counts.items())
