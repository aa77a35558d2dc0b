"""The bounded FIFO: order, overflow policies, gap records, the settled watermark."""

from __future__ import annotations

import logging
import threading
import time

from threaded_logging._buffer import Buffer, InFlight


def rec(i: int) -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "n=%d", (i,), None)
    record.created = 1000.0 + i
    return record


def fill(buffer: Buffer, count: int, start: int = 0) -> list:
    return [buffer.offer(rec(i), f"n={i}", None) for i in range(start, start + count)]


def messages(items: list) -> list:
    return [item[2] for item in items]


class TestBuffer:
    def test_fifo_across_drains(self) -> None:
        """Records come out in the order they went in, across several drains."""
        buffer = Buffer(100, "drop_newest", 0)
        fill(buffer, 25)
        out = []
        for _ in range(3):
            batch, _ = buffer.drain(10)
            out += messages(batch)
        assert out == [f"n={i}" for i in range(25)]

    def test_drop_newest_counts_and_places_gap_before_next_record(self) -> None:
        """Overflow drops the new records, counts them, and one gap record marks the spot."""
        buffer = Buffer(3, "drop_newest", 0)
        assert fill(buffer, 5) == [1, 2, 3, 0, 0]
        assert buffer.counters.dropped == 2
        batch, _ = buffer.drain(2)
        assert messages(batch) == ["n=0", "n=1"]
        fill(buffer, 1, start=5)
        batch, _ = buffer.drain(10)
        assert messages(batch)[0] == "n=2"
        gap = batch[1]
        assert gap[0] == 0 and gap[1].name == "threaded_logging" and gap[1].levelno == logging.WARNING
        assert gap[1].dropped == 2
        assert (gap[1].dropped_first, gap[1].dropped_last) == (1003.0, 1004.0)
        assert "dropped 2 record(s)" in gap[2] and "capacity 3, overflow=drop_newest" in gap[2]
        assert messages(batch)[2] == "n=5"

    def test_gap_ships_when_buffer_empties_without_new_records(self) -> None:
        """Once the worker has drained everything, the pending gap record ships."""
        buffer = Buffer(2, "drop_newest", 0)
        fill(buffer, 3)
        batch, upto = buffer.drain(10)
        assert messages(batch)[:2] == ["n=0", "n=1"] and batch[2][0] == 0
        assert upto == 3

    def test_drop_oldest_keeps_newest_and_gap_goes_first(self) -> None:
        """drop_oldest discards the oldest queued records; the gap leads the next batch."""
        buffer = Buffer(3, "drop_oldest", 0)
        fill(buffer, 6)
        assert buffer.counters.dropped == 3
        batch, _ = buffer.drain(10)
        assert batch[0][0] == 0 and batch[0][1].dropped == 3
        assert messages(batch[1:]) == ["n=3", "n=4", "n=5"]

    def test_block_waits_for_room_then_accepts(self) -> None:
        """With 'block' the caller waits until the worker makes room."""
        buffer = Buffer(1, "block", 5.0)
        fill(buffer, 1)
        threading.Timer(0.2, lambda: buffer.drain(1)).start()
        started = time.monotonic()
        assert buffer.offer(rec(1), "n=1", None) == 1
        assert 0.1 < time.monotonic() - started < 4.0
        assert buffer.counters.dropped == 0

    def test_block_times_out_and_drops(self) -> None:
        """With 'block' a caller gives up after block_timeout and the record is counted."""
        buffer = Buffer(1, "block", 0.1)
        fill(buffer, 1)
        started = time.monotonic()
        assert buffer.offer(rec(1), "n=1", None) == 0
        assert time.monotonic() - started >= 0.09
        assert buffer.counters.dropped == 1

    def test_closed_buffer_counts_offers_as_dropped(self) -> None:
        """After close every offer is dropped and counted, with no gap record."""
        buffer = Buffer(10, "drop_newest", 0)
        buffer.close()
        fill(buffer, 2)
        assert buffer.counters.dropped == 2 and buffer.drain(10)[0] == []

    def test_watermark_and_losses(self) -> None:
        """finish() advances the settled watermark; failed records show as losses."""
        buffer = Buffer(10, "drop_newest", 0)
        fill(buffer, 4)
        batch, upto = buffer.drain(2)
        flight = buffer.begin(batch, upto)
        buffer.account(flight, batch[:1], sent=True)
        buffer.account(flight, batch[1:], failed=True)
        buffer.finish(flight)
        assert buffer.settled == 2 and buffer.mark() == (2, 4)
        assert buffer.lost_between(0, 2) and not buffer.lost_between(2, 4)
        assert buffer.counters.sent == 1 and buffer.counters.failed == 1

    def test_abandon_counts_queued_and_in_flight(self) -> None:
        """abandon() counts queued plus unsettled in-flight records as dropped, once."""
        buffer = Buffer(10, "drop_newest", 0)
        fill(buffer, 5)
        batch, upto = buffer.drain(2)
        flight: InFlight = buffer.begin(batch, upto)
        assert buffer.abandon(flight) == 5
        assert not buffer.account(flight, batch, sent=True)
        counts = buffer.snapshot_counters()
        assert counts["dropped"] == 5 and counts["sent"] == 0 and counts["queued"] == 0
