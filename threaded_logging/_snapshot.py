"""Freeze what a record will say, on the caller's thread.

``emit`` keeps the live :class:`logging.LogRecord` (cheap) plus what could
change or go stale after the call returns: the formatted message (args may be
mutated later) and the exception text (the traceback's frames move on). The
worker builds everything else from the record itself.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Dict, Optional, Tuple

#: Extra schema fields frozen at emit time (``exception``, or the notes of a
#: record that failed to format), or None on the fast path.
Aux = Optional[Dict[str, str]]


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a placeholder when ``__repr__`` itself raises."""
    try:
        return repr(value)
    except Exception as exc:  # a hostile __repr__ must not cost the record
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def safe_str(value: Any) -> str:
    """``str(value)``, falling back to :func:`safe_repr`."""
    if type(value) is str:
        return value
    try:
        return str(value)
    except Exception:
        return safe_repr(value)


def format_exception(exc_info: Any) -> str:
    """The traceback text the stdlib formatter would produce."""
    lines = traceback.format_exception(*exc_info)
    text = "".join(lines)
    return text[:-1] if text.endswith("\n") else text


def take_snapshot(record: logging.LogRecord) -> Tuple[str, Aux]:
    """Format the message and capture the exception text, or raise.

    Returns:
        ``(message, aux)``; ``aux`` is None unless the record carries an
        exception.
    """
    message = record.getMessage()
    if record.exc_info:
        return message, {"exception": record.exc_text or format_exception(record.exc_info)}
    if record.exc_text:
        return message, {"exception": record.exc_text}
    return message, None


def failed_snapshot(record: logging.LogRecord, error: BaseException) -> Tuple[str, Aux]:
    """The snapshot of a record whose message cannot be formatted.

    The raw ``msg`` becomes the message; the args' repr and the error are kept
    beside it so nothing the caller passed is lost.
    """
    aux: dict[str, str] = {
        "format_error": f"{type(error).__name__}: {safe_str(error)}",
        "args": safe_repr(record.args),
    }
    if record.exc_info:
        try:
            aux["exception"] = format_exception(record.exc_info)
        except Exception as exc:
            aux["exception"] = f"<traceback unavailable: {type(exc).__name__}>"
    return safe_str(record.msg), aux
