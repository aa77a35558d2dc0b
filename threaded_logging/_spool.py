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

import collections
import glob
import hashlib
import itertools
import os
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from ._freeze import freeze, thaw
from ._snapshot import SEQ, Item

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to msvcrt
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".spool"
#: Bytes of frozen records per row at most; a drained batch takes several.
#: The sqlite3 module releases the GIL at every statement step, so a row per
#: record would hand the GIL over thousands of times per batch.
MAX_ROW_BYTES = 256 * 1024
#: The write-ahead log is checkpointed and truncated once it is larger.
WAL_LIMIT = 512 * 1024
_PAGE = 4096
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL
)
"""
#: Connections dropped in a forked child: never closed there (the parent owns them).
_FORKED_AWAY: List[Any] = []


def identity_filename(identity: str) -> str:
    """A file-name-safe, still readable, unique form of a handler identity."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", identity).strip("_")[:80] or "handler"
    digest = hashlib.sha1(identity.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


def disk_charge(size: int) -> int:
    """Bytes a row of ``size`` data bytes takes in the database file: small
    rows share pages; a large one fills whole overflow pages."""
    if size <= 4000:
        return size + 64
    return (-(-(size - 4000) // (_PAGE - 4)) + 1) * _PAGE


class _Row:
    """One stored row, as this process knows it."""

    __slots__ = ("row_id", "count", "charge", "first_seq", "attempts")

    def __init__(self, row_id: int, count: int, charge: int, first_seq: int, attempts: int) -> None:
        self.row_id = row_id
        self.count = count
        self.charge = charge
        self.first_seq = first_seq
        self.attempts = attempts


class Segment:
    """One spool file: an SQLite database, the lock that says who owns it,
    and the index of its rows."""

    def __init__(self, path: str, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._conn: Optional[sqlite3.Connection] = None
        self.rows: Deque[_Row] = collections.deque()
        self.count = 0  # records in rows
        self.charge = 0  # bytes charged for rows

    def connect(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_LIMIT // _PAGE}")
            conn.execute("PRAGMA journal_size_limit=0")
            conn.execute(_SCHEMA)
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                conn.close()
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            self._conn = conn
        return conn

    def load(self, first_seq: int) -> int:
        """Index the rows an earlier process left, numbering their records
        from ``first_seq``; returns how many records they hold."""
        cursor = self.connect().execute("SELECT id, n, attempts, length(data) FROM batches ORDER BY id")
        total = 0
        for row_id, count, attempts, size in cursor:
            self._add(_Row(int(row_id), int(count), disk_charge(int(size)), first_seq + total, int(attempts)))
            total += int(count)
        return total

    def _add(self, row: _Row) -> None:
        self.rows.append(row)
        self.count += row.count
        self.charge += row.charge

    def insert(self, data: bytes, count: int, first_seq: int) -> None:
        cursor = self.connect().execute("INSERT INTO batches (n, data) VALUES (?, ?)", (count, data))
        self._add(_Row(int(cursor.lastrowid or 0), count, disk_charge(len(data)), first_seq, 0))
        self._checkpoint()

    def read(self, row: _Row) -> bytes:
        found = self.connect().execute("SELECT data FROM batches WHERE id = ?", (row.row_id,)).fetchone()
        return b"" if found is None else bytes(found[0])

    def mark_attempted(self, rows: Sequence[_Row]) -> None:
        ids = [(row.row_id,) for row in rows]
        self.connect().executemany("UPDATE batches SET attempts = attempts + 1 WHERE id = ?", ids)

    def delete(self, row: _Row) -> None:
        self.connect().execute("DELETE FROM batches WHERE id = ?", (row.row_id,))
        self.rows.remove(row)
        self.count -= row.count
        self.charge -= row.charge
        self._checkpoint()

    def rewrite(self, row: _Row, data: bytes, count: int, first_seq: int) -> None:
        self.connect().execute("UPDATE batches SET n = ?, data = ? WHERE id = ?", (count, data, row.row_id))
        charge = disk_charge(len(data))
        self.count += count - row.count
        self.charge += charge - row.charge
        row.count, row.charge, row.first_seq = count, charge, first_seq
        self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            wal = os.path.getsize(self.path + "-wal")
        except OSError:
            return
        if wal > WAL_LIMIT:
            self.connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def disk_bytes(self) -> int:
        """Bytes its files take now (database, log and shared memory)."""
        total = 0
        for path in (self.path, self.path + "-wal", self.path + "-shm"):
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
        return total

    def close(self, remove: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if remove:
            for path in (self.path, self.path + "-wal", self.path + "-shm"):
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1
            if remove:
                try:
                    os.remove(self.path + ".lock")
                except FileNotFoundError:
                    pass

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's connection and lock untouched."""
        if self._conn is not None:
            _FORKED_AWAY.append(self._conn)
        self._conn = None
        self._lock_fd = -1


def _try_lock(path: str) -> int:
    """Open and exclusively lock ``path`` without waiting; -1 when someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        os.close(fd)
        return -1
    return fd


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

    def __init__(self, parts: List[Tuple[Segment, _Row, List[Item]]], resent: int, unreadable: int) -> None:
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
        os.makedirs(directory, exist_ok=True)

    def rename(self, identity: str) -> bool:
        """Use another identity; refused (False) once this process stored records."""
        if self._own is not None:
            return False
        self.stem = identity_filename(identity)
        return True

    # -- timer thread -----------------------------------------------------------

    def adopt(self, reserve: Callable[[int], int]) -> int:
        """Take over every segment of this identity whose owner is gone.

        ``reserve(n)`` counts ``n`` recovered records as emitted and returns
        the first of their sequence numbers. Returns the records adopted.
        """
        pattern = os.path.join(glob.escape(self.directory), glob.escape(self.stem) + ".*" + SUFFIX)
        known = {seg.path for seg in self._segments()}
        total = 0
        for path in sorted(glob.glob(pattern), key=lambda p: (os.path.getmtime(p), p)):
            if path in known:
                continue
            fd = _try_lock(path + ".lock")
            if fd < 0:
                continue  # a live process owns it
            segment = Segment(path, fd)
            try:
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
        return total

    def put(self, items: Sequence[Item], evict_oldest: bool = False) -> PutResult:
        """Store the longest prefix of ``items`` that fits, in rows of
        bounded size, each record frozen once.

        With ``evict_oldest``, the oldest stored rows (not the batch in
        flight) are deleted first to make room for all of ``items``.
        """
        record_id = self._record_id
        lines = [freeze(item, record_id(item)) for item in items]
        result = PutResult()
        if evict_oldest:
            result.evicted = self._evict(sum(disk_charge(len(line)) for line in lines))
        room = self.max_bytes - self.size
        start = 0
        while start < len(lines):
            end, size = start, 0
            while end < len(lines) and (end == start or size + len(lines[end]) <= self._max_row):
                size += len(lines[end])
                end += 1
            while end > start and disk_charge(size) > room:
                end -= 1
                size -= len(lines[end])
            if end == start:
                break
            chunk = items[start:end]
            first = next((item[SEQ] for item in chunk if item[SEQ]), 0)
            count = sum(1 for item in chunk if item[SEQ])
            result.lost += self._insert(b"".join(lines[start:end]), count, first)
            room -= disk_charge(size)
            start = end
        result.stored = start
        return result

    def _insert(self, data: bytes, count: int, first_seq: int) -> int:
        """Insert one row; returns records lost with an unwritable segment."""
        try:
            self._own_segment().insert(data, count, first_seq)
            return 0
        except sqlite3.DatabaseError as exc:
            own, self._own = self._own, None
            lost = own.count if own is not None else 0
            if own is not None:
                self._set_aside(own, exc)
            self._own_segment().insert(data, count, first_seq)
            return lost

    def peek(self, max_records: int) -> Optional[SpoolBatch]:
        """The oldest stored records, whole rows up to ``max_records`` (one
        row at least), or None. Until :meth:`settle`, no other batch is
        handed out."""
        assert self._out is None, "the batch peeked before is not settled"
        parts: List[Tuple[Segment, _Row, List[Item]]] = []
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
        by_segment: Dict[Segment, List[_Row]] = {}
        for segment, row, _ in parts:
            by_segment.setdefault(segment, []).append(row)
            row.attempts += 1
        for segment, rows in by_segment.items():
            segment.mark_attempted(rows)
        self._out = SpoolBatch(parts, resent, unreadable)
        return self._out

    def _read(self, segment: Segment, row: _Row) -> Optional[List[Item]]:
        try:
            items = [thaw(line) for line in segment.read(row).split(b"\n") if line]
        except (ValueError, TypeError, KeyError) as exc:
            segment.delete(row)
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
        for segment, row, items in batch._parts:
            left = [item for item in items if id(item) in keep]
            if not left:
                segment.delete(row)
            elif len(left) != len(items):
                data = b"".join(freeze(item, self._record_id(item)) for item in left)
                first = next((item[SEQ] for item in left if item[SEQ]), 0)
                segment.rewrite(row, data, sum(1 for item in left if item[SEQ]), first)
        parts = [(s, r, [i for i in items if id(i) in keep]) for s, r, items in batch._parts]
        batch._parts = [(s, r, left) for s, r, left in parts if left]
        batch.items = list(still_open)
        if not still_open:
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
                    segment.delete(row)
                    evicted.extend(items)
        return evicted

    def _own_segment(self) -> Segment:
        segment = self._own
        if segment is None:
            path = os.path.join(self.directory, f"{self.stem}.{uuid.uuid4().hex[:12]}{SUFFIX}")
            segment = self._own = Segment(path, _try_lock(path + ".lock"))
        return segment

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
            segment.close(remove=not segment.rows)
        self._adopted, self._own, self._out = [], None, None
        self._left = left

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's files, locks and rows are the parent's."""
        for segment in self._segments():
            segment.forget_after_fork()
        self._adopted, self._own, self._out = [], None, None
