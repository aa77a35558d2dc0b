"""The durable spool: records on disk from before sending until they are settled.

Records in, records out: :meth:`Spool.put` stores records, :meth:`Spool.peek`
reads the oldest back as a :class:`SpoolBatch`, :meth:`Spool.settle` keeps
on disk only the batch's records still open, and :meth:`Spool.first_seq`
says which record the spool holds first. Files, rows and connections stay
inside this module.

One SQLite database in WAL mode per process and handler identity
(``<identity>.<token>.spool`` under ``spool_dir``), held with an exclusive
``flock`` while the process lives. A handler with the same identity adopts
every segment whose lock it can take (its owner is gone: exit, crash, kill
-9) and sends those records first, oldest segment first.

Only the timer thread touches the connections (adoption included), and
``close()`` once that thread has ended.

Disk bound: every row is charged the bytes it takes in the database file
(whole pages for large rows), rows are at most :data:`MAX_ROW_BYTES`, and
the write-ahead log is checkpointed and truncated once it passes
:data:`WAL_LIMIT`, so the files take at most about ``spool_max_bytes`` plus
one MiB at any moment.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _journal as journal
from ._freeze import freeze, freeze_all, thaw
from ._segment import (MAX_ROW_BYTES, SUFFIX, WAL_LIMIT, NewRow, Row, Segment, disk_charge, find_orphans,
                       identity_filename, try_lock)
from ._snapshot import SEQ, Item

#: Records of newly stored rows kept in memory at most, besides the disk
#: copy, so the next batch is sent without reading it back (see Spool._keep).
KEEP_RECORDS = 10_000


@dataclass
class PutResult:
    """What :meth:`Spool.put` did: records stored (a prefix of those given),
    records evicted to make room (``drop_oldest``), and records lost with a
    segment that could no longer be written."""

    stored: int = 0
    evicted: List[Item] = field(default_factory=list)
    lost: int = 0


class SpoolBatch:
    """Records read back from the spool, in stored order.

    Attributes:
        items: the records.
        resent: how many of them a process before this one had already
            attempted (possible duplicates downstream).
        unreadable: records in rows that could not be read (dropped from disk).
    """

    def __init__(self, parts: List[Tuple[Segment, Row, List[Item]]], resent: int, unreadable: int) -> None:
        self._parts = parts
        self.items: List[Item] = [item for _, _, items in parts for item in items]
        self.resent = resent
        self.unreadable = unreadable


class Spool:
    """This handler's segment plus the adopted ones, FIFO across all of them.

    Args:
        directory: ``spool_dir``.
        identity: the handler's identity (its name, else its destination).
        max_bytes: bytes the records may take on disk, over all segments.
        report: the handler's stderr reporter.
        record_id: gives each record's id, stored with it.
    """

    def __init__(self, directory: str, identity: str, max_bytes: int, report: Callable[..., Any],
                 record_id: Callable[[Item], str]) -> None:
        self.directory = directory
        self.stem = identity_filename(identity)
        self.max_bytes = max_bytes
        self._max_row = max(16 * 1024, min(MAX_ROW_BYTES, max_bytes // 16))
        self._report = report
        self._record_id = record_id
        self._adopted: List[Segment] = []
        self._own: Optional[Segment] = None
        self._out: Optional[SpoolBatch] = None  # the batch peeked and not yet settled
        self._left: Optional[Tuple[int, int]] = None  # (records, bytes) left on disk at close
        self.token = uuid.uuid4().hex[:12]  # this process's files: <stem>.<token>.spool, <token>.journal
        self._kept = 0  # records of rows still in memory (see _keep)
        self._keeping = False  # from the first batch delivered whole until one is not
        os.makedirs(directory, exist_ok=True)

    def rename(self, identity: str) -> bool:
        """Use another identity; refused (False) once this process stored records."""
        own = self._own
        if own is not None and (own.rows or os.path.exists(own.path)):
            return False
        self.stem = identity_filename(identity)
        if own is not None:  # only locked so far (the journal's owner): move the lock along
            path = self._own_path()
            os.replace(own.path + ".lock", path + ".lock")
            own.path = path
        return True

    def lock_own(self) -> None:
        """Hold this process's lock now (before anything is stored): a journal shares it."""
        self._own_segment()

    def journal_path(self) -> str:
        """Where this process's journal lives (it pairs with the own segment by token)."""
        return os.path.join(self.directory, self.token + journal.SUFFIX)

    # -- timer thread -----------------------------------------------------------

    def adopt(self, reserve: Callable[[int], int]) -> Tuple[int, int]:
        """Take over every segment and journal of this identity whose owner is gone.

        A journal's entries that are not done go into its process's segment
        first, after the records that segment holds. ``reserve(n)`` counts
        ``n`` recovered records as emitted and returns the first of their
        sequence numbers.

        Returns:
            (records adopted, journal entries skipped as torn or corrupt).
        """
        total = skipped = 0
        for orphan in find_orphans(self.directory, self.stem, self.token):
            segment = Segment(orphan.segment_path, orphan.lock_fd)
            try:
                if orphan.journal_path is not None:
                    skipped += self._replay(segment, orphan.journal_path)
                if not os.path.exists(segment.path):
                    segment.close(remove=True)
                    continue
                segment.connect()
            except sqlite3.DatabaseError as exc:
                self._set_aside(segment, exc)
                continue
            count = segment.load(0)
            if not segment.rows:
                segment.close(remove=True)
                continue
            first = reserve(count)
            for row in segment.rows:
                row.first_seq += first
            self._adopted.append(segment)
            total += count
        return total, skipped

    def _replay(self, segment: Segment, path: str) -> int:
        """Store a journal's records that are not done in its segment, then
        remove the journal; returns its entries skipped as corrupt."""
        contents = journal.read(path)
        if contents is not None and contents.entries:
            after = contents.done_seq
            if os.path.exists(segment.path):
                after = max(after, segment.max_seq())  # stored before the journal said so
            items = journal.items_from(contents, after)
            if items:
                self._store(segment, items)  # a journal is bounded by journal_bytes itself
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        return contents.skipped if contents is not None else 0

    def _store(self, segment: Segment, items: Sequence[Item]) -> None:
        lines = freeze_all(items, self._record_id)
        rows: List[NewRow] = []
        start = 0
        while start < len(lines):
            end, _ = self._row_span(lines, start)
            rows.append(_new_row(lines, list(items[start:end]), start, None))
            start = end
        segment.insert(rows)

    def _row_span(self, lines: Sequence[bytes], start: int) -> Tuple[int, int]:
        """``(end, bytes)`` of the row starting at ``lines[start]``: as many
        lines as fit in a row's bound, at least one."""
        end, size = start, 0
        while end < len(lines) and (end == start or size + len(lines[end]) <= self._max_row):
            size += len(lines[end])
            end += 1
        return end, size

    def put(self, items: Sequence[Item], evict_oldest: bool = False) -> PutResult:
        """Store the longest prefix of ``items`` that fits, in rows of
        bounded size, each record frozen once.

        With ``evict_oldest``, the oldest stored rows (not the batch in
        flight) are deleted first to make room for all of ``items``.
        """
        record_id = self._record_id
        lines = freeze_all(items, record_id)
        result = PutResult()
        if evict_oldest:
            result.evicted = self._evict(sum(disk_charge(len(line)) for line in lines))
        room = self.max_bytes - self.size
        rows: List[NewRow] = []
        start = 0
        while start < len(lines):
            end, size = self._row_span(lines, start)
            while end > start and disk_charge(size) > room:
                end -= 1
                size -= len(lines[end])
            if end == start:
                break
            chunk = list(items[start:end])
            rows.append(_new_row(lines, chunk, start, self._keep(chunk)))
            room -= disk_charge(size)
            start = end
        if rows:
            result.lost += self._insert(rows)
        result.stored = start
        return result

    def _keep(self, items: List[Item]) -> Optional[List[Item]]:
        """The records of a new row, if they may stay in memory until it is
        peeked: the next batch is then sent without reading and thawing it
        (~40,000 instructions per record). Up to :data:`KEEP_RECORDS`, and
        only once a batch was delivered whole and until one is not: in an
        outage, what the spool is for, its records stay on disk only."""
        if not self._keeping or self._kept + len(items) > KEEP_RECORDS:
            return None
        self._kept += len(items)
        return items

    def _forget(self, rows: Sequence[Row]) -> None:
        for row in rows:
            if row.items is not None:
                self._kept -= len(row.items)
                row.items = None

    def _insert(self, rows: List[NewRow]) -> int:
        """Insert rows; returns records lost with an unwritable segment."""
        try:
            self._own_segment().insert(rows)
            return 0
        except sqlite3.DatabaseError as exc:
            own, self._own = self._own, None
            lost = own.count if own is not None else 0
            if own is not None:
                self._forget(own.rows)
                self._set_aside(own, exc)
            self._own_segment().insert(rows)
            return lost

    def peek(self, max_records: int) -> Optional[SpoolBatch]:
        """The oldest stored records, whole rows up to ``max_records`` (one
        row at least), or None. Until :meth:`settle`, no other batch is
        handed out."""
        assert self._out is None, "the batch peeked before is not settled"
        parts: List[Tuple[Segment, Row, List[Item]]] = []
        taken = resent = unreadable = 0
        for segment in self._segments():
            for row in list(itertools.islice(segment.rows, max_records + 8)):
                if parts and taken + row.count > max_records:
                    break
                items = self._read(segment, row)
                if items is None:
                    unreadable += row.count
                    continue
                parts.append((segment, row, items))
                taken += row.count
                if row.attempts and segment is not self._own:
                    resent += row.count
            if parts:
                break
        self._retire_empty()
        if not parts and not unreadable:
            return None
        by_segment: Dict[Segment, List[Row]] = {}
        for segment, row, _ in parts:
            by_segment.setdefault(segment, []).append(row)
            row.attempts += 1
        for segment, rows in by_segment.items():
            segment.mark_attempted(rows)
        self._out = SpoolBatch(parts, resent, unreadable)
        return self._out

    def _read(self, segment: Segment, row: Row) -> Optional[List[Item]]:
        if row.items is not None:  # still in memory (see _keep): the batch in flight holds them from here
            items = row.items
            self._forget([row])
            return items
        try:
            items = [thaw(line) for line in segment.read(row).split(b"\n") if line]
        except (ValueError, TypeError, KeyError) as exc:
            segment.delete([row])
            self._report("spool-row", f"dropped an unreadable spool row of {row.count} record(s): {exc!r}")
            return None
        if segment is not self._own:  # an earlier process's numbers: use the ones reserved here
            seq = row.first_seq
            numbered = []
            for item in items:
                if item[SEQ]:
                    item = (seq,) + item[1:]
                    seq += 1
                numbered.append(item)
            items = numbered
        return items

    def settle(self, batch: SpoolBatch, still_open: Sequence[Item]) -> None:
        """Keep on disk only the records of ``batch`` that are ``still_open``."""
        keep = {id(item) for item in still_open}
        done: Dict[Segment, List[Row]] = {}
        for segment, row, items in batch._parts:
            left = [item for item in items if id(item) in keep]
            if not left:
                done.setdefault(segment, []).append(row)
            elif len(left) != len(items):
                data = b"".join(freeze(item, self._record_id(item)) for item in left)
                first = next((item[SEQ] for item in left if item[SEQ]), 0)
                segment.rewrite(row, data, sum(1 for item in left if item[SEQ]), first)
        for segment, rows in done.items():
            segment.delete(rows)
        parts = [(s, r, [i for i in items if id(i) in keep]) for s, r, items in batch._parts]
        batch._parts = [(s, r, left) for s, r, left in parts if left]
        batch.items = list(still_open)
        self._keeping = not still_open
        if still_open:  # the destination fails: what waits stays on disk only
            for segment in self._segments():
                self._forget(segment.rows)
        else:
            self._out = None
            self._retire_empty()

    def first_seq(self) -> Optional[int]:
        """The smallest sequence number of a record on disk, or None."""
        for segment in self._segments():
            for row in segment.rows:
                if row.first_seq:
                    return row.first_seq
        return None

    def _evict(self, needed: int) -> List[Item]:
        """Delete the oldest rows (never the batch in flight) until ``needed`` bytes are free."""
        evicted: List[Item] = []
        out = {id(row) for _, row, _ in self._out._parts} if self._out is not None else set()
        for segment in self._segments():
            for row in list(segment.rows):
                if self.max_bytes - self.size >= needed:
                    return evicted
                if id(row) in out:
                    continue
                items = self._read(segment, row)
                if items is not None:
                    segment.delete([row])
                    evicted.extend(items)
        return evicted

    def _own_segment(self) -> Segment:
        segment = self._own
        if segment is None:
            path = self._own_path()
            segment = self._own = Segment(path, try_lock(path + ".lock"))
        return segment

    def _own_path(self) -> str:
        return os.path.join(self.directory, f"{self.stem}.{self.token}{SUFFIX}")

    def _segments(self) -> List[Segment]:
        return self._adopted + ([self._own] if self._own is not None else [])

    def _set_aside(self, segment: Segment, exc: Exception) -> None:
        segment.close()
        aside = f"{segment.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        try:
            os.replace(segment.path, aside)
        except OSError:
            aside = "(could not be moved)"
        self._report("spool-corrupt", f"spool file {segment.path} is unreadable ({exc}); moved aside to {aside}, "
                     "starting a fresh one", force=True)

    def _retire_empty(self) -> None:
        """Remove adopted files once empty, and start the own file afresh once
        an outage is over (SQLite never gives pages back to the file system)."""
        for segment in list(self._adopted):
            if not segment.rows:
                segment.close(remove=True)
                self._adopted.remove(segment)
        own = self._own
        if own is not None and not own.rows and self._out is None and own.disk_bytes() > 2 * WAL_LIMIT:
            own.close(remove=True)
            self._own = None

    # -- any thread ---------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Records on disk (gap records not counted), over all segments."""
        if self._left is not None:
            return self._left[0]
        return sum(seg.count for seg in self._segments())

    @property
    def size(self) -> int:
        """Bytes the records take on disk, over all segments."""
        if self._left is not None:
            return self._left[1]
        return sum(seg.charge for seg in self._segments())

    def disk_bytes(self) -> int:
        """Bytes every file of this spool takes now, write-ahead logs included."""
        return sum(seg.disk_bytes() for seg in self._segments())

    def close(self) -> None:
        """Release every segment; what stays on disk is still reported."""
        left = (self.rows, self.size)
        for segment in self._segments():
            self._forget(segment.rows)
            segment.close(remove=not segment.rows)
        self._adopted, self._own, self._out = [], None, None
        self._left = left

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's files, locks and rows are the parent's."""
        for segment in self._segments():
            segment.forget_after_fork()
        self._adopted, self._own, self._out = [], None, None
        self.token = uuid.uuid4().hex[:12]
        self._kept, self._keeping = 0, False


def _new_row(lines: Sequence[bytes], chunk: List[Item], start: int, kept: Optional[List[Item]]) -> NewRow:
    """The row of ``chunk``'s frozen lines (from ``lines[start]``): its
    records counted and its first sequence number (gap records have none)."""
    first = next((item[SEQ] for item in chunk if item[SEQ]), 0)
    return (b"".join(lines[start:start + len(chunk)]), sum(1 for item in chunk if item[SEQ]), first, kept)
