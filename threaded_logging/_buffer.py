"""The bounded FIFO between the callers and the worker. No threads of its own.

Every record offered gets the handler's next sequence number, whether it is
kept or dropped. When the buffer is full the overflow policy applies; drops
are counted in the :class:`~threaded_logging._ledger.Ledger` and turned
into one *gap record* placed where the lost records were, once there is
room again.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Deque, List, Optional, Sequence, Tuple

from ._ledger import Ledger
from ._schema import iso_timestamp
from ._snapshot import RECORD, SEQ, Aux, Item

if TYPE_CHECKING:
    from ._journal import Journal

GAP_LOGGER = "threaded_logging"


def gap_item(count: int, first: float, last: float, why: str) -> Item:
    """The gap record that stands where ``count`` lost records were.

    Its message says how many were lost, between which times and ``why``;
    the fields ``dropped``, ``dropped_first`` and ``dropped_last`` say the
    same for machines. It has sequence number 0 (it is not counted), an id
    of its own, and the time of the first lost record, so destinations that
    order by time (Loki, OTLP backends) show it where the records were lost.
    """
    message = (
        f"threaded_logging dropped {count} record(s) logged between "
        f"{iso_timestamp(first, (first % 1) * 1000)} and "
        f"{iso_timestamp(last, (last % 1) * 1000)}: {why}"
    )
    record = logging.LogRecord(GAP_LOGGER, logging.WARNING, __file__, 0, message, None, None, "gap")
    record.created, record.msecs = first, (first % 1) * 1000
    record.dropped = count
    record.dropped_first = first
    record.dropped_last = last
    return (0, record, message, {"record_id": "gap-" + uuid.uuid4().hex})


class _Gap:
    """Drops not yet told by a gap record."""

    __slots__ = ("count", "first", "last")

    def __init__(self, created: float) -> None:
        self.count = 1
        self.first = self.last = created

    def add(self, created: float) -> None:
        self.count += 1
        self.last = created


class Buffer:
    """Bounded FIFO of snapshots with the overflow policy and gap records.

    Args:
        capacity: records held at most (a pending gap record may add one).
        overflow: ``"drop_newest"``, ``"drop_oldest"`` or ``"block"``.
        block_timeout_s: with ``"block"``, seconds a caller waits for room
            before its record is dropped.
        ledger: where offers and drops are counted; its lock guards this
            buffer too.
        journal: where each kept record's snapshot is written before
            ``offer`` returns (``journal=True``), or None.
    """

    def __init__(self, capacity: int, overflow: str, block_timeout_s: float, ledger: Ledger,
                 journal: Optional["Journal"] = None) -> None:
        self._capacity = capacity
        self._limit = capacity  # -1 once closed, so the fast path tests one thing
        self._overflow = overflow
        self._block_timeout_s = block_timeout_s
        self._ledger = ledger
        self._lock = ledger.lock
        self._room = threading.Condition(self._lock)
        self._items: Deque[Item] = collections.deque()  # guards: self._lock
        self._gap: Optional[_Gap] = None  # guards: self._lock
        self._journal = journal  # written under self._lock, in sequence order
        self.closed = False
        self.untold = 0  # drops whose gap record was still waiting at close

    # -- caller side --------------------------------------------------------

    def offer(self, record: logging.LogRecord, message: str, aux: Aux,
              payload: Optional[Tuple[bytes, int]] = None) -> int:
        """Append a snapshot; returns the queue length, or 0 if it was dropped.

        ``payload`` (with a journal) is the record's journal entry and its
        checksum, written with its sequence number if the record is kept.
        """
        with self._lock:
            ledger = self._ledger
            ledger.emitted = seq = ledger.emitted + 1
            items = self._items
            if len(items) < self._limit:
                if self._gap is not None and self._overflow != "drop_oldest":
                    items.append(self._gap_item())
                items.append((seq, record, message, aux))
                if payload is not None and not self._journal.append(seq, *payload):  # type: ignore[union-attr]
                    ledger.unjournaled += 1  # the journal is full: in memory only
                return len(items)
            if self._overflow == "block" and not self.closed:
                return self._wait_for_room(seq, record, message, aux, payload)
            if self._overflow == "drop_oldest" and not self.closed:
                old = items.popleft()
                items.append((seq, record, message, aux))
                if payload is not None:
                    self._journaled(seq, payload)
                self._drop(old[SEQ], old[RECORD].created)
                return len(items)
            self._drop(seq, record.created)
            return 0

    def _journaled(self, seq: int, payload: Tuple[bytes, int]) -> None:
        journal = self._journal
        if journal is None or not journal.append(seq, *payload):
            self._ledger.unjournaled += 1  # full (or not encodable): in memory only

    def _wait_for_room(self, seq: int, record: logging.LogRecord, message: str, aux: Aux,
                       payload: Optional[Tuple[bytes, int]]) -> int:
        items = self._items
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
        if payload is not None:
            self._journaled(seq, payload)
        return len(items)

    def _drop(self, seq: int, created: float) -> None:
        ledger = self._ledger
        ledger.dropped += 1
        if seq:
            ledger.note_loss(seq, seq)
        if self.closed:
            return
        if self._gap is None:
            self._gap = _Gap(created)
        else:
            self._gap.add(created)

    def _gap_item(self) -> Item:
        gap, self._gap = self._gap, None
        assert gap is not None
        why = f"the buffer was full (capacity {self._capacity}, overflow={self._overflow})"
        return gap_item(gap.count, gap.first, gap.last, why)

    # -- worker side --------------------------------------------------------

    def drain(self, max_items: int) -> List[Item]:
        """Take up to ``max_items`` from the front, FIFO; a pending gap record
        is added where the lost records belong."""
        with self._lock:
            items = self._items
            count = min(len(items), max_items)
            if count == len(items):  # all of it (the usual case): one C-level copy under the lock
                batch = list(items)
                items.clear()
            else:
                batch = [items.popleft() for _ in range(count)]
            if self._gap is not None:
                if self._overflow == "drop_oldest":
                    batch.insert(0, self._gap_item())
                elif not items:
                    batch.append(self._gap_item())
            if count and self._overflow == "block":
                self._room.notify_all()
            return batch

    def requeue(self, items: Sequence[Item]) -> None:
        """Put drained items back at the front, in order (the spool had no room)."""
        with self._lock:
            self._items.extendleft(reversed(items))

    def drop_evicted(self, items: Sequence[Item]) -> None:
        """Count records evicted from a full spool as dropped; a gap record tells."""
        with self._lock:
            for item in items:
                if item[SEQ]:
                    self._drop(item[SEQ], item[RECORD].created)

    def publish(self, held_first: Optional[int]) -> None:
        """Advance the settled watermark (worker thread).

        ``held_first`` is the smallest sequence number the worker still
        holds outside this buffer (in flight or in the spool), or None. The
        worker is the only one that moves records out, so the smallest of
        that and this buffer's head is the first unsettled record.
        """
        with self._lock:
            firsts = [seq for seq in (held_first, self._first_seq()) if seq]
            self._ledger.advance(min(firsts) - 1 if firsts else self._ledger.emitted)

    def _first_seq(self) -> Optional[int]:
        for item in self._items:  # gap records (seq 0) are rare and few
            if item[SEQ]:
                return item[SEQ]
        return None

    def journal_done(self) -> None:
        """Everything no longer held only in memory needs no replay (worker
        thread, after moving memory to the spool)."""
        if self._journal is None:
            return
        with self._lock:
            first = self._first_seq()
            self._journal.mark_done(first - 1 if first else self._ledger.emitted)

    def waiting(self) -> int:
        """Items waiting, gap records included (a cheap look, without the lock)."""
        return len(self._items)

    def queued(self) -> int:
        """User records waiting (gap records not counted)."""
        with self._lock:
            return sum(1 for item in self._items if item[SEQ])

    # -- close ------------------------------------------------------------------

    def close(self) -> None:
        """From now on every offer is dropped and counted; blocked callers wake."""
        with self._lock:
            self.closed = True
            self._limit = -1
            self._room.notify_all()

    def clear(self) -> int:
        """Count everything still queued as dropped (at the shutdown deadline).

        Returns:
            How many records were given up. Drops whose gap record was never
            sent are added to :attr:`untold`.
        """
        with self._lock:
            ledger = self._ledger
            queued = [item[SEQ] for item in self._items if item[SEQ]]
            self.untold += sum(getattr(item[RECORD], "dropped", 0) for item in self._items if not item[SEQ])
            if self._gap is not None:
                self.untold += self._gap.count
            self._items.clear()
            self._gap = None
            ledger.dropped += len(queued)
            ledger.note_losses(queued)
            return len(queued)
