"""OTLP ``AnyValue`` in its JSON form: Python values to OTLP/JSON text and back.

Attributes are written as JSON text directly (``attribute``), not as dicts
for a JSON encoder: a record has a dozen of them, and building two dicts per
attribute cost more than the rest of the record.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any, Callable, Dict, FrozenSet, Optional

#: ``"text"`` as a JSON string (C-accelerated; non-ASCII kept as is).
quote: Callable[[str], str] = encode_basestring

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: Nesting kept in a dict or list extra; deeper values become their repr.
MAX_DEPTH = 16


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a hostile __repr__ must not cost the record
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def any_value(value: Any, depth: int = 0, seen: Optional[FrozenSet[int]] = None) -> Dict[str, Any]:
    """An OTLP ``AnyValue`` (JSON form, as dicts) for a Python value.

    str, bool, int and float map to the matching value (an int as a decimal
    string, as OTLP/JSON writes 64-bit integers); dict to ``kvlistValue``;
    list and tuple to ``arrayValue``; None to an empty value. Everything
    else, and ints beyond 64 bits, NaN, infinities (the Collector's JSON
    reader takes no ``"NaN"``), cycles and nesting deeper than
    :data:`MAX_DEPTH`, become ``stringValue`` (of the repr).
    """
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        return {"intValue": str(value)} if _INT64_MIN <= value <= _INT64_MAX else {"stringValue": str(value)}
    if kind is float:
        return {"doubleValue": value} if value - value == 0.0 else {"stringValue": repr(value)}
    if value is None:
        return {}
    if isinstance(value, (dict, list, tuple)) and depth < MAX_DEPTH:
        seen = seen or frozenset()
        if id(value) not in seen:
            inner = seen | {id(value)}
            if isinstance(value, dict):
                pairs = [{"key": k if type(k) is str else _safe_repr(k), "value": any_value(v, depth + 1, inner)}
                         for k, v in value.items()]
                return {"kvlistValue": {"values": pairs}}
            return {"arrayValue": {"values": [any_value(v, depth + 1, inner) for v in value]}}
    if isinstance(value, str):  # a str subclass
        return {"stringValue": str.__str__(value)}
    return {"stringValue": _safe_repr(value)}


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def value_json(value: Any) -> str:
    """:func:`any_value` as JSON text; scalars without building a dict."""
    kind = type(value)
    if kind is str:
        return '{"stringValue":' + quote(value) + "}"
    if kind is int and _INT64_MIN <= value <= _INT64_MAX:
        return '{"intValue":"' + str(value) + '"}'
    if kind is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is float and value - value == 0.0:
        return '{"doubleValue":' + repr(value) + "}"
    return _dumps(any_value(value))


def attribute(key: str, value: Any) -> str:
    """One ``KeyValue`` as JSON text."""
    return '{"key":' + quote(key) + ',"value":' + value_json(value) + "}"


def plain_value(value: Any, depth: int = 0) -> Any:
    """The Python value of an OTLP ``AnyValue`` (JSON form); the inverse of :func:`any_value`."""
    if not isinstance(value, dict) or depth > 64:
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [plain_value(v, depth + 1) for v in value["arrayValue"].get("values") or []]
    if "kvlistValue" in value:
        return {kv.get("key", ""): plain_value(kv.get("value"), depth + 1)
                for kv in value["kvlistValue"].get("values") or []}
    return value.get("bytesValue")


def hex_id(value: Any, length: int) -> Optional[str]:
    """A valid lowercase hex trace or span id of ``length`` digits, else None ("0", all zeros)."""
    if type(value) is not str or len(value) != length:
        return None
    try:
        return value.lower() if int(value, 16) else None
    except ValueError:
        return None
