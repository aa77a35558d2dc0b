"""Pieces the formats' decoders share: they read bodies from anyone."""

from __future__ import annotations

import json
import math
from typing import Any, Dict

try:  # optional: parses a body several times faster
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None  # type: ignore[assignment]

from .._schema import iso_timestamp

#: orjson's ``loads`` when installed, else None; it refuses lone surrogates,
#: NaN and integers past 64 bits, so a caller keeps a general path.
orjson_loads = _orjson_loads


def time_fields(created: Any) -> Dict[str, Any]:
    """The schema's ``timestamp`` and ``created`` for epoch seconds; empty
    when ``created`` is not a number a calendar can show."""
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created):
        return {}
    try:
        return {"timestamp": iso_timestamp(created, (created % 1) * 1000), "created": created}
    except (OverflowError, OSError, ValueError):
        return {}


def loads(data: Any) -> Any:
    """``json.loads``, through orjson when it can read the text (it refuses
    lone surrogates, NaN and integers past 64 bits; the stdlib reads those)."""
    if _orjson_loads is not None:
        try:
            return _orjson_loads(data)
        except ValueError:
            pass
    return json.loads(data)
