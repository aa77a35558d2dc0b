"""Pieces the formats' decoders share: they read bodies from anyone."""

from __future__ import annotations

import math
from typing import Any, Dict

from .._schema import iso_timestamp


def time_fields(created: Any) -> Dict[str, Any]:
    """The schema's ``timestamp`` and ``created`` for epoch seconds; empty
    when ``created`` is not a number a calendar can show."""
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created):
        return {}
    try:
        return {"timestamp": iso_timestamp(created, (created % 1) * 1000), "created": created}
    except (OverflowError, OSError, ValueError):
        return {}
