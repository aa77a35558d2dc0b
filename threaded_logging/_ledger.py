"""What became of every record, counted once: counters, losses, the settled watermark.

The buffer counts ``emitted`` and ``dropped`` as callers offer records; the
send loop counts the rest as each record is settled, and publishes up to
which sequence number everything is settled. ``flush()`` waits on that
watermark and asks whether anything in its range was lost.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Deque, Dict, Iterable, List, Protocol, Sequence, Tuple

#: Loss ranges kept for ``flush()``'s answer; older ones are forgotten.
MAX_LOSS_RANGES = 4096

COUNTERS = ("emitted", "sent", "dropped", "failed", "duplicates", "retried", "batches", "resent", "unjournaled")


class _Flight(Protocol):
    abandoned: bool


class Ledger:
    """The cumulative counters of one handler, and the settled watermark.

    The lock is shared with the handler's :class:`~threaded_logging._buffer.Buffer`,
    whose ``offer`` updates ``emitted`` and ``dropped`` while holding it.

    Attributes:
        emitted, sent, dropped, failed, duplicates, retried, batches,
        resent, unjournaled: the counters of ``stats()``.
        settled_upto: every record with a sequence number up to this one is
            settled (delivered, failed or dropped).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards: every attribute here, and the buffer's
        self._changed = threading.Condition(self.lock)
        self.emitted = self.sent = self.dropped = self.failed = 0
        self.duplicates = self.retried = self.batches = self.resent = self.unjournaled = 0
        self.settled_upto = 0
        self._waiting = 0  # flush() calls waiting on _changed
        self._losses: Deque[List[int]] = collections.deque(maxlen=MAX_LOSS_RANGES)

    # -- with the lock held ------------------------------------------------------

    def note_loss(self, low: int, high: int) -> None:
        """Records ``low..high`` were dropped or failed (lock held)."""
        losses = self._losses
        if losses and losses[-1][1] + 1 >= low >= losses[-1][0]:
            losses[-1][1] = max(losses[-1][1], high)
        else:
            losses.append([low, high])

    def note_losses(self, seqs: Iterable[int]) -> None:
        """Each sequence number in ``seqs`` (ascending) was lost (lock held)."""
        for seq in seqs:
            if seq:
                self.note_loss(seq, seq)

    def advance(self, upto: int) -> None:
        """Everything up to ``upto`` is settled; wake flushers (lock held)."""
        if upto > self.settled_upto:
            self.settled_upto = upto
            self._changed.notify_all()

    # -- any thread ----------------------------------------------------------------

    def settle(self, flight: _Flight, *, sent: int = 0, duplicates: int = 0, failed: Sequence[int] = (),
               batches: int = 0, retried: int = 0) -> bool:
        """Count records of a batch in flight as settled.

        ``sent`` includes ``duplicates``; ``failed`` lists the sequence
        numbers rejected for good. Returns False, counting nothing, when
        ``close()`` gave the batch up already.
        """
        with self.lock:
            if flight.abandoned:
                return False
            self.sent += sent
            self.duplicates += duplicates
            self.failed += len(failed)
            self.batches += batches
            self.retried += retried
            self.note_losses(failed)
            return True

    def abandon(self, flight: _Flight, seqs: Sequence[int]) -> int:
        """Count the open records of a batch in flight as dropped, once; from
        now on nothing of that batch is counted. Returns how many."""
        with self.lock:
            if flight.abandoned:
                return 0
            flight.abandoned = True
            self.dropped += len(seqs)
            self.note_losses(seqs)
            return len(seqs)

    def release_waiters(self) -> None:
        """Everything emitted so far is settled or given up: wake every flush."""
        with self.lock:
            self.advance(self.emitted)

    def count(self, **amounts: int) -> None:
        """Add to counters by name, e.g. ``count(retried=1)``."""
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def reserve(self, count: int) -> int:
        """Count ``count`` records recovered from disk as emitted; returns the
        first of the sequence numbers they get."""
        with self.lock:
            first = self.emitted + 1
            self.emitted += count
            return first

    def position(self) -> Tuple[int, int]:
        """``(settled_upto, emitted)`` now: what a flush called now waits for."""
        with self.lock:
            return self.settled_upto, self.emitted

    def wait_settled(self, target: int, deadline: float) -> bool:
        """Wait until everything up to ``target`` is settled, or ``deadline`` (monotonic)."""
        with self.lock:
            self._waiting += 1
            try:
                while self.settled_upto < target:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(remaining)
                return True
            finally:
                self._waiting -= 1

    def has_waiters(self) -> bool:
        """Whether a ``flush()`` waits for delivery now."""
        return self._waiting > 0

    def lost_between(self, low: int, high: int) -> bool:
        """Whether any record with ``low < seq <= high`` was dropped or failed."""
        with self.lock:
            return any(lo <= high and hi > low for lo, hi in self._losses)

    def counters(self) -> Dict[str, Any]:
        """A consistent copy of the counters."""
        with self.lock:
            return {name: getattr(self, name) for name in COUNTERS}
