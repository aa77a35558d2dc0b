"""Freeze what a record will say, on the caller's thread.

``emit`` keeps the live :class:`logging.LogRecord` (cheap) plus what could
change or go stale after the call returns: the formatted message (args may be
mutated later) and the exception text (the traceback's frames move on). The
worker builds everything else from the record itself.

A queued record is an :data:`Item`: a plain ``(seq, record, message, aux)``
tuple, read through the index constants below. A NamedTuple or a
``__slots__`` class would read better, but building one costs 150-340 ns
more per ``emit`` than a tuple literal (measured on Python 3.11), a few
percent of the whole logging call.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Dict, Final, Optional, Sequence, Tuple

#: Extra fields frozen at emit time, or None on the fast path. Schema keys:
#: ``exception``; for a record that failed to format, ``format_error`` and
#: ``args``; ``record_id`` once the record was stored and read back.
#: Private keys (not in the JSON schema): ``exc_type`` and ``exc_message``.
Aux = Optional[Dict[str, str]]

#: ``(seq, record, message, aux)``: the handler's sequence number (0 for a
#: gap record, which is not counted), the live record, its formatted
#: message, and the frozen extras.
Item = Tuple[int, logging.LogRecord, str, Aux]
SEQ: Final = 0
RECORD: Final = 1
MESSAGE: Final = 2
AUX: Final = 3

#: The attributes ``LogRecord.__init__`` sets, in the order it sets them.
INIT_ATTRS: Tuple[str, ...] = tuple(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)

#: Keys of ``aux`` that are not schema fields.
PRIVATE_AUX = frozenset({"exc_type", "exc_message"})


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


def _exception_aux(record: logging.LogRecord) -> Dict[str, str]:
    exc_info = record.exc_info
    aux = {"exception": record.exc_text or format_exception(exc_info)}
    if exc_info and exc_info[0] is not None:
        aux["exc_type"] = exc_info[0].__name__
        aux["exc_message"] = safe_str(exc_info[1])
    return aux


def take_snapshot(record: logging.LogRecord) -> Tuple[str, Aux]:
    """Format the message and capture the exception, or raise.

    Returns:
        ``(message, aux)``; ``aux`` is None unless the record carries an
        exception.
    """
    message = record.getMessage()
    if record.exc_info:
        return message, _exception_aux(record)
    if record.exc_text:
        return message, {"exception": record.exc_text}
    return message, None


def failed_snapshot(record: logging.LogRecord, error: BaseException) -> Tuple[str, Aux]:
    """The snapshot of a record whose message cannot be formatted.

    The raw ``msg`` becomes the message; the args' repr and the error are kept
    beside it so nothing the caller passed is lost.
    """
    aux: Dict[str, str] = {
        "format_error": f"{type(error).__name__}: {safe_str(error)}",
        "args": safe_repr(record.args),
    }
    if record.exc_info:
        try:
            aux.update(_exception_aux(record))
        except Exception as exc:
            aux["exception"] = f"<traceback unavailable: {type(exc).__name__}>"
    return safe_str(record.msg), aux


def counted(items: Sequence[Item]) -> int:
    """How many of ``items`` are user records (gap records are not counted)."""
    return sum(1 for item in items if item[SEQ])


def as_stdlib_record(item: Item, record_id: Optional[str] = None) -> logging.LogRecord:
    """A copy of the record that formats as it did at emit time.

    ``msg`` holds the formatted message and ``args`` is None, so a formatter
    or a receiver that applies args cannot fail; ``message`` and
    ``exc_text`` are set, the notes of a record that failed to format are
    attributes, and so is ``record_id`` when given. The original record is
    never changed (other handlers may still hold it).
    """
    _, record, message, aux = item
    copy = logging.LogRecord.__new__(logging.LogRecord)
    attrs = copy.__dict__
    attrs.update(record.__dict__)
    attrs["msg"] = attrs["message"] = message
    attrs["args"] = None
    if aux:
        attrs["exc_text"] = aux.get("exception")
        for key, value in aux.items():
            if key != "exception" and key != "args" and key not in PRIVATE_AUX:
                attrs[key] = value
    if record_id is not None:
        attrs["record_id"] = record_id
    return copy
