"""A snapshot as one line of bytes and back: what the spool stores.

A frozen record keeps its sequence number, every attribute of the record
(values JSON cannot hold as their repr), the formatted message, the frozen
extras and its ``record_id``, so a record read back ships exactly as it
would have.
"""

from __future__ import annotations

import json
import logging
from typing import Callable, List, Sequence

from ._snapshot import INIT_ATTRS, Item, safe_repr

try:  # optional, as in _schema: freezes a record several times faster
    import orjson as _orjson

    #: ``freeze_all`` leaves out OPT_NON_STR_KEYS (it costs a third more on
    #: every record); a record with such keys takes :func:`freeze`, which has it.
    _FAST_OPTIONS = _orjson.OPT_PASSTHROUGH_DATACLASS | _orjson.OPT_PASSTHROUGH_DATETIME
    _OPTIONS = _FAST_OPTIONS | _orjson.OPT_NON_STR_KEYS
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]


#: Record attributes a frozen record does not keep: the message is kept
#: formatted, and the exception as text (in ``aux``).
_NOT_FROZEN = ("msg", "args", "exc_info", "message")


def freeze_all(items: Sequence[Item], record_id: Callable[[Item], str]) -> List[bytes]:
    """``[freeze(item, record_id(item)) for item in items]``, in one loop:
    the spool's hot loop (one call per batch, not two per record)."""
    if _orjson is None:
        return [freeze(item, record_id(item)) for item in items]
    dumps, lines = _orjson.dumps, []
    for item in items:
        seq, record, message, aux = item
        rid = record_id(item)
        if aux is None:
            aux = {"record_id": rid}
        elif aux.get("record_id") != rid:
            aux = {**aux, "record_id": rid}
        attrs = record.__dict__.copy()
        attrs.pop("msg", None)  # _NOT_FROZEN, unrolled
        attrs.pop("args", None)
        attrs.pop("exc_info", None)
        attrs.pop("message", None)
        try:
            lines.append(dumps({"s": seq, "r": attrs, "m": message, "a": aux}, default=safe_repr,
                               option=_FAST_OPTIONS) + b"\n")
        except (TypeError, ValueError, RecursionError):
            lines.append(freeze(item, rid))
    return lines


def freeze(item: Item, record_id: str) -> bytes:
    """A snapshot as one line of JSON, newline included, that :func:`thaw`
    turns back into an item.

    The newline also makes the line a right-sized copy of orjson's buffer:
    thousands of orjson buffers held at once are ten times slower to make
    (see ``formats/jsonlines.py``)."""
    seq, record, message, aux = item
    if aux is None or aux.get("record_id") != record_id:
        aux = {**(aux or {}), "record_id": record_id}
    attrs = record.__dict__.copy()  # a C-level copy, then four deletions: cheaper than a filter
    for key in _NOT_FROZEN:
        attrs.pop(key, None)
    if _orjson is not None:
        try:
            return _orjson.dumps({"s": seq, "r": attrs, "m": message, "a": aux}, default=safe_repr,
                                 option=_OPTIONS) + b"\n"
        except (TypeError, ValueError, RecursionError):
            pass  # surrogates, huge ints, cycles: the careful path
    try:
        text = json.dumps({"s": seq, "r": attrs, "m": message, "a": aux}, default=safe_repr, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        attrs = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else safe_repr(v)) for k, v in attrs.items()}
        text = json.dumps({"s": seq, "r": attrs, "m": message, "a": aux}, default=safe_repr, ensure_ascii=True)
    return text.encode("ascii") + b"\n"


def thaw(data: bytes) -> Item:
    """The item frozen by :func:`freeze` (the record rebuilt with its frozen message).

    Raises:
        ValueError: the line is not a frozen record.
    """
    payload = _loads(data)
    if not isinstance(payload, dict) or not isinstance(payload.get("r"), dict):
        raise ValueError("not a frozen record")
    attrs = payload["r"]
    if attrs.keys() >= _KEPT:  # rebuilt without __init__, attributes in the order it sets them
        record = _new_record(logging.LogRecord)
        record.__dict__ = {**_BLANK, **attrs}
    else:  # frozen by hand: makeLogRecord fills in what is missing
        record = logging.makeLogRecord(attrs)
    message = str(payload.get("m", ""))
    record.msg = message
    record.args = None
    aux = payload.get("a")
    return (int(payload.get("s", 1)), record, message, aux if isinstance(aux, dict) else None)


#: What ``LogRecord.__init__`` sets, in its order; what freeze keeps of it.
_BLANK = dict.fromkeys(INIT_ATTRS)
_KEPT = frozenset(_BLANK) - frozenset(_NOT_FROZEN)
_new_record = logging.LogRecord.__new__


def _loads(data: bytes) -> object:
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except ValueError:
            pass  # escaped lone surrogates: the stdlib reads them
    return json.loads(data)
