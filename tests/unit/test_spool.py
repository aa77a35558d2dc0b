"""Spool building blocks: freezing snapshots, file names, segments."""

from __future__ import annotations

import logging
from pathlib import Path

from threaded_logging._spool import Spool, freeze, identity_filename, thaw


def item(i: int, **extra: object) -> tuple:
    record = logging.makeLogRecord({"name": "s", "levelno": 30, "levelname": "WARNING", "msg": "n=%d", "args": (i,), **extra})
    return (i, record, f"n={i}", None)


def rid(it: tuple) -> str:
    return f"id-{it[0]}"


class TestFreeze:
    def test_round_trip_keeps_message_and_fields(self) -> None:
        """A frozen snapshot thaws to a record with the same message, level and extras."""
        seq, record, message, aux = thaw(freeze(item(5, user="u", obj=object()), "abc-5"))
        assert (seq, message, record.getMessage(), record.levelname, record.user) == (5, "n=5", "n=5", "WARNING", "u")
        assert record.obj.startswith("<object object")
        assert aux == {"record_id": "abc-5"}, "the record's id is stored with it"

    def test_keys_that_are_not_strings_freeze_as_alone(self) -> None:
        """A batch freezes each record as freeze() alone would, int-keyed extras included."""
        from threaded_logging._freeze import freeze_all

        odd = item(2, ctx={1: "one", None: "none"})
        odd[1].__dict__[3] = "int attribute"
        items = [item(1, user="u"), odd]
        assert freeze_all(items, rid) == [freeze(it, rid(it)) for it in items]
        record = thaw(freeze_all([odd], rid)[0])[1]
        assert record.ctx == {"1": "one", "null": "none"} and record.__dict__["3"] == "int attribute"

    def test_identity_filename_is_safe_and_distinct(self) -> None:
        """Identities become distinct, path-safe file stems."""
        a = identity_filename("POST http://127.0.0.1:80/x")
        b = identity_filename("POST http://127.0.0.1:81/x")
        assert a != b and "/" not in a and ":" not in a


def spool_at(path: Path, identity: str = "id", max_bytes: int = 1 << 20) -> Spool:
    return Spool(str(path), identity, max_bytes, lambda *a, **k: True, rid)


def messages(items: list) -> list:
    return [it[2] for it in items]


class TestSpool:
    def test_fifo_put_peek_settle_and_bound(self, tmp_path: Path) -> None:
        """Records come back oldest first; settling frees room; the bound stops puts."""
        spool = spool_at(tmp_path, max_bytes=8192)
        assert spool.put([item(i) for i in range(1, 4)]).stored == 3
        result = spool.put([item(i) for i in range(4, 100)])
        assert 0 < result.stored < 96 and spool.size <= 8192 and result.evicted == []
        assert spool.put([item(200)] * 50).stored == 0, "nothing more fits"
        batch = spool.peek(max_records=3)
        assert batch is not None and messages(batch.items) == ["n=1", "n=2", "n=3"]
        before = spool.size
        spool.settle(batch, [])
        assert spool.rows == result.stored and spool.size < before

    def test_settle_keeps_exactly_the_open_records(self, tmp_path: Path) -> None:
        """A partly settled batch stays on disk with only its open records, which come back next."""
        spool = spool_at(tmp_path)
        spool.put([item(i) for i in range(1, 6)])
        batch = spool.peek(10)
        assert batch is not None and spool.first_seq() == 1
        spool.settle(batch, [batch.items[1], batch.items[3]])
        assert spool.rows == 2 and spool.first_seq() == 2
        spool.settle(batch, [])
        assert spool.rows == 0 and spool.first_seq() is None and spool.peek(10) is None

    def test_eviction_spares_the_batch_in_flight(self, tmp_path: Path) -> None:
        """drop_oldest evicts the oldest stored records, never the batch being sent."""
        spool = spool_at(tmp_path, max_bytes=16384)
        for start in range(1, 200, 10):
            spool.put([item(i) for i in range(start, start + 10)])
        in_flight = spool.peek(10)
        assert in_flight is not None and messages(in_flight.items)[0] == "n=1"
        result = spool.put([item(i) for i in range(500, 520)], evict_oldest=True)
        assert result.stored == 20 and result.evicted
        assert "n=1" not in messages(result.evicted) and messages(result.evicted)[0] == "n=11"
        spool.settle(in_flight, [])

    def test_adopts_unlocked_segments_only_and_numbers_their_records(self, tmp_path: Path) -> None:
        """A segment held by a live owner is not adopted; once released its records get fresh local numbers."""
        first = spool_at(tmp_path, "same")
        first.put([item(i) for i in range(1, 4)])
        second = spool_at(tmp_path, "same")
        assert second.adopt(lambda n: 1) == (0, 0)
        first.close()
        reserved: list = []
        assert second.adopt(lambda n: reserved.append(n) or 101) == (3, 0) and reserved == [3]
        batch = second.peek(10)
        assert batch is not None and [it[0] for it in batch.items] == [101, 102, 103]
        assert [it[3]["record_id"] for it in batch.items] == ["id-1", "id-2", "id-3"], "ids are kept"
        second.settle(batch, [])
        second.close()
        assert not list(tmp_path.glob("*.spool")), "an emptied adopted file is removed"

    def test_close_reports_what_stays_on_disk(self, tmp_path: Path) -> None:
        """After close the records left on disk are still reported, and their file is kept."""
        spool = spool_at(tmp_path)
        spool.put([item(i) for i in range(1, 4)])
        rows, size = spool.rows, spool.size
        spool.close()
        assert (spool.rows, spool.size) == (rows, size) and list(tmp_path.glob("*.spool"))

    def test_files_stay_within_the_bound_while_full_and_churning(self, tmp_path: Path) -> None:
        """While full, with rows settled and stored over and over, the files (log included) stay within 1.1 x the bound + 1 MiB."""
        bound = 300_000
        spool = spool_at(tmp_path, max_bytes=bound)
        worst = 0
        seq = 1
        for _ in range(60):
            batch_items = [item(i, pad="x" * 300) for i in range(seq, seq + 200)]
            seq += 200
            spool.put(batch_items)
            worst = max(worst, spool.disk_bytes())
            batch = spool.peek(150)
            if batch is not None:
                spool.settle(batch, batch.items[100:])
                spool.settle(batch, [])
            worst = max(worst, spool.disk_bytes())
        assert spool.size <= bound
        assert worst <= bound * 1.1 + (1 << 20), worst

    def test_records_just_stored_come_back_from_memory_while_delivery_works(self, tmp_path: Path) -> None:
        """Once a batch was delivered whole, the next rows come back as the records stored; after a failure, from disk."""
        spool = spool_at(tmp_path)
        first = [item(1)]
        spool.put(first)
        batch = spool.peek(10)
        assert batch is not None and batch.items[0] is not first[0], "no delivery yet: read back from disk"
        spool.settle(batch, [])
        stored = [item(i) for i in range(2, 6)]
        spool.put(stored)
        batch = spool.peek(10)
        assert batch is not None and all(a is b for a, b in zip(batch.items, stored)) and len(batch.items) == 4
        spool.put([item(6)])
        spool.settle(batch, batch.items[2:])  # the destination failed: what waits is on disk only
        spool.settle(batch, [])
        batch = spool.peek(10)
        assert batch is not None and messages(batch.items) == ["n=6"] and spool._kept == 0
        spool.settle(batch, [])
        assert spool.rows == 0

class TestJournalFile:
    def test_entries_round_trip_and_done_ones_are_not_replayed(self, tmp_path: Path) -> None:
        """Entries written are read back in order with their ids; those marked done are not."""
        from threaded_logging import _journal

        journal = _journal.Journal(str(tmp_path / "t.journal"), 64 * 1024, "pfx-", "stem")
        for seq in range(1, 6):
            record = logging.makeLogRecord({"name": "j", "msg": "x", "levelno": 20, "levelname": "INFO", "n": seq})
            assert journal.append(seq, *_journal.encode(record, f"m{seq}", None))
        journal.mark_done(2)
        contents = _journal.read(str(tmp_path / "t.journal"))
        assert contents is not None and (contents.stem, contents.prefix, contents.done_seq) == ("stem", "pfx-", 2)
        items = _journal.items_from(contents, contents.done_seq)
        assert [(it[0], it[2], it[1].n, it[3]["record_id"]) for it in items] == [
            (3, "m3", 3, "pfx-3"), (4, "m4", 4, "pfx-4"), (5, "m5", 5, "pfx-5")]

    def test_the_ring_wraps_and_a_full_one_refuses(self, tmp_path: Path) -> None:
        """Entries done free room at the start of the ring; with nothing done, a full journal refuses."""
        from threaded_logging import _journal

        journal = _journal.Journal(str(tmp_path / "r.journal"), 64 * 1024, "p-", "s")
        import zlib

        payload = (b"x" * 1000, zlib.adler32(b"x" * 1000))
        written = 0
        while journal.append(written + 1, *payload):
            written += 1
        assert 50 < written <= 64, "about 64 KiB of 1 KiB entries"
        journal.mark_done(written - 5)
        for seq in range(written + 1, written + 20):
            assert journal.append(seq, b"y" * 1000, zlib.adler32(b"y" * 1000))
        contents = _journal.read(str(tmp_path / "r.journal"))
        assert contents is not None
        assert [seq for seq, _ in contents.entries] == list(range(written - 4, written + 20)), "in order, across the wrap"
