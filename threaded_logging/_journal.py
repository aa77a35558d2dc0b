"""The journal: every record's snapshot in a memory-mapped file before ``emit`` returns.

A record whose logging call returned is then in the kernel's page cache and
survives ``kill -9``, a segfault, an OOM kill or ``os._exit`` (not a power
loss). The timer thread marks entries done once their records are in the
spool (or settled); a handler with the same identity that starts later
replays the entries that are not done, in logged order.

The file (``<token>.journal`` under ``spool_dir``) is a ring of
``journal_bytes``: a 256-byte header (the handler's spool stem and record id
prefix, the last sequence number done and where the first entry not done
starts), then entries of
``length (u32) | check (u32) | seq (u64) | payload``, where the check is
the payload's Adler-32 mixed with the sequence number; a length of
``0xFFFFFFFF`` marks where the writer wrapped to the start. The header is
written after the payload and its checksum covers the payload and the
sequence number, so a torn or corrupt entry is detected and skipped. Sequence numbers only grow in a journal, so an entry
left from an earlier lap (a smaller number) ends the scan.
"""

from __future__ import annotations

import collections
import json
import logging
import mmap
import os
import struct
import zlib
from typing import Deque, List, NamedTuple, Optional, Tuple

from ._snapshot import Aux, Item

try:  # optional, as in _schema
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

MAGIC = b"TLJ1"
SUFFIX = ".journal"
HEADER = 256
_ENTRY = struct.Struct("<IIQ")  # length, adler32, seq
_WRAP = 0xFFFFFFFF
_DONE = struct.Struct("<QQ")  # done seq, head offset
_DONE_AT = 8
_ZERO4 = b"\0\0\0\0"
_PREFIX_AT = 24  # u8 length, then up to 39 bytes
_STEM_AT = 64  # u8 length, then up to 191 bytes

#: orjson's dumps (None without orjson): ``emit`` calls it directly.
fast_dumps = _orjson.dumps if _orjson is not None else None


def encode(record: logging.LogRecord, message: str, aux: Aux) -> Tuple[bytes, int]:
    """A record's entry payload (what it takes to ship it as it would have been)
    and the payload's checksum, computed on the caller's thread outside any lock.

    The record's attributes go whole, in one C call: picking its extras out
    in Python costs three times as much.
    """
    if _orjson is not None:
        try:
            payload: bytes = _orjson.dumps((message, aux, record.__dict__), default=repr)
            return payload, zlib.adler32(payload)
        except (TypeError, ValueError):
            pass  # surrogates, huge ints, cycles: the careful path
    attrs = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else repr(v))
             for k, v in record.__dict__.items()}
    payload = json.dumps((message, aux, attrs), default=repr).encode("ascii")
    return payload, zlib.adler32(payload)


def decode(payload: bytes, seq: int, record_id: str) -> Item:
    """The item a payload stands for, with its original ``record_id``."""
    message, aux, attrs = json.loads(payload)
    for key in ("msg", "args", "exc_info", "message"):
        attrs.pop(key, None)
    record = logging.makeLogRecord(attrs)
    record.msg = str(message)
    record.args = None
    frozen = dict(aux or {})
    frozen["record_id"] = record_id
    return (seq, record, str(message), frozen)


class Journal:
    """This process's journal file for one handler (writer side).

    Args:
        path: the file to create.
        size: its size in bytes (``journal_bytes``).
        id_prefix: the handler's record id prefix (stored in the header).
        stem: the handler's spool stem, which says whose journal it is.

    Threads:
        :meth:`append` runs on callers' threads with the buffer's lock held
        (entries are in sequence order); :meth:`mark_done` on the timer
        thread, taking that same lock through the caller.
    """

    def __init__(self, path: str, size: int, id_prefix: str, stem: str) -> None:
        self.path = path
        self.size = size
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._map[0:4] = MAGIC
        _put_text(self._map, _PREFIX_AT, id_prefix, 39)
        self.rename(stem)
        _DONE.pack_into(self._map, _DONE_AT, 0, HEADER)
        self._tail = HEADER
        self._room = size - HEADER
        self._lapped = False  # the writer went round once: older entries lie ahead of the tail
        self._used = 0  # bytes between the first entry not done and the tail, gaps included
        self._pending: Deque[Tuple[int, int, int]] = collections.deque()  # (seq, end offset, bytes)

    def rename(self, stem: str) -> None:
        """The handler's identity changed (``set_name``): so does its journal's owner."""
        _put_text(self._map, _STEM_AT, stem, 191)

    def append(self, seq: int, payload: bytes, check: int) -> bool:
        """Write an entry (the buffer's lock held); False when the journal is full.

        The header goes last: a process killed while writing leaves a zero
        length (the scan stops) or a checksum that fails.
        """
        size = _ENTRY.size + len(payload)
        tail = self._tail
        end = tail + size
        if end + 4 > self.size or self._used + size > self._room or not payload:
            return self._append_wrapping(seq, payload, check)
        mm = self._map
        if self._lapped:  # older bytes lie ahead: the scan must stop at this entry's end
            mm[end:end + 4] = _ZERO4
        mm[tail + _ENTRY.size:end] = payload
        _ENTRY.pack_into(mm, tail, len(payload), (check ^ seq) & 0xFFFFFFFF, seq)
        self._tail = end
        self._used += size
        self._pending.append((seq, end, size))
        return True

    def _append_wrapping(self, seq: int, payload: bytes, check: int) -> bool:
        size = _ENTRY.size + len(payload)
        cost = size + (self.size - self._tail)  # the end of the ring is skipped
        if not payload or self._used + cost > self._room or HEADER + size + 4 > self.size:
            return False
        mm = self._map
        if self._tail + 4 <= self.size:
            struct.pack_into("<I", mm, self._tail, _WRAP)
        self._tail, self._lapped = HEADER, True
        end = HEADER + size
        mm[end:end + 4] = _ZERO4
        mm[HEADER + _ENTRY.size:end] = payload
        _ENTRY.pack_into(mm, HEADER, len(payload), (check ^ seq) & 0xFFFFFFFF, seq)
        self._tail = end
        self._used += cost
        self._pending.append((seq, end, cost))
        return True

    def mark_done(self, upto: int) -> None:
        """Entries up to sequence number ``upto`` need no replay (the buffer's lock held)."""
        pending = self._pending
        if not pending or pending[0][0] > upto:
            return
        freed, head = 0, HEADER
        while pending and pending[0][0] <= upto:
            _, head, cost = pending.popleft()
            freed += cost
        self._used -= freed
        _DONE.pack_into(self._map, _DONE_AT, upto, head)

    def all_done(self) -> bool:
        """Whether every entry written is done."""
        return not self._pending

    def close(self, remove: bool) -> None:
        """Unmap; remove the file when nothing in it needs a replay."""
        try:
            self._map.close()
        except (BufferError, ValueError):  # already closed
            pass
        if remove:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass

    def forget(self) -> None:
        """In a forked child: never write to the parent's journal again."""
        try:
            self._map.close()  # the child's view only; the parent's stays
        except (BufferError, ValueError):
            pass


def _put_text(mm: mmap.mmap, at: int, text: str, most: int) -> None:
    data = text.encode("utf-8")[:most]
    mm[at] = len(data)
    mm[at + 1:at + 1 + len(data)] = data


def _get_text(data: bytes, at: int) -> str:
    return data[at + 1:at + 1 + data[at]].decode("utf-8", "replace")


class Contents(NamedTuple):
    """What a journal left by an earlier process holds."""

    stem: str
    prefix: str
    done_seq: int
    entries: List[Tuple[int, bytes]]  #: (seq, payload) not yet done, in logged order
    skipped: int  #: entries whose checksum failed


def read(path: str) -> Optional[Contents]:
    """The entries of a journal file that are not done; None when it is not a journal."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    if len(data) < HEADER or data[:4] != MAGIC:
        return None
    done_seq, head = _DONE.unpack_from(data, _DONE_AT)
    entries, skipped = _scan(data, head if HEADER <= head < len(data) else HEADER, done_seq)
    return Contents(_get_text(data, _STEM_AT), _get_text(data, _PREFIX_AT), done_seq, entries, skipped)


def read_stem(path: str) -> Optional[str]:
    """Whose journal a file is (its spool stem), reading only the header."""
    try:
        with open(path, "rb") as file:
            data = file.read(HEADER)
    except OSError:
        return None
    return _get_text(data, _STEM_AT) if len(data) == HEADER and data[:4] == MAGIC else None


def _scan(data: bytes, offset: int, done_seq: int) -> Tuple[List[Tuple[int, bytes]], int]:
    entries: List[Tuple[int, bytes]] = []
    skipped, last, wrapped = 0, done_seq, False
    while True:
        if offset + _ENTRY.size > len(data):
            if wrapped:
                break
            offset, wrapped = HEADER, True
            continue
        length, crc, seq = _ENTRY.unpack_from(data, offset)
        if length == _WRAP:
            if wrapped:
                break
            offset, wrapped = HEADER, True
            continue
        end = offset + _ENTRY.size + length
        if length == 0 or end > len(data):
            break
        payload = data[offset + _ENTRY.size:end]
        if (zlib.adler32(payload) ^ seq) & 0xFFFFFFFF != crc:
            skipped += 1
            break  # torn or corrupt: nothing after it can be trusted
        if seq <= last:
            break  # an entry from an earlier lap of the ring
        entries.append((seq, payload))
        last, offset = seq, end
    return entries, skipped


def items_from(contents: Contents, after_seq: int) -> List[Item]:
    """The replayable items of a journal: entries past ``after_seq``, each with its original id."""
    items: List[Item] = []
    for seq, payload in contents.entries:
        if seq <= after_seq:
            continue
        try:
            items.append(decode(payload, seq, contents.prefix + str(seq)))
        except (ValueError, TypeError):
            continue  # passed its checksum but not readable: counted by the caller as skipped
    return items
