"""The bounded FIFO and the ledger: order, overflow policies, gap records, the settled watermark."""

from __future__ import annotations

import logging
import threading
import time

from threaded_logging._buffer import Buffer
from threaded_logging._ledger import Ledger


def rec(i: int) -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "n=%d", (i,), None)
    record.created = 1000.0 + i
    return record


def make(capacity: int, overflow: str, block_timeout: float) -> Buffer:
    return Buffer(capacity, overflow, block_timeout, Ledger())


class Flight:
    abandoned = False


def fill(buffer: Buffer, count: int, start: int = 0) -> list:
    return [buffer.offer(rec(i), f"n={i}", None) for i in range(start, start + count)]


def messages(items: list) -> list:
    return [item[2] for item in items]


class TestBuffer:
    def test_fifo_across_drains(self) -> None:
        """Records come out in the order they went in, across several drains."""
        buffer = make(100, "drop_newest", 0)
        fill(buffer, 25)
        out = []
        for _ in range(3):
            batch = buffer.drain(10)
            out += messages(batch)
        assert out == [f"n={i}" for i in range(25)]

    def test_drop_newest_counts_and_places_gap_before_next_record(self) -> None:
        """Overflow drops the new records, counts them, and one gap record marks the spot."""
        buffer = make(3, "drop_newest", 0)
        assert fill(buffer, 5) == [1, 2, 3, 0, 0]
        assert buffer._ledger.dropped == 2
        batch = buffer.drain(2)
        assert messages(batch) == ["n=0", "n=1"]
        fill(buffer, 1, start=5)
        batch = buffer.drain(10)
        assert messages(batch)[0] == "n=2"
        gap = batch[1]
        assert gap[0] == 0 and gap[1].name == "threaded_logging" and gap[1].levelno == logging.WARNING
        assert gap[3] is not None and gap[3]["record_id"].startswith("gap-"), "a gap record has an id of its own"
        assert gap[1].dropped == 2
        assert (gap[1].dropped_first, gap[1].dropped_last) == (1003.0, 1004.0)
        assert gap[1].created == 1003.0, "it takes the first lost record's time: time-ordered stores show it in place"
        assert "dropped 2 record(s)" in gap[2] and "capacity 3, overflow=drop_newest" in gap[2]
        assert messages(batch)[2] == "n=5"

    def test_gap_ships_when_buffer_empties_without_new_records(self) -> None:
        """Once the worker has drained everything, the pending gap record ships."""
        buffer = make(2, "drop_newest", 0)
        fill(buffer, 3)
        batch = buffer.drain(10)
        assert messages(batch)[:2] == ["n=0", "n=1"] and batch[2][0] == 0
        buffer.publish(None)
        assert buffer._ledger.position() == (3, 3), "nothing is held: everything offered is settled"

    def test_drop_oldest_keeps_newest_and_gap_goes_first(self) -> None:
        """drop_oldest discards the oldest queued records; the gap leads the next batch."""
        buffer = make(3, "drop_oldest", 0)
        fill(buffer, 6)
        assert buffer._ledger.dropped == 3
        batch = buffer.drain(10)
        assert batch[0][0] == 0 and batch[0][1].dropped == 3
        assert messages(batch[1:]) == ["n=3", "n=4", "n=5"]

    def test_block_waits_for_room_then_accepts(self) -> None:
        """With 'block' the caller waits until the worker makes room."""
        buffer = make(1, "block", 5.0)
        fill(buffer, 1)
        threading.Timer(0.2, lambda: buffer.drain(1)).start()
        started = time.monotonic()
        assert buffer.offer(rec(1), "n=1", None) == 1
        assert 0.1 < time.monotonic() - started < 4.0
        assert buffer._ledger.dropped == 0

    def test_block_times_out_and_drops(self) -> None:
        """With 'block' a caller gives up after block_timeout and the record is counted."""
        buffer = make(1, "block", 0.1)
        fill(buffer, 1)
        started = time.monotonic()
        assert buffer.offer(rec(1), "n=1", None) == 0
        assert time.monotonic() - started >= 0.09
        assert buffer._ledger.dropped == 1

    def test_closed_buffer_counts_offers_as_dropped(self) -> None:
        """After close every offer is dropped and counted, with no gap record."""
        buffer = make(10, "drop_newest", 0)
        buffer.close()
        fill(buffer, 2)
        assert buffer._ledger.dropped == 2 and buffer.drain(10) == []

    def test_watermark_follows_the_first_record_still_held(self) -> None:
        """The watermark stops below the first record held in memory or by the worker."""
        buffer = make(10, "drop_newest", 0)
        fill(buffer, 4)
        batch = buffer.drain(2)  # 1 and 2 are in flight, 3 and 4 queued
        buffer.publish(batch[0][0])
        assert buffer._ledger.position() == (0, 4)
        buffer.publish(None)
        assert buffer._ledger.position() == (2, 4), "3 is the first record still queued"
        buffer.drain(2)
        buffer.publish(None)
        assert buffer._ledger.position() == (4, 4)

    def test_settle_counts_and_losses(self) -> None:
        """Settled records are counted once; failed ones show as losses for flush()."""
        ledger = Ledger()
        flight = Flight()
        assert ledger.settle(flight, sent=3, duplicates=1, failed=[4], batches=1, retried=1)
        counts = ledger.counters()
        assert (counts["sent"], counts["duplicates"], counts["failed"], counts["batches"], counts["retried"]) == (3, 1, 1, 1, 1)
        assert ledger.lost_between(3, 4) and not ledger.lost_between(0, 3)

    def test_abandon_counts_in_flight_once_and_freezes_the_batch(self) -> None:
        """abandon() counts the open records of a batch as dropped once; later settles count nothing."""
        buffer = make(10, "drop_newest", 0)
        fill(buffer, 5)
        buffer.drain(2)
        ledger, flight = buffer._ledger, Flight()
        assert ledger.abandon(flight, [1, 2]) == 2 and ledger.abandon(flight, [1, 2]) == 0
        assert not ledger.settle(flight, sent=2)
        assert buffer.clear() == 3
        counts = ledger.counters()
        assert counts["dropped"] == 5 and counts["sent"] == 0 and buffer.queued() == 0
