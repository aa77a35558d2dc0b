"""Spool building blocks: freezing snapshots, file names, segments."""

from __future__ import annotations

import logging
from pathlib import Path

from threaded_logging._spool import Segment, Spool, freeze, identity_filename, thaw


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

    def test_identity_filename_is_safe_and_distinct(self) -> None:
        """Identities become distinct, path-safe file stems."""
        a = identity_filename("POST http://127.0.0.1:80/x")
        b = identity_filename("POST http://127.0.0.1:81/x")
        assert a != b and "/" not in a and ":" not in a


class TestSpool:
    def test_fifo_append_head_delete_and_bound(self, tmp_path: Path) -> None:
        """Batches come back oldest first; deleting frees bytes; the bound stops appends."""
        spool = Spool(str(tmp_path), "id", max_bytes=8192, report=lambda *a, **k: None, record_id=rid)
        assert spool.append([item(i) for i in range(3)])[0] == 3
        written, _, evicted = spool.append([item(i) for i in range(3, 100)])
        assert 0 < written < 97 and spool.size <= 8192 and evicted == []
        assert spool.append([item(200)] * 50)[0] == 0, "nothing more fits"
        segment, row, items = spool.head()
        assert segment is not None and row is not None
        assert [it[2] for it in items] == ["n=0", "n=1", "n=2"]
        before = spool.size
        segment.delete(row[0], row[1], len(row[3]))
        assert spool.rows == written and spool.size < before
        newer = [item(i) for i in range(300, 320)]
        assert spool.append(newer)[0] < 20, "without eviction these do not all fit"
        stored, _, evicted = spool.append(newer, evict_oldest=True)
        assert stored == 20 and [it[2] for it in evicted][:1] == ["n=3"], "the oldest batch made room"
        rows, size = spool.rows, spool.size
        spool.close()
        assert (spool.rows, spool.size) == (rows, size), "what stays on disk is still reported"
        assert list(tmp_path.glob("*.spool")), "rows left on disk keep their file"

    def test_adopts_unlocked_segments_only(self, tmp_path: Path) -> None:
        """A segment whose lock is held by a live owner is not adopted; once released it is."""
        first = Spool(str(tmp_path), "same", 1 << 20, lambda *a, **k: None, rid)
        first.append([item(1)])
        second = Spool(str(tmp_path), "same", 1 << 20, lambda *a, **k: None, rid)
        assert second.adopt_orphans() == []
        first.close()
        adopted = second.adopt_orphans()
        assert len(adopted) == 1 and second.open_all() == 1
        assert isinstance(adopted[0], Segment)
        second.close()


class TestSpoolIn:
    def test_records_requeued_behind_a_gap_keep_flush_waiting(self, tmp_path: Path, monkeypatch) -> None:
        """The spool takes part of a batch whose remainder starts with a gap
        record: the records behind the gap are still in memory, so once the
        spooled part is delivered, flush() must still report them unsettled."""
        from threaded_logging import ThreadedHandler

        handler = ThreadedHandler(logging.NullHandler(), spool_dir=str(tmp_path), capacity=5, overflow="drop_newest")
        monkeypatch.setattr(handler, "_started", True)  # no timer thread: this test plays the worker
        logger = logging.getLogger("tests.spool_in")
        logger.propagate, logger.handlers = False, [handler]
        try:
            for i in range(7):  # 1-5 held, 6-7 dropped: a gap record is pending
                logger.warning("r%d", i + 1)
            head, _ = handler._buffer.drain(2)  # r1, r2 leave memory (as if sent)
            assert [it[2] for it in head] == ["r1", "r2"]
            logger.warning("r8")  # room again: memory holds r3 r4 r5 GAP r8
            spool = handler._spool
            assert spool is not None
            real_append = spool.append
            monkeypatch.setattr(spool, "append", lambda batch, **kw: real_append(batch[:3], **kw))  # room for 3
            assert handler._spool_in() == 3
            queued = list(handler._buffer._items)
            assert [it[0] == 0 for it in queued] == [True, False] and queued[1][2] == "r8"
            _, _, upto = handler._marks[-1]
            assert upto < queued[1][0], "r8 waits in memory: the spooled rows cannot settle it"
            segment, row, items = spool.head()  # deliver the spooled rows
            assert segment is not None and row is not None and [it[2] for it in items] == ["r3", "r4", "r5"]
            segment.delete(row[0], row[1], len(row[3]))
            handler._advance_marks()
            assert handler.flush(0.05) is False, "r8 is still in memory"
        finally:
            logger.handlers = []
            monkeypatch.setattr(handler, "_started", False)
            handler.close()
