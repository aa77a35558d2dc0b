"""Records for the body-format tests: typical ones and every bad input."""

from __future__ import annotations

import logging
import sys
from typing import Any, Dict, List, Optional

from threaded_logging._schema import Schema
from threaded_logging._snapshot import Item, failed_snapshot, take_snapshot

#: A created time with six decimals: binary rounding would show in nanoseconds.
CREATED = 1715412233.736937
CREATED_NS = "1715412233736937000"

#: Format name -> options for a format that needs some.
OPTIONS: Dict[str, Dict[str, Any]] = {
    "otlp": {}, "elasticsearch": {"index": "logs"}, "loki": {}, "splunk_hec": {"token": "0000-test-token"},
}
NEW_FORMATS = sorted(OPTIONS)


def make_record(
    msg: Any = "hello %s",
    args: Any = ("world",),
    level: int = logging.INFO,
    name: str = "app.web",
    created: float = CREATED,
    exc: bool = False,
    stack: bool = False,
    extra: Optional[Dict[str, Any]] = None,
) -> logging.LogRecord:
    """A LogRecord as a logger call makes it, at ``created``."""
    exc_info = None
    if exc:
        try:
            raise ValueError("bad value", 42)
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.getLogger(name).makeRecord(
        name, level, "/srv/app/views.py", 42, msg, args, exc_info, "handle", extra,  # type: ignore[arg-type]
        sinfo="Stack (most recent call last):\n  File x" if stack else None,
    )
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


def make_item(seq: int = 1, record: Optional[logging.LogRecord] = None, **kwargs: Any) -> Item:
    """A queued record (``(seq, record, message, aux)``) as ``emit`` freezes it."""
    record = record if record is not None else make_record(**kwargs)
    try:
        message, aux = take_snapshot(record)
    except Exception as exc:
        message, aux = failed_snapshot(record, exc)
    return (seq, record, message, aux)


def make_items(count: int, **kwargs: Any) -> List[Item]:
    """``count`` records ``"n=<i>"``, a microsecond apart, sequence numbers from 1."""
    return [make_item(i + 1, msg="n=%d", args=(i,), created=CREATED + i / 1e6, **kwargs) for i in range(count)]


class Unprintable:
    """An object whose repr and str raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


def bad_items() -> Dict[str, Item]:
    """Every bad input a format must survive, by name."""
    cyclic: Dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    return {
        "huge_message": make_item(1, msg="x" * (5 * 1024 * 1024), args=()),
        "cyclic_dict": make_item(2, extra={"ctx": cyclic}),
        "lone_surrogate": make_item(3, msg="bad \udc80 text %s", args=("\ud800",), extra={"s": "\udfff"}),
        "nan": make_item(4, extra={"ratio": float("nan"), "big": float("inf"), "neg": float("-inf")}),
        "huge_int": make_item(5, extra={"n": 10**40, "m": -(2**64)}),
        "bytes": make_item(6, extra={"raw": b"\x00\xff\x80", "blob": bytearray(b"ab")}),
        "unprintable": make_item(7, extra={"obj": Unprintable()}),
        "bad_args": make_item(8, msg="%d items", args=("not a number",)),
        "control_chars": make_item(9, msg="tab\tnl\ncr\rnul\x00esc\x1b\"quote\\", args=()),
        "deep": make_item(10, extra={"deep": _nested(40)}),
        "exception": make_item(11, exc=True, stack=True),
        "none_func": make_item(12, record=_record_without_function()),
    }


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"down": [value]}
    return value


def _record_without_function() -> logging.LogRecord:
    record = logging.LogRecord("raw", logging.ERROR, "", 0, "no caller", None, None)
    record.created = CREATED
    return record


def schema(**static: Any) -> Schema:
    """A schema with the given static fields (and a fixed id prefix)."""
    out = Schema(static)
    out.id_prefix = "0123456789abcdef-"
    return out
