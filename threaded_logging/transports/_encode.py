"""Shared encoding pieces: size-bounded splitting and the truncation marker.

Every body format and transport that has a size limit uses these, so a
record that is too large is cut the same way everywhere: its message (then
its traceback and stack) is shortened and ends with :data:`MARKER`, and the
record gains :data:`TRUNCATED_FIELD` with the message's original length.
"""

from __future__ import annotations

import bisect
import decimal
import itertools
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
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


#: What a record cut to its essentials keeps (its message shortened further).
ESSENTIALS = ("timestamp", "created", "level", "logger", "host", "record_id")


def fit_encoded(item: Item, schema: Schema, limit: int, encode: Callable[[Dict[str, Any]], bytes]) -> bytes:
    """A record's encoding shrunk to at most ``limit`` bytes, for formats that
    wrap or escape the schema (an envelope, a JSON string, OTLP attributes).

    ``encode`` turns a schema dict into the bytes that count against the
    limit. The message, then the traceback and stack, are cut (each again
    while escaping still overshoots); when the extras alone are too large,
    only :data:`ESSENTIALS` and the start of the message are kept. The
    record gains ``truncated``, the message's original length.
    """
    fields = schema.fields(item)
    length = len(item[MESSAGE])
    shrunk = dict(fields)
    shrunk[TRUNCATED_FIELD] = length
    data = encode(shrunk)
    for key in ("message", "exception", "stack"):
        value = shrunk.get(key)
        if len(data) <= limit:
            return data
        if not isinstance(value, str) or not value:
            continue
        shrunk[key] = ""
        base = len(encode(shrunk))
        size = len(value.encode("utf-8", "surrogatepass"))
        ratio = max(1.0, (len(data) - base) / size)  # what escaping makes of each byte, on average
        keep = int((limit - base) / ratio) - 16
        for _ in range(3):  # again while the kept part escapes more than the average
            shrunk[key] = cut_utf8(value, max(0, keep))
            data = encode(shrunk)
            if len(data) <= limit or keep <= 0:
                break
            keep -= int((len(data) - limit) * ratio) + 16
    essentials: Dict[str, Any] = {k: fields[k] for k in ESSENTIALS if k in fields}
    if isinstance(essentials.get("logger"), str):
        essentials["logger"] = cut_utf8(essentials["logger"], limit // 8)
    essentials["message"] = cut_utf8(str(fields.get("message", "")), max(0, limit // 4))
    essentials[TRUNCATED_FIELD] = length
    data = encode(essentials)
    if len(data) > limit:
        essentials["message"] = MARKER
        data = encode(essentials)
    return data


def created_ns(created: float) -> str:
    """Nanoseconds since the epoch, as a decimal string, from ``LogRecord.created``.

    Exact to the microsecond: ``1715412233.736937`` gives
    ``"1715412233736937000"``, where ``int(created * 1e9)`` gives
    ``...736936960`` (binary rounding). A float near today's epoch holds
    no finer time (its resolution is 2.4e-7 s), and until 2096 the
    product ``created * 1e6`` is within half a microsecond of the decimal
    it stands for, so rounding it is exact; other times are read from the
    decimal form. A time before 1970 or past 2554 (not an
    unsigned 64-bit count), or not a finite number, gives ``"0"``.
    """
    if type(created) is float and 0.0 < created < 4e9:
        return str(round(created * 1e6)) + "000"
    try:
        nanos = int(decimal.Decimal(repr(created)).scaleb(9))
    except (ArithmeticError, ValueError):  # nan, inf, or not a number at all
        return "0"
    return str(nanos) if 0 <= nanos < 2**64 else "0"


def pack(
    items: Sequence[Item],
    parts: Sequence[bytes],
    max_bytes: int,
    max_records: Optional[int] = None,
) -> List[Tuple[List[Item], List[bytes]]]:
    """Group encoded records, in order, into runs of at most ``max_bytes``
    bytes and ``max_records`` records. A part larger than ``max_bytes`` goes
    alone (shrink it first)."""
    ends = list(itertools.accumulate(map(len, parts)))  # each run's cut found by bisection, not a step per part
    groups: List[Tuple[List[Item], List[bytes]]] = []
    total = len(ends)
    limit_records = max_records or total or 1
    start = 0
    while start < total:
        before = ends[start - 1] if start else 0
        stop = max(start + 1, bisect.bisect_right(ends, before + max_bytes, start, min(total, start + limit_records)))
        groups.append((list(items[start:stop]), list(parts[start:stop])))
        start = stop
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
