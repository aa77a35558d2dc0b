"""Common options of every threaded handler: defaults, units, validation.

Public options keep the units of the specification (``flush_interval`` in
milliseconds, the other times in seconds). They are converted once here, so the
hot path never branches on configuration and internal names carry their unit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ._schema import check_static_fields

OVERFLOW_POLICIES = ("drop_newest", "drop_oldest", "block")

DEFAULTS: dict[str, Any] = {
    "flush_interval": 1000,
    "batch_size": 3000,
    "capacity": 10_000,
    "overflow": "drop_newest",
    "block_timeout": 1.0,
    "shutdown_timeout": 5.0,
    "spool_dir": None,
    "spool_max_bytes": 256 * 1024 * 1024,
    "max_retry_time": 60.0,
    "static_fields": None,
    "level": logging.NOTSET,
    "journal": False,
    "journal_bytes": 8 * 1024 * 1024,
}


@dataclass(frozen=True)
class Options:
    """The validated common options, times already in seconds."""

    interval_s: float
    batch_size: int
    capacity: int
    overflow: str
    block_timeout_s: float
    shutdown_timeout_s: float
    spool_dir: str | None
    spool_max_bytes: int
    max_retry_time_s: float | None
    static_fields: Mapping[str, Any] = field(default_factory=dict)
    level: int = logging.NOTSET
    journal: bool = False
    journal_bytes: int = 8 * 1024 * 1024


def number(name: str, value: Any, *, minimum: float, integer: bool = False,
           maximum: Optional[float] = None) -> float:
    """Validate a numeric option; numeric strings (from config files) are read too.

    Raises:
        TypeError: not a number.
        ValueError: not whole when ``integer``, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value) if not integer else int(value)
            except ValueError:
                raise TypeError(f"{name} must be a number, got {value!r}") from None
        else:
            raise TypeError(f"{name} must be a number, got {value!r}")
    if integer and value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if math.isnan(value) or value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}, got {value!r}")
    return float(value)


def whole(name: str, value: Any, *, minimum: int, maximum: Optional[int] = None) -> int:
    """:func:`number` for whole numbers, returned as an int."""
    return int(number(name, value, minimum=minimum, integer=True, maximum=maximum))


def choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Validate an option that takes one of ``choices``.

    Raises:
        TypeError: not a string.
        ValueError: not one of ``choices``.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def text(name: str, value: Any, *, empty: bool = False) -> str:
    """Validate a string option (non-empty unless ``empty``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r}")
    if not value and not empty:
        raise ValueError(f"{name} must not be empty")
    return value


def _level(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"level must be a level name or number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        resolved = logging.getLevelName(value.upper())
        if isinstance(resolved, int):
            return resolved
        if value.isdigit():
            return int(value)
        raise ValueError(f"level must be a known level name, got {value!r}")
    raise TypeError(f"level must be a level name or number, got {value!r}")


def parse_options(options: Mapping[str, Any]) -> Options:
    """Validate the common options and convert them to internal units.

    Raises:
        TypeError: an option has the wrong type, or is not a known option.
        ValueError: an option is out of range.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    merged = {**DEFAULTS, **options}
    overflow = choice("overflow", merged["overflow"], OVERFLOW_POLICIES)
    max_retry = merged["max_retry_time"]
    spool_dir = merged["spool_dir"]
    if spool_dir is not None and not isinstance(spool_dir, str):
        spool_dir = str(spool_dir)
    return Options(
        interval_s=number("flush_interval", merged["flush_interval"], minimum=1) / 1000.0,
        batch_size=whole("batch_size", merged["batch_size"], minimum=1),
        capacity=whole("capacity", merged["capacity"], minimum=1),
        overflow=overflow,
        block_timeout_s=float(number("block_timeout", merged["block_timeout"], minimum=0)),
        shutdown_timeout_s=float(
            number("shutdown_timeout", merged["shutdown_timeout"], minimum=0)
        ),
        spool_dir=spool_dir,
        spool_max_bytes=int(
            number("spool_max_bytes", merged["spool_max_bytes"], minimum=4096, integer=True)
        ),
        max_retry_time_s=(
            None if max_retry is None else float(number("max_retry_time", max_retry, minimum=0))
        ),
        static_fields=check_static_fields(merged["static_fields"]),
        level=_level(merged["level"]),
        journal=_journal(merged["journal"], spool_dir),
        journal_bytes=whole("journal_bytes", merged["journal_bytes"], minimum=64 * 1024),
    )


def _journal(value: Any, spool_dir: Optional[str]) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        value = value.strip().lower() in ("true", "1", "yes", "on")
    if not isinstance(value, bool):
        raise TypeError(f"journal must be True or False, got {value!r}")
    if value and spool_dir is None:
        raise ValueError("journal=True needs spool_dir (the journal lives beside the spool)")
    return value
