"""Shared encoding pieces: size-bounded splitting and the truncation marker.

Every body format and transport that has a size limit uses these, so a
record that is too large is cut the same way everywhere: its message (then
its traceback and stack) is shortened and ends with :data:`MARKER`, and the
record gains :data:`TRUNCATED_FIELD` with the message's original length.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlencode

from .._schema import Schema, dumps_bytes
from .._snapshot import MESSAGE, Item, as_stdlib_record

#: Field set on a record whose message was cut to fit a size limit; its value
#: is the message's original length in characters.
TRUNCATED_FIELD = "truncated"
#: What a cut text ends with.
MARKER = " ...[truncated]"


def cut_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, marker included."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    keep = max(0, max_bytes - len(MARKER))
    return data[:keep].decode("utf-8", "ignore") + MARKER


def fit_fields(fields: Dict[str, Any], message_length: int, limit: int, data: bytes) -> bytes:
    """Shrink a record's schema dict until its JSON takes at most ``limit`` bytes.

    The message, then the traceback and stack, are cut; ``truncated`` gets
    the original message length. When the extras alone exceed the limit,
    only the essentials are kept.
    """
    fields[TRUNCATED_FIELD] = message_length
    for key in ("message", "exception", "stack"):
        value = fields.get(key)
        if not isinstance(value, str):
            continue
        overshoot = len(data) - limit
        if overshoot <= 0:
            break
        size = len(value.encode("utf-8", "surrogatepass"))
        fields[key] = cut_utf8(value, max(0, size - overshoot - 64))
        data = dumps_bytes(fields)
    if len(data) > limit:
        essentials: Dict[str, Any] = {k: fields[k] for k in ("timestamp", "level", "logger", "message", "host", "record_id") if k in fields}
        essentials["message"] = cut_utf8(str(essentials.get("message", "")), max(0, limit // 2))
        essentials[TRUNCATED_FIELD] = message_length
        data = dumps_bytes(essentials)
    return data


def fit_json(item: Item, schema: Schema, limit: int, data: bytes) -> bytes:
    """The record's schema JSON shrunk to at most ``limit`` bytes (see :func:`fit_fields`)."""
    return fit_fields(schema.fields(item), len(item[MESSAGE]), limit, data)


def pack(
    items: Sequence[Item],
    parts: Sequence[bytes],
    max_bytes: int,
    max_records: Optional[int] = None,
) -> List[Tuple[List[Item], List[bytes]]]:
    """Group encoded records, in order, into runs of at most ``max_bytes``
    bytes and ``max_records`` records. A part larger than ``max_bytes`` goes
    alone (shrink it first)."""
    groups: List[Tuple[List[Item], List[bytes]]] = []
    run_items: List[Item] = []
    run: List[bytes] = []
    size = 0
    limit_records = max_records or len(parts) or 1
    for item, part in zip(items, parts):
        if run and (size + len(part) > max_bytes or len(run) >= limit_records):
            groups.append((run_items, run))
            run_items, run, size = [], [], 0
        run_items.append(item)
        run.append(part)
        size += len(part)
    if run:
        groups.append((run_items, run))
    return groups


def cut_lines(body: bytes, lines: int, limit: int, max_records: Optional[int] = None) -> Optional[List[Tuple[int, bytes]]]:
    """Cut ``lines`` lines that each end with a newline into runs of whole
    lines, in order, of at most ``limit`` bytes and ``max_records`` lines:
    ``(lines, bytes)`` each, the same runs :func:`pack` makes. None when a
    line alone is longer than ``limit`` (it must be shrunk first).

    JSON lines hold no raw newline, so the cuts are found by C-level
    searches, without a Python step per record.
    """
    size = len(body)
    if size <= limit and (max_records is None or lines <= max_records):
        return [(lines, body)]
    runs: List[Tuple[int, bytes]] = []
    start = 0
    while start < size:
        end = body.rfind(b"\n", start, start + limit) + 1
        if end <= start:
            return None
        count = body.count(b"\n", start, end)
        if max_records is not None and count > max_records:
            end, count = start, max_records
            for _ in range(max_records):
                end = body.index(b"\n", end) + 1
        runs.append((count, body[start:end]))
        start = end
    return runs


def encode_form(item: Item, schema: Schema) -> bytes:
    """One record urlencoded as the stdlib ``HTTPHandler`` does (its
    ``mapLogRecord``: the record's ``__dict__``), with ``msg`` formatted,
    ``args`` empty, and ``message``, ``exc_text`` and ``record_id`` set."""
    return urlencode(as_stdlib_record(item, schema.record_id(item)).__dict__).encode("ascii")
