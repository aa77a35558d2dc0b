"""One spool file: an SQLite database in WAL mode, its owner's lock, the index of its rows.

Rows hold frozen records (see ``_freeze.py``); each is charged the bytes it
takes in the database file. The write-ahead log is checkpointed and
truncated once it passes :data:`WAL_LIMIT`.
"""

from __future__ import annotations

import collections
import glob
import hashlib
import json
import os
import re
import sqlite3
from typing import Any, Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._journal import SUFFIX as JOURNAL_SUFFIX
from ._journal import read_stem

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


#: A row to store: ``(data, records, first sequence number, the records or None)``.
NewRow = Tuple[bytes, int, int, Optional[List[Any]]]


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


class Row:
    """One stored row, as this process knows it.

    ``items`` are the records it holds while this process still has them in
    memory (see ``Spool``), else None.
    """

    __slots__ = ("row_id", "count", "charge", "first_seq", "attempts", "items")

    def __init__(self, row_id: int, count: int, charge: int, first_seq: int, attempts: int,
                 items: Optional[List[Any]] = None) -> None:
        self.row_id = row_id
        self.count = count
        self.charge = charge
        self.first_seq = first_seq
        self.attempts = attempts
        self.items = items


class Segment:
    """One spool file: an SQLite database, the lock that says who owns it,
    and the index of its rows."""

    def __init__(self, path: str, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._conn: Optional[sqlite3.Connection] = None
        self.rows: Deque[Row] = collections.deque()
        self.count = 0  # records in rows
        self.charge = 0  # bytes charged for rows
        self._wal_guess = WAL_LIMIT  # write-ahead log bytes at most, until looked up

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
        self.rows.clear()
        self.count = self.charge = 0
        total = 0
        for row_id, count, attempts, size in cursor:
            self._add(Row(int(row_id), int(count), disk_charge(int(size)), first_seq + total, int(attempts)))
            total += int(count)
        return total

    def _add(self, row: Row) -> None:
        self.rows.append(row)
        self.count += row.count
        self.charge += row.charge

    def insert(self, rows: Sequence[NewRow]) -> None:
        """Store rows, in order, several per statement (see :meth:`_each_hundred`),
        at most :data:`WAL_LIMIT` bytes each, which bounds the log between checkpoints."""
        start = 0
        while start < len(rows):
            end, size = start + 1, len(rows[start][0])
            while end < len(rows) and end - start < 100 and size + len(rows[end][0]) <= WAL_LIMIT:
                size += len(rows[end][0])
                end += 1
            self._insert(rows[start:end])
            self._wal_guess += size + 3 * _PAGE * (end - start)
            self._checkpoint()
            start = end

    def _insert(self, rows: Sequence[NewRow]) -> None:
        params = [value for row in rows for value in (row[1], row[0])]
        cursor = self.connect().execute("INSERT INTO batches (n, data) VALUES " + ",".join(["(?, ?)"] * len(rows)), params)
        row_id = int(cursor.lastrowid or 0) - len(rows)  # AUTOINCREMENT: one statement's ids are consecutive
        for data, count, first_seq, items in rows:
            row_id += 1
            self._add(Row(row_id, count, disk_charge(len(data)), first_seq, 0, items))

    def max_seq(self) -> int:
        """The largest sequence number stored (0 when none): where an earlier
        process's journal takes over."""
        found = self.connect().execute("SELECT data FROM batches ORDER BY id DESC LIMIT 1").fetchone()
        for line in reversed(bytes(found[0]).split(b"\n") if found else []):
            try:
                seq = int(json.loads(line).get("s", 0)) if line else 0
            except (ValueError, AttributeError):
                continue
            if seq:
                return seq
        return 0

    def read(self, row: Row) -> bytes:
        found = self.connect().execute("SELECT data FROM batches WHERE id = ?", (row.row_id,)).fetchone()
        return b"" if found is None else bytes(found[0])

    def mark_attempted(self, rows: Sequence[Row]) -> None:
        self._each_hundred("UPDATE batches SET attempts = attempts + 1 WHERE id IN ({})", rows)
        self._wal_guess += 2 * _PAGE * len(rows)

    def delete(self, rows: Sequence[Row]) -> None:
        self._each_hundred("DELETE FROM batches WHERE id IN ({})", rows)
        for row in rows:
            if row is self.rows[0]:
                self.rows.popleft()
            else:
                self.rows.remove(row)
            self.count -= row.count
            self.charge -= row.charge
        self._wal_guess += 3 * _PAGE * len(rows)
        self._checkpoint()

    def _each_hundred(self, sql: str, rows: Sequence[Row]) -> None:
        """One statement per hundred rows: the sqlite3 module gives up the GIL
        for every statement step, and winning it back from a busy
        application can take a switch interval (5 ms)."""
        conn = self.connect()
        for start in range(0, len(rows), 100):
            ids = [row.row_id for row in rows[start:start + 100]]
            conn.execute(sql.format(",".join("?" * len(ids))), ids)

    def rewrite(self, row: Row, data: bytes, count: int, first_seq: int) -> None:
        self.connect().execute("UPDATE batches SET n = ?, data = ? WHERE id = ?", (count, data, row.row_id))
        charge = disk_charge(len(data))
        self.count += count - row.count
        self.charge += charge - row.charge
        row.count, row.charge, row.first_seq = count, charge, first_seq
        self._wal_guess += len(data) + 5 * _PAGE
        self._checkpoint()

    def _checkpoint(self) -> None:
        """Truncate the write-ahead log once it passes :data:`WAL_LIMIT`.

        Its size is looked up only when the bytes written since the last
        look could have taken it there (each look is a system call)."""
        if self._wal_guess < WAL_LIMIT // 2:
            return
        try:
            wal = os.path.getsize(self.path + "-wal")
        except OSError:
            return
        self._wal_guess = wal
        if wal > WAL_LIMIT:
            self.connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._wal_guess = 0

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


def try_lock(path: str) -> int:
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


class Orphan(NamedTuple):
    """Files an ended process left for one identity: its spool segment (which
    may not exist) and its journal (or None), with their lock now held here."""

    segment_path: str
    journal_path: Optional[str]
    lock_fd: int


def find_orphans(directory: str, stem: str, own_token: str) -> List[Orphan]:
    """Lock and return the segments and journals of ``stem`` whose owner is gone, oldest first."""
    found: Dict[str, Tuple[float, Optional[str]]] = {}  # token -> (mtime, journal)
    prefix = os.path.join(directory, stem + ".")
    for path in glob.glob(glob.escape(prefix) + "*" + SUFFIX):
        token = path[len(prefix):-len(SUFFIX)]
        found[token] = (_mtime(path), found.get(token, (0.0, None))[1])
    for path in glob.glob(os.path.join(glob.escape(directory), "*" + JOURNAL_SUFFIX)):
        if read_stem(path) == stem:
            token = os.path.basename(path)[:-len(JOURNAL_SUFFIX)]
            found[token] = (min(found.get(token, (_mtime(path), None))[0], _mtime(path)), path)
    orphans = []
    for token, (_, journal) in sorted(found.items(), key=lambda kv: (kv[1][0], kv[0])):
        segment_path = prefix + token + SUFFIX
        if token == own_token:
            continue
        fd = try_lock(segment_path + ".lock")
        if fd >= 0:  # its owner is gone
            orphans.append(Orphan(segment_path, journal, fd))
    return orphans


def _mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0
