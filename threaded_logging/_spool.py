"""The durable spool: records on disk from before sending until acknowledged.

One SQLite database in WAL mode per process and handler identity
(``<identity>.<token>.spool`` under ``spool_dir``), held with an exclusive
``flock`` while the process lives. A handler starting with the same identity
adopts every segment whose lock it can take (its owner is gone: exit, crash,
kill -9) and sends those rows first, oldest segment first. Rows are deleted
only once the destination acknowledged them (or rejected them for good).

SQLite over an append-only file: it gives atomic batch commits, crash
recovery and in-place deletion of acknowledged rows from the standard
library, and measured fast enough (see docs/durability.rst). Only the timer
thread touches the connections.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import sqlite3
import time
import uuid
from typing import Any, Callable, List, Optional, Tuple

from ._snapshot import Item, safe_repr

try:  # optional, as in _schema: freezes a record several times faster
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to msvcrt
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".spool"
# One row per drained batch, not per record: the sqlite3 module releases the
# GIL at every statement step, and a worker that gives the GIL up a thousand
# times per batch waits a switch interval each time an application thread is
# busy logging.
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


#: Record attributes a frozen record does not keep: the message is kept
#: formatted, and the exception as text (in ``aux``).
_NOT_FROZEN = ("msg", "args", "exc_info", "message")


def freeze(item: Item, record_id: str) -> bytes:
    """A snapshot as one line of JSON, newline included, that :func:`thaw`
    turns back into an item.

    The newline also makes the line a right-sized copy of orjson's buffer
    (see :func:`~threaded_logging.transports._encode.pack_json`: thousands of
    orjson buffers held at once are ten times slower to make)."""
    seq, record, message, aux = item
    if aux is None or aux.get("record_id") != record_id:
        aux = {**(aux or {}), "record_id": record_id}
    attrs = record.__dict__.copy()  # a C-level copy, then four deletions: cheaper than a filter
    for key in _NOT_FROZEN:
        attrs.pop(key, None)
    if _orjson is not None:
        try:
            return _orjson.dumps({"s": seq, "r": attrs, "m": message, "a": aux}, default=safe_repr,
                                 option=_orjson.OPT_NON_STR_KEYS | _orjson.OPT_PASSTHROUGH_DATACLASS
                                 | _orjson.OPT_PASSTHROUGH_DATETIME) + b"\n"
        except (TypeError, ValueError, RecursionError):
            pass  # surrogates, huge ints, cycles: the careful path
    try:
        text = json.dumps({"s": seq, "r": attrs, "m": message, "a": aux}, default=safe_repr, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        attrs = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else safe_repr(v)) for k, v in attrs.items()}
        text = json.dumps({"s": seq, "r": attrs, "m": message, "a": aux}, default=safe_repr, ensure_ascii=True)
    return text.encode("ascii") + b"\n"


def thaw(data: bytes) -> Item:
    """The item frozen by :func:`freeze` (the record rebuilt with its frozen message)."""
    payload = json.loads(data)
    record = logging.makeLogRecord(payload["r"])
    record.msg = payload["m"]
    record.args = None
    return (int(payload.get("s", 1)), record, payload["m"], payload.get("a"))


def freeze_batch(items: List[Item], record_id: Callable[[Item], str]) -> Tuple[bytes, int]:
    """Items as newline-separated frozen lines, with the count of user records."""
    return b"".join([freeze(item, record_id(item)) for item in items]), sum(1 for item in items if item[0])


def thaw_batch(data: bytes) -> List[Item]:
    return [thaw(line) for line in data.split(b"\n") if line]


class Segment:
    """One spool file: an SQLite database plus the lock that says who owns it."""

    def __init__(self, path: str, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._conn: Optional[sqlite3.Connection] = None
        self.rows = 0
        self.bytes = 0
        self.last_rewrite_size = 0

    def connect(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                conn.close()
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            rows, size = conn.execute("SELECT coalesce(sum(n), 0), coalesce(sum(length(data)), 0) FROM batches").fetchone()
            self.rows, self.bytes = int(rows), int(size)
            self._conn = conn
        return conn

    def append(self, data: bytes, count: int) -> int:
        """Store one batch; returns its row id."""
        cursor = self.connect().execute("INSERT INTO batches (n, data) VALUES (?, ?)", (count, data))
        self.rows += count
        self.bytes += len(data)
        return int(cursor.lastrowid or 0)

    def head(self) -> Optional[Tuple[int, int, int, bytes]]:
        """``(id, count, attempts, data)`` of the oldest batch, or None."""
        row = self.connect().execute("SELECT id, n, attempts, data FROM batches ORDER BY id LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]), bytes(row[3]))

    def first_id(self) -> Optional[int]:
        row = self.connect().execute("SELECT min(id) FROM batches").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def last_id(self) -> int:
        row = self.connect().execute("SELECT max(id) FROM batches").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def mark_attempted(self, row_id: int) -> None:
        self.connect().execute("UPDATE batches SET attempts = attempts + 1 WHERE id = ?", (row_id,))

    def delete(self, row_id: int, count: int, size: int) -> None:
        self.connect().execute("DELETE FROM batches WHERE id = ?", (row_id,))
        self.rows -= count
        self.bytes -= size

    def rewrite(self, row_id: int, old_count: int, old_size: int, items: List[Item],
                record_id: Callable[[Item], str]) -> None:
        """Keep only ``items`` of a batch (the rest was settled)."""
        data, count = freeze_batch(items, record_id)
        self.connect().execute("UPDATE batches SET n = ?, data = ? WHERE id = ?", (count, data, row_id))
        self.rows += count - old_count
        self.bytes += len(data) - old_size
        self.last_rewrite_size = len(data)

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


class Spool:
    """This handler's segment plus the adopted ones, FIFO across all of them.

    Args:
        directory: ``spool_dir``.
        identity: the handler's identity (its name, else its destination).
        max_bytes: record bytes on disk at most, over all segments.
        report: the handler's stderr reporter.
        record_id: gives each record's id, stored with it.
    """

    def __init__(self, directory: str, identity: str, max_bytes: int, report: Callable[..., Any],
                 record_id: Callable[[Item], str]) -> None:
        self.directory = directory
        self.record_id = record_id
        self.stem = identity_filename(identity)
        self.max_bytes = max_bytes
        self._report = report
        self.adopted: List[Segment] = []
        self.own: Optional[Segment] = None
        self._left: Optional[Tuple[int, int]] = None  # (rows, size) left on disk at close
        os.makedirs(directory, exist_ok=True)

    def rename(self, identity: str) -> None:
        """Use another identity (before this process wrote anything)."""
        self.stem = identity_filename(identity)

    # -- discovery (constructor's thread; files and locks only) ---------------

    def adopt_orphans(self) -> List[Segment]:
        """Lock every segment of this identity whose owner is gone."""
        pattern = os.path.join(glob.escape(self.directory), glob.escape(self.stem) + ".*" + SUFFIX)
        found = sorted(glob.glob(pattern), key=lambda p: (os.path.getmtime(p), p))
        for path in found:
            if self.own is not None and path == self.own.path:
                continue
            if any(seg.path == path for seg in self.adopted):
                continue
            fd = _try_lock(path + ".lock")
            if fd >= 0:
                self.adopted.append(Segment(path, fd))
        return self.adopted

    # -- timer thread -----------------------------------------------------------

    def open_all(self) -> int:
        """Open adopted segments (moving corrupt ones aside); returns their rows."""
        healthy = []
        for segment in self.adopted:
            try:
                segment.connect()
                healthy.append(segment)
            except sqlite3.DatabaseError as exc:
                self._set_aside(segment, exc)
        self.adopted = healthy
        return sum(seg.rows for seg in healthy)

    def _set_aside(self, segment: Segment, exc: Exception) -> None:
        segment.close()
        aside = f"{segment.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        try:
            os.replace(segment.path, aside)
        except OSError:
            aside = "(could not be moved)"
        self._report("spool-corrupt", f"spool file {segment.path} is unreadable ({exc}); moved aside to {aside}, starting a fresh one", force=True)

    def _own(self) -> Segment:
        segment = self.own
        if segment is None:
            path = os.path.join(self.directory, f"{self.stem}.{uuid.uuid4().hex[:12]}{SUFFIX}")
            fd = _try_lock(path + ".lock")
            segment = self.own = Segment(path, fd)
            try:
                segment.connect()
            except sqlite3.DatabaseError as exc:  # pragma: no cover - a brand-new file
                self._set_aside(segment, exc)
                self.own = None
                raise
        return segment

    @property
    def rows(self) -> int:
        """Records on disk (gap records not counted), over all segments."""
        if self._left is not None:
            return self._left[0]
        return sum(seg.rows for seg in self.adopted) + (self.own.rows if self.own else 0)

    @property
    def size(self) -> int:
        """Record bytes on disk, over all segments."""
        if self._left is not None:
            return self._left[1]
        return sum(seg.bytes for seg in self.adopted) + (self.own.bytes if self.own else 0)

    def room(self) -> int:
        return self.max_bytes - self.size

    def append(self, items: List[Item], evict_oldest: bool = False) -> Tuple[int, int, List[Item]]:
        """Store the longest prefix of ``items`` that fits, as one batch.

        With ``evict_oldest``, the oldest stored batches are deleted first to
        make room for all of ``items``. Each record is frozen once.

        Returns:
            (how many were stored, the row id, the items evicted to make room).
        """
        record_id = self.record_id
        lines = [freeze(item, record_id(item)) for item in items]
        evicted = self.evict_oldest(sum(map(len, lines))) if evict_oldest else []
        room, size, fits = self.room(), 0, 0
        for line in lines:
            size += len(line)
            if size > room:
                break
            fits += 1
        if not fits:
            return 0, 0, evicted
        data = b"".join(lines[:fits])
        count = sum(1 for item in items[:fits] if item[0])
        try:
            row_id = self._own().append(data, count)
        except sqlite3.DatabaseError as exc:
            if self.own is not None:
                self._set_aside(self.own, exc)
                self.own = None
            row_id = self._own().append(data, count)
        return fits, row_id, evicted

    def head(self) -> Tuple[Optional[Segment], Optional[Tuple[int, int, int, bytes]], List[Item]]:
        """The oldest stored batch: (segment, (id, count, attempts, data), items)."""
        for segment in list(self.adopted) + ([self.own] if self.own else []):
            if segment.rows <= 0 and segment.bytes <= 0:
                continue
            try:
                row = segment.head()
            except sqlite3.DatabaseError as exc:
                self._drop_segment(segment, exc)
                continue
            if row is None:
                segment.rows = segment.bytes = 0
                continue
            try:
                return segment, row, thaw_batch(row[3])
            except (ValueError, KeyError, TypeError) as exc:
                segment.delete(row[0], row[1], len(row[3]))
                self._report("spool-row", f"dropped an unreadable spool batch: {exc!r}")
                return self.head()
        self._retire_empty()
        return None, None, []

    def _drop_segment(self, segment: Segment, exc: Exception) -> None:
        self._set_aside(segment, exc)
        if segment in self.adopted:
            self.adopted.remove(segment)
        if segment is self.own:
            self.own = None

    def _retire_empty(self) -> None:
        for segment in list(self.adopted):
            if segment.bytes <= 0:
                segment.close(remove=True)
                self.adopted.remove(segment)

    def evict_oldest(self, nbytes: int) -> List[Item]:
        """Delete the oldest batches until ``nbytes`` are free; returns their items."""
        evicted: List[Item] = []
        while self.room() < nbytes:
            segment, row, items = self.head()
            if segment is None or row is None:
                break
            segment.delete(row[0], row[1], len(row[3]))
            evicted.extend(items)
        return evicted

    def close(self) -> None:
        """Release every segment; what stays on disk is still reported."""
        left = (self.rows, self.size)
        for segment in self.adopted:
            segment.close(remove=segment.bytes <= 0)
        self.adopted = []
        if self.own is not None:
            self.own.close(remove=self.own.bytes <= 0)
            self.own = None
        self._left = left

    def forget_after_fork(self) -> None:
        for segment in self.adopted + ([self.own] if self.own else []):
            segment.forget_after_fork()
        self.adopted = []
        self.own = None
