"""The bounded FIFO between the callers and the worker. No threads of its own.

Every record offered gets a sequence number, whether it is kept or dropped.
The worker reports what became of each batch (sent, failed, dropped) and up to
which sequence number everything is settled; ``flush`` waits on that
watermark. Drops are counted here, and turned into one *gap record* placed
where the lost records were once there is room again.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from typing import Any, Deque, List, Optional, Tuple

from ._schema import iso_timestamp
from ._snapshot import Aux, Item, counted

GAP_LOGGER = "threaded_logging"


def gap_item(count: int, first: float, last: float, why: str) -> Item:
    """The gap record that stands where ``count`` lost records were.

    Its message says how many were lost, between which times and ``why``;
    the fields ``dropped``, ``dropped_first`` and ``dropped_last`` say the
    same for machines. It has sequence number 0 (it is not counted) and an
    id of its own.
    """
    message = (
        f"threaded_logging dropped {count} record(s) logged between "
        f"{iso_timestamp(first, (first % 1) * 1000)} and "
        f"{iso_timestamp(last, (last % 1) * 1000)}: {why}"
    )
    record = logging.LogRecord(GAP_LOGGER, logging.WARNING, __file__, 0, message, None, None, "gap")
    record.dropped = count
    record.dropped_first = first
    record.dropped_last = last
    return (0, record, message, {"record_id": "gap-" + uuid.uuid4().hex})


class Counters:
    """Cumulative counts, all guarded by the buffer's lock."""

    __slots__ = ("emitted", "sent", "dropped", "failed", "retried", "batches")

    def __init__(self) -> None:
        self.emitted = self.sent = self.dropped = self.failed = 0
        self.retried = self.batches = 0


class InFlight:
    """Records the worker holds outside the buffer; settled once, by one side."""

    __slots__ = ("left", "upto", "abandoned")

    def __init__(self, left: int, upto: int) -> None:
        self.left = left
        self.upto = upto
        self.abandoned = False


class Buffer:
    """Bounded FIFO of snapshots with overflow policy and drop accounting.

    Args:
        capacity: records held at most (a pending gap record may add one).
        overflow: ``"drop_newest"``, ``"drop_oldest"`` or ``"block"``.
        block_timeout_s: with ``"block"``, seconds a caller waits for room
            before its record is dropped.
    """

    def __init__(self, capacity: int, overflow: str, block_timeout_s: float) -> None:
        self._capacity = capacity
        self._limit = capacity  # -1 once closed, so the fast path tests one thing
        self._overflow = overflow
        self._block_timeout_s = block_timeout_s
        self._items: Deque[Item] = collections.deque()
        self._lock = threading.Lock()  # guards: every attribute below
        self._room = threading.Condition(self._lock)
        self._settled_cond = threading.Condition(self._lock)
        self.counters = Counters()
        self.settled = 0
        self.closed = False
        self.untold = 0  # drops whose gap record was still waiting at close
        self._gap: Optional[List[Any]] = None  # [count, first_created, last_created]
        self._losses: Deque[List[int]] = collections.deque(maxlen=4096)

    # -- caller side --------------------------------------------------------

    def offer(self, record: logging.LogRecord, message: str, aux: Aux) -> int:
        """Append a snapshot; returns the queue length, or 0 if it was dropped."""
        with self._lock:
            counters = self.counters
            counters.emitted = seq = counters.emitted + 1
            items = self._items
            if len(items) < self._limit:
                if self._gap is not None and self._overflow != "drop_oldest":
                    items.append(self._gap_item())
                items.append((seq, record, message, aux))
                return len(items)
            if self._overflow == "drop_newest" and not self.closed:
                # the common overflow, once per call while full: inlined _drop
                counters.dropped += 1
                last = self._losses[-1] if self._losses else None
                if last is not None and last[1] + 1 == seq:
                    last[1] = seq
                else:
                    self._note_loss(seq, seq)
                gap = self._gap
                if gap is None:
                    self._gap = [1, record.created, record.created]
                else:
                    gap[0] += 1
                    gap[2] = record.created
                return 0
            if self.closed:
                self._drop(seq, record.created)
                return 0
            return self._make_room(seq, record, message, aux)

    def _make_room(self, seq: int, record: logging.LogRecord, message: str, aux: Aux) -> int:
        items = self._items
        if self._overflow == "drop_oldest":
            old = items.popleft()
            self._drop(old[0], old[1].created)
        else:  # block
            deadline = time.monotonic() + self._block_timeout_s
            while len(items) >= self._limit and not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._room.wait(remaining)
            if len(items) >= self._limit or self.closed:
                self._drop(seq, record.created)
                return 0
            if self._gap is not None:
                items.append(self._gap_item())
        items.append((seq, record, message, aux))
        return len(items)

    def _drop(self, seq: int, created: float) -> None:
        self.counters.dropped += 1
        losses = self._losses
        if losses and losses[-1][1] + 1 == seq:
            losses[-1][1] = seq
        else:
            self._note_loss(seq, seq)
        if self.closed:
            return
        gap = self._gap
        if gap is None:
            self._gap = [1, created, created]
        else:
            gap[0] += 1
            gap[2] = created

    def _note_loss(self, low: int, high: int) -> None:
        losses = self._losses
        if losses and losses[-1][1] + 1 >= low >= losses[-1][0]:
            losses[-1][1] = max(losses[-1][1], high)
        else:
            losses.append([low, high])

    def _gap_item(self) -> Item:
        count, first, last = self._gap or (0, 0.0, 0.0)
        self._gap = None
        why = f"the buffer was full (capacity {self._capacity}, overflow={self._overflow})"
        return gap_item(count, first, last, why)

    # -- worker side --------------------------------------------------------

    def drain(self, max_items: int) -> Tuple[List[Item], int]:
        """Take up to ``max_items`` from the front, FIFO.

        Returns:
            The items (a gap record may be added where lost records belong)
            and the sequence number up to which everything is settled once
            these items are.
        """
        with self._lock:
            items = self._items
            count = min(len(items), max_items)
            batch = [items.popleft() for _ in range(count)]
            if self._gap is not None:
                if self._overflow == "drop_oldest":
                    batch.insert(0, self._gap_item())
                elif not items:
                    batch.append(self._gap_item())
            upto = items[0][0] - 1 if items else self.counters.emitted
            if count and self._overflow == "block":
                self._room.notify_all()
            return batch, upto

    def begin(self, items: List[Item], upto: int) -> InFlight:
        """Mark a drained batch as in flight."""
        return InFlight(counted(items), upto)

    def account(
        self,
        flight: InFlight,
        items: List[Item],
        *,
        sent: bool = False,
        failed: bool = False,
        dropped: bool = False,
    ) -> bool:
        """Settle part of a batch as sent, failed or dropped.

        Returns False when ``close()`` had already given the batch up.
        """
        number = counted(items)
        with self._lock:
            if flight.abandoned:
                return False
            counters = self.counters
            if sent:
                counters.sent += number
            elif failed:
                counters.failed += number
            elif dropped:
                counters.dropped += number
            if (failed or dropped) and number:
                seqs = [item[0] for item in items if item[0]]
                self._note_loss(min(seqs), max(seqs))
            flight.left -= number
            return True

    def count(self, *, retried: int = 0, batches: int = 0) -> None:
        """Add to the attempt counters."""
        with self._lock:
            self.counters.retried += retried
            self.counters.batches += batches

    def finish(self, flight: InFlight) -> None:
        """The batch is settled: advance the watermark and wake flushers."""
        with self._lock:
            if flight.abandoned:
                return
            flight.left = 0
            self._advance(flight.upto)

    def settle_idle(self) -> None:
        """Nothing is in memory: everything offered so far is settled."""
        with self._lock:
            if not self._items:
                self._advance(self.counters.emitted)

    def advance(self, upto: int) -> None:
        """Everything up to ``upto`` is settled (spool mode: acknowledged from disk)."""
        with self._lock:
            self._advance(upto)

    def requeue(self, items: List[Item]) -> None:
        """Put drained items back at the front, in order (the spool had no room)."""
        with self._lock:
            self._items.extendleft(reversed(items))

    def adopt(self, count: int) -> int:
        """Count records recovered from an earlier run as emitted; returns the
        sequence number that settles them."""
        with self._lock:
            self.counters.emitted += count
            return self.counters.emitted

    def drop_spooled(self, items: List[Item]) -> None:
        """Count records evicted from a full spool (``drop_oldest``)."""
        with self._lock:
            for item in items:
                if item[0]:
                    self.counters.dropped += 1
                    gap = self._gap
                    created = item[1].created
                    if gap is None:
                        self._gap = [1, created, created]
                    else:
                        gap[0] += 1
                        gap[2] = created

    def _advance(self, upto: int) -> None:
        if upto > self.settled:
            self.settled = upto
            self._settled_cond.notify_all()

    # -- flush and close ------------------------------------------------------

    def mark(self) -> Tuple[int, int]:
        """``(settled, last offered)`` now: what a flush called now waits for."""
        with self._lock:
            return self.settled, self.counters.emitted

    def wait_settled(self, target: int, deadline: float) -> bool:
        """Wait until everything up to ``target`` is settled, or the deadline."""
        with self._lock:
            while self.settled < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled_cond.wait(remaining)
            return True

    def lost_between(self, low: int, high: int) -> bool:
        """Whether any record with ``low < seq <= high`` was dropped or failed."""
        with self._lock:
            return any(lo <= high and hi > low for lo, hi in self._losses)

    def close(self) -> None:
        """From now on every offer is dropped and counted; blocked callers wake."""
        with self._lock:
            self.closed = True
            self._limit = -1
            self._room.notify_all()

    def abandon(self, flight: Optional[InFlight]) -> int:
        """Count everything still held (queued and in flight) as dropped.

        Returns:
            How many records were given up.
        """
        with self._lock:
            lost = 0
            if flight is not None and not flight.abandoned:
                flight.abandoned = True
                lost += flight.left
            queued = [item for item in self._items if item[0]]
            self.untold = sum(getattr(item[1], "dropped", 0) for item in self._items if not item[0])
            self.untold += self._gap[0] if self._gap is not None else 0
            self._items.clear()
            self._gap = None
            lost += len(queued)
            self.counters.dropped += lost
            if lost:
                self._note_loss(self.settled + 1, self.counters.emitted)
            self._advance(self.counters.emitted)
            return lost

    def snapshot_counters(self) -> dict[str, int]:
        """A consistent copy of the counters plus ``queued``."""
        with self._lock:
            c = self.counters
            return {
                "emitted": c.emitted,
                "sent": c.sent,
                "dropped": c.dropped,
                "failed": c.failed,
                "retried": c.retried,
                "batches": c.batches,
                "queued": sum(1 for item in self._items if item[0]),
            }
