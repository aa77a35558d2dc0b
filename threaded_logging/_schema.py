"""The JSON record schema (one object per record) and :class:`JsonFormatter`."""

from __future__ import annotations

import datetime
import enum
import json
import logging
import math
import re
import secrets
import socket
import time
import uuid
from typing import Any, Mapping

from ._snapshot import (AUX, INIT_ATTRS, MESSAGE, PRIVATE_AUX, RECORD, SEQ, Aux, Item, failed_snapshot, safe_repr,
                        take_snapshot)

HOST = socket.gethostname()

#: The schema's own keys, in the order a record's JSON object lists them.
#: ``static_fields`` may not use them; an extra that does is renamed.
SCHEMA_KEYS = (
    "timestamp",
    "created",
    "level",
    "logger",
    "message",
    "module",
    "function",
    "line",
    "path",
    "process",
    "process_name",
    "thread",
    "thread_name",
    "host",
    "record_id",
    "exception",
    "stack",
)

#: Attributes every LogRecord has; anything else in ``__dict__`` is an extra.
_RECORD_ATTRS = frozenset(INIT_ATTRS) | {"message", "asctime", "taskName"}

#: Prefix for an extra whose name collides with a schema key.
EXTRA_PREFIX = "extra_"

_second_cache: tuple[int, str] = (-1, "")


_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))


def iso_timestamp(created: float, msecs: float) -> str:
    """``2024-05-01T12:00:00.123Z`` (UTC, milliseconds)."""
    global _second_cache
    second = int(created)
    if created < second:  # before 1970: int() rounded the second up, toward zero
        second -= 1
        if msecs < 0:  # the stdlib's msecs counts back from that second
            msecs += 1000
    cached_second, prefix = _second_cache
    if cached_second != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_cache = (second, prefix)
    try:
        return prefix + _MILLIS[int(msecs)]
    except IndexError:  # a hand-made record's msecs out of 0-999
        return f"{prefix}.{int(msecs):03d}Z"


def record_dict(
    record: logging.LogRecord,
    message: str,
    aux: Aux = None,
    static_fields: Mapping[str, Any] | None = None,
    record_id: str | None = None,
) -> dict[str, Any]:
    """Build the schema's dict for one record (worker thread, or a formatter).

    ``record_id`` is given by the threaded handlers (see :class:`Schema`); a
    record rebuilt by :func:`~threaded_logging._snapshot.as_stdlib_record`
    carries it as an attribute, which takes the same place.
    """
    out: dict[str, Any] = {
        "timestamp": iso_timestamp(record.created, record.msecs),
        "created": record.created,
        "level": record.levelname,
        "logger": record.name,
        "message": message,
        "module": record.module,
        "function": record.funcName,
        "line": record.lineno,
        "path": record.pathname,
        "process": record.process,
        "process_name": record.processName,
        "thread": record.thread,
        "thread_name": record.threadName,
        "host": HOST,
    }
    attrs = record.__dict__
    if record_id is not None:
        out["record_id"] = record_id
    elif "record_id" in attrs:
        out["record_id"] = attrs["record_id"]
    if aux:
        for key, value in aux.items():
            if key not in PRIVATE_AUX:
                out[key] = value
    if record.stack_info:
        out["stack"] = record.stack_info
    extras = attrs.keys() - _RECORD_ATTRS
    if extras:
        # in the record's own order (a set's order is arbitrary)
        for key in extras if len(extras) == 1 else [k for k in attrs if k in extras]:
            value = attrs[key]
            if key == "record_id" and out.get("record_id") == value:
                continue
            while key in out:
                key = EXTRA_PREFIX + key
            out[key] = value
    if static_fields:
        for key, value in static_fields.items():
            out.setdefault(key, value)
    return out


def check_static_fields(value: Any) -> dict[str, Any]:
    """Validate ``static_fields``: a dict of string keys that are not schema keys."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"static_fields must be a dict, got {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"static_fields keys must be strings, got {key!r}")
        if key in SCHEMA_KEYS:
            raise ValueError(
                f"static_fields key {key!r} is a record schema field; pick another name"
            )
    return dict(value)


class Schema:
    """How one threaded handler renders its records: static fields and ids.

    Every record a threaded handler emits gets a ``record_id``: a random
    prefix per handler instance (renewed after fork) plus the record's
    sequence number, so ids are unique across handlers, processes and
    restarts. A record read back from the spool keeps the id it was given.

    Args:
        static_fields: fields added to every record.
    """

    def __init__(self, static_fields: Mapping[str, Any] | None = None) -> None:
        self.static_fields: Mapping[str, Any] = dict(static_fields or {})
        self.id_prefix = ""
        self.renew_id_prefix()

    def renew_id_prefix(self) -> None:
        """Draw a new random prefix (at construction and in a forked child)."""
        self.id_prefix = secrets.token_hex(8) + "-"

    def record_id(self, item: Item) -> str:
        """The record's id: the stored one, else prefix + sequence number."""
        aux = item[AUX]
        if aux is not None and "record_id" in aux:
            return aux["record_id"]
        return self.id_prefix + str(item[SEQ])

    def fields(self, item: Item) -> dict[str, Any]:
        """The schema's dict for ``item``, ``record_id`` and static fields included."""
        aux = item[AUX]
        if aux is not None and "record_id" in aux:
            record_id = aux["record_id"]
        else:
            record_id = self.id_prefix + str(item[SEQ])
        return record_dict(item[RECORD], item[MESSAGE], aux, self.static_fields, record_id)


def _default(value: Any) -> Any:
    """What a value JSON cannot encode becomes (the same with orjson and json)."""
    if isinstance(value, (set, frozenset, tuple)):
        return [v for v in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return safe_repr(value)


_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
)


def _safe_value(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (math.inf, -math.inf)):
        return None  # NaN and infinities are not JSON; null, as orjson and browsers write them
    try:
        _encoder.encode(value)
    except (TypeError, ValueError, RecursionError):
        return safe_repr(value)
    return value


def dumps(data: Mapping[str, Any]) -> str:
    """Encode a record dict as one JSON line (no newline), whatever it holds.

    Values JSON cannot encode go through ``_default`` (their ``repr()`` in
    the end); a value that still fails (a cycle, a dict with tuple keys) is
    replaced by its repr alone, and NaN by null, so the other fields survive.
    The result may hold lone surrogates; see :func:`to_utf8`.
    """
    try:
        return _encoder.encode(data)
    except (TypeError, ValueError, RecursionError):
        pass
    return _encoder.encode({str(key): _safe_value(value) for key, value in data.items()})


try:  # optional: orjson encodes a record about ten times faster (the [fast] extra)
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_PASSTHROUGH_DATACLASS
    #: For a dict whose keys are not all strings: a third slower, so only on a retry.
    _ORJSON_NON_STR = _ORJSON_OPTIONS | _orjson.OPT_NON_STR_KEYS
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]


def dumps_bytes(data: Mapping[str, Any]) -> bytes:
    """:func:`dumps` as UTF-8 bytes: orjson when installed, the same output either way."""
    if _orjson is not None:
        try:
            return _orjson.dumps(data, default=_default, option=_ORJSON_OPTIONS)
        except (TypeError, ValueError, RecursionError):
            try:  # keys that are not strings (orjson's error is a TypeError, whatever the cause)
                return _orjson.dumps(data, default=_default, option=_ORJSON_NON_STR)
            except (TypeError, ValueError, RecursionError):
                pass  # surrogates, huge ints, cycles: the careful path below
    return to_utf8(dumps(data))


_SURROGATE = re.compile("[\ud800-\udfff]")


def to_utf8(text: str) -> bytes:
    """UTF-8 bytes of ``text``; each lone surrogate becomes U+FFFD instead of failing."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


class JsonFormatter(logging.Formatter):
    """Render records as one JSON object per line, in the record schema.

    Works with any stdlib handler; the threaded handlers use the same schema.
    A record whose message cannot be formatted is still rendered, with its raw
    ``msg``, the ``args`` repr and a ``format_error`` note. The output never
    holds lone surrogates.

    The positional parameters are the stdlib ``Formatter``'s, accepted and
    ignored, so ``dictConfig`` and ``fileConfig`` can build it from a
    ``class`` key (``{"()": "threaded_logging.JsonFormatter", "static_fields":
    {...}}`` passes static fields).

    Args:
        fmt, datefmt, style, validate, defaults: ignored (the schema is fixed).
        static_fields: dict of fields added to every record (default none).
            Keys may not be schema keys.
    """

    def __init__(self, fmt: Any = None, datefmt: Any = None, style: str = "%", validate: bool = True,
                 *, defaults: Any = None, static_fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.static_fields = check_static_fields(static_fields)

    def format(self, record: logging.LogRecord) -> str:
        try:
            message, aux = take_snapshot(record)
        except RecursionError:
            raise
        except Exception as exc:
            message, aux = failed_snapshot(record, exc)
        return dumps_bytes(record_dict(record, message, aux, self.static_fields)).decode("utf-8")


__all__ = ["JsonFormatter", "Schema", "record_dict", "dumps", "dumps_bytes", "to_utf8", "SCHEMA_KEYS"]
