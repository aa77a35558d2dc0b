"""The timer thread's send loop: batches, chunks, retries, accounting, spool.

:class:`Delivery` is mixed into :class:`~threaded_logging.ThreadedHandler`;
everything here runs on the timer thread.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any, Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._buffer import Buffer, InFlight
from ._snapshot import Item, counted
from ._retry import Outcome, backoff_delay

if TYPE_CHECKING:
    from ._options import Options
    from ._report import Reporter
    from ._spool import Segment, Spool
    from ._timer import ThreadedTimer


class Chunk:
    """Records sent in one request, with the transport's encoding of each."""

    __slots__ = ("items", "payloads")

    def __init__(self, items: List[Item], payloads: Optional[List[Any]] = None) -> None:
        self.items = items
        self.payloads = payloads

    def halves(self) -> List["Chunk"]:
        """Split in two, keeping order (for HTTP 413 and similar)."""
        mid = len(self.items) // 2
        p = self.payloads
        return [
            Chunk(self.items[:mid], p[:mid] if p is not None else None),
            Chunk(self.items[mid:], p[mid:] if p is not None else None),
        ]

    def subset(self, indices: Sequence[int]) -> "Chunk":
        """The chunk reduced to the items at ``indices`` (after a partial failure)."""
        p = self.payloads
        return Chunk([self.items[i] for i in indices], [p[i] for i in indices] if p is not None else None)


class Attempt(NamedTuple):
    """What one send attempt achieved.

    ``outcome`` applies to the whole chunk unless ``pending`` is given: then
    ``sent`` and ``rejected`` were settled and ``pending`` is sent again.
    """

    outcome: Outcome
    error: Optional[str] = None
    retry_after: Optional[float] = None
    sent: Sequence[int] = ()
    rejected: Sequence[int] = ()
    pending: Optional[Sequence[int]] = None


#: What _send_chunk tells _deliver: settled, split into these, or stop.
_SETTLED: List[Chunk] = []
_STOP = None


class Delivery:
    """Drain, encode, send, retry and account (timer thread)."""

    _buffer: Buffer
    _batch_size: int
    _deadline: Optional[float]
    _timer: "ThreadedTimer"
    _report: "Reporter"
    _spool: Optional["Spool"]
    options: "Options"
    last_error: Optional[str]

    def _init_delivery(self) -> None:
        self._retry_at = 0.0  # spool mode: no send before this (monotonic)
        self._failures = 0  # consecutive failed cycles, for spool-mode backoff
        self._unsettled: Optional[Dict[int, Item]] = None  # spool mode: the row's items not yet settled
        self._marks: Deque[Tuple["Segment", int, int]] = collections.deque()
        self.resent = 0

    # template methods, overridden by ThreadedHandler and the transports
    def prepare(self, items: List[Item]) -> List[Chunk]:
        raise NotImplementedError

    def send(self, chunk: Chunk, timeout_s: Optional[float]) -> Attempt:
        raise NotImplementedError

    def classify_exception(self, exc: BaseException) -> Outcome:
        raise NotImplementedError

    def describe_failure(self, exc: BaseException) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    # -- the cycle ----------------------------------------------------------------

    def timeout(self) -> None:
        """Drain the buffer and send it batch by batch (timer thread)."""
        if self._spool is not None:
            self._spool_cycle()
            return
        buffer = self._buffer
        while not self._past_deadline():
            batch, upto = buffer.drain(self._batch_size)
            if not batch:
                buffer.settle_idle()
                return
            flight = buffer.begin(batch, upto)
            self._flight: Optional[InFlight] = flight
            try:
                self._deliver(flight, batch)
            finally:
                self._flight = None
                buffer.finish(flight)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _deliver(self, flight: InFlight, items: List[Item]) -> bool:
        """Send a batch; returns False when it stopped early (deadline, or a
        retry postponed to a later cycle in spool mode)."""
        try:
            pending = list(reversed(self.prepare(items)))
        except Exception as exc:
            self._give_up(flight, items, f"could not encode the batch: {exc!r}", final=True)
            return True
        while pending:
            chunk = pending.pop()
            try:
                more = self._send_chunk(flight, chunk)
            except Exception as exc:  # a transport bug must not lose the count
                self._give_up(flight, chunk.items, f"send failed: {exc!r}", final=True)
                continue
            if more is _STOP:
                for rest in pending:
                    self._give_up(flight, rest.items, "shutdown deadline reached", final=False)
                return False
            pending.extend(reversed(more))
        return True

    def _send_chunk(self, flight: InFlight, chunk: Chunk) -> Optional[List[Chunk]]:
        attempt = 0
        started = time.monotonic()
        while True:
            timeout_s = None if self._deadline is None else self._deadline - time.monotonic()
            if timeout_s is not None and timeout_s <= 0:
                self._give_up(flight, chunk.items, "shutdown deadline reached", final=False)
                return _STOP
            try:
                result = self.send(chunk, timeout_s)
            except Exception as exc:
                result = Attempt(self.classify_exception(exc), error=self.describe_failure(exc))
            if result.pending is not None:
                chunk = self._settle_partial(flight, chunk, result)
                if not chunk.items:
                    self._failures = 0
                    return _SETTLED
            outcome = result.outcome
            if outcome is Outcome.DELIVERED:
                self._account(flight, chunk.items, sent=True)
                self._buffer.count(batches=1)
                self._failures = 0
                return _SETTLED
            if result.error:
                self.last_error = result.error
            if outcome is Outcome.SPLIT and len(chunk.items) > 1:
                return chunk.halves()
            if outcome is not Outcome.RETRY:
                self._give_up(flight, chunk.items, result.error or "rejected", final=True)
                return _SETTLED
            if self._past_deadline():
                self._give_up(flight, chunk.items, "shutdown deadline reached", final=False)
                return _STOP
            attempt += 1
            self._buffer.count(retried=1)
            self._report("retry", f"sending to {self.describe()} failed, retrying: {result.error}")
            if self._spool is not None:  # the rows wait on disk; keep spooling meanwhile
                self._failures += 1
                self._retry_at = time.monotonic() + backoff_delay(self._failures, result.retry_after)
                return _STOP
            delay = backoff_delay(attempt, result.retry_after)
            limit = self.options.max_retry_time_s
            if self._deadline is None and limit is not None and time.monotonic() + delay - started > limit:
                self._give_up(flight, chunk.items, f"gave up after {limit:g} s: {result.error}", final=True)
                return _SETTLED
            if self._deadline is not None:
                delay = min(delay, self._deadline - time.monotonic())
            self._timer.pause(delay)

    def _settle_partial(self, flight: InFlight, chunk: Chunk, result: Attempt) -> Chunk:
        items = chunk.items
        if result.sent:
            self._account(flight, [items[i] for i in result.sent], sent=True)
            self._buffer.count(batches=1)
        if result.rejected:
            self._account(flight, [items[i] for i in result.rejected], failed=True)
            self._report("rejected", f"{len(result.rejected)} record(s) rejected by {self.describe()}: {result.error}")
        return chunk.subset(list(result.pending or ()))

    def _give_up(self, flight: InFlight, items: List[Item], why: str, *, final: bool) -> None:
        """Settle records as failed or (at the shutdown deadline) dropped.

        ``close`` reports drops in one line. With a spool, records that are
        not final stay on disk for the next run instead of being dropped.
        """
        if not final and self._spool is not None:
            return
        if final:
            self.last_error = why
        if self._account(flight, items, failed=final, dropped=not final) and final:
            self._report("failed", f"{counted(items)} record(s) failed ({self.describe()}): {why}")

    def _account(self, flight: InFlight, items: List[Item], *, sent: bool = False,
                 failed: bool = False, dropped: bool = False) -> bool:
        settled = self._buffer.account(flight, items, sent=sent, failed=failed, dropped=dropped)
        unsettled = self._unsettled
        if unsettled is not None:
            for item in items:
                unsettled.pop(id(item), None)
        return settled

    # -- spool mode ---------------------------------------------------------------

    def _spool_cycle(self) -> None:
        """Memory to disk first, then send from the oldest batch on disk."""
        spool = self._spool
        assert spool is not None
        buffer = self._buffer
        while not self._past_deadline():
            moved = self._spool_in()
            if time.monotonic() < self._retry_at and self._deadline is None:
                if not moved:
                    return  # backing off; the batches wait on disk
                continue
            segment, row, items = spool.head()
            if segment is None or row is None:
                if not moved:
                    buffer.settle_idle()
                    return
                continue
            row_id, count, attempts, _ = row
            if attempts and segment in spool.adopted:
                self.resent += count  # sent by a process that died before deleting them
            segment.mark_attempted(row_id)
            if not self._send_row(segment, row, items):
                return

    def _send_row(self, segment: "Segment", row: Tuple[int, int, int, bytes], items: List[Item]) -> bool:
        """Send a stored row batch by batch, shrinking it on disk as batches
        settle, so that only the batch in flight can be sent twice."""
        row_id, count, _, data = row
        spool = self._spool
        assert spool is not None
        size, stored = len(data), len(items)
        flight = InFlight(counted(items), 0)
        finished = True
        self._unsettled = unsettled = {id(item): item for item in items}
        try:
            for start in range(0, len(items), self._batch_size):
                finished = self._deliver(flight, items[start:start + self._batch_size])
                left = [item for item in items if id(item) in unsettled]
                if not left:
                    segment.delete(row_id, count, size)
                    break
                if len(left) != stored:
                    segment.rewrite(row_id, count, size, left, spool.record_id)
                    count, size, stored = counted(left), segment.last_rewrite_size, len(left)
                if not finished:
                    break
        finally:
            self._unsettled = None
            self._advance_marks()
        return finished

    def _spool_in(self) -> int:
        """Move what waits in memory into the spool, as far as it has room."""
        spool = self._spool
        assert spool is not None
        buffer = self._buffer
        moved = 0
        while True:
            # One row per batch: a row is then sent whole (no rewrite of a
            # half-sent row) and a retry thaws one batch, not several. Rows of
            # four batches were measured no faster and 8 MB heavier in RSS.
            batch, upto = buffer.drain(self._batch_size)
            if not batch:
                return moved
            written, row_id, evicted = spool.append(batch, evict_oldest=self.options.overflow == "drop_oldest")
            if evicted:
                buffer.drop_spooled(evicted)
            rest = batch[written:]
            if rest:
                buffer.requeue(rest)
                waiting = [item[0] for item in rest if item[0]]  # a gap record has no sequence number
                if waiting:
                    upto = min(upto, waiting[0] - 1)
            if written:
                assert spool.own is not None
                self._marks.append((spool.own, row_id, upto))
                moved += written
            if rest:
                self._report("spool-full", f"the spool is full ({spool.max_bytes} bytes); records wait in memory")
                return moved

    def _advance_marks(self) -> None:
        marks = self._marks
        while marks:
            segment, last_id, upto = marks[0]
            first = segment.first_id() if segment.bytes > 0 else None
            if first is not None and first <= last_id:
                return
            self._buffer.advance(upto)
            marks.popleft()
