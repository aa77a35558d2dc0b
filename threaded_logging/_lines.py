"""A batch of records as schema JSON lines, written from templates: the worker's hot loop.

:func:`json_lines` returns, byte for byte, what
``b"".join(dumps_bytes(schema.fields(item)) + b"\\n" for item in items)``
returns, with orjson and without, at about a quarter of the cost for the
records applications log most: a plain ``LogRecord`` whose extras are
strings, numbers, booleans or None.

Building a dict per record and serializing it costs more than the rest of
the worker's work together (measured under callgrind on CPython 3.11: a
15-key dict display alone is ~4,600 instructions, orjson reading it back
~4,500). Here a record's line is one f-string: the fields that repeat from
one record to the next (level and logger, then module through host) are
encoded once per call site and kept, and only the timestamp, ``created``,
the message, the id and the extras are encoded per record. Strings are
escaped by the stdlib's C ``encode_basestring``, which escapes exactly as
orjson does; floats in the epoch range print the same with ``repr`` as
with orjson (checked on 200,000 random values).

Every record outside that shape (an exception or a stack, a collision, a
value of another type, an unusual ``__dict__``) takes the general path,
:meth:`~threaded_logging._schema.Schema.fields` and
:func:`~threaded_logging._schema.dumps_bytes`, so the output never depends
on which path a record took.
"""

from __future__ import annotations

import logging
import math
import time
from json.encoder import encode_basestring
from operator import attrgetter, itemgetter
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _schema
from ._schema import _RECORD_ATTRS, HOST, SCHEMA_KEYS, Schema, dumps_bytes
from ._snapshot import INIT_ATTRS, Item

_INIT_SET = frozenset(INIT_ATTRS)
_LAST_INIT = INIT_ATTRS[-1]
_INIT_COUNT = len(INIT_ATTRS)
#: A call site: the fields from ``level`` to ``thread_name`` but ``message``.
_SITE_KEYS = ("levelname", "name", "module", "funcName", "lineno", "pathname",
              "process", "processName", "thread", "threadName")
_site_of = itemgetter(*_SITE_KEYS)
#: The other attributes ``__init__`` sets; read to make sure they are there.
_unread = itemgetter(*sorted(_INIT_SET - set(_SITE_KEYS) - {"created", "msecs", "stack_info"}))
#: Millisecond suffixes by ``msecs`` (an integral float; ints and floats hash alike).
_MILLIS_OF = {n: f".{n:03d}Z" for n in range(1000)}
#: Epoch seconds for which ``repr`` prints a float as orjson does (2001-2096).
_EPOCH_RANGE = (1e9, 4e9)
_INT_RANGE = (-(2**63), 2**64)  # what orjson encodes; larger ints go the general path
_SITES_MAX = 4096

#: Call site -> (``,"level":...,"message":``, ``,"module":...,"record_id":``).
_sites: Dict[Tuple[Any, ...], Tuple[str, str]] = {}


class _General(Exception):
    """This record takes the general path."""


#: Per key: what the walk from the end of a record's ``__dict__`` meets.
_INIT, _LAST, _OTHER = 0, 1, 2
_KIND = {**dict.fromkeys(_RECORD_ATTRS, _OTHER), **dict.fromkeys(INIT_ATTRS, _INIT), _LAST_INIT: _LAST}
#: The keys a fast line has; an extra named so is renamed, by the general path.
_FIXED = frozenset(SCHEMA_KEYS)
#: What ``process`` and ``thread`` may be (None when logging does not record them).
_WHOLE = frozenset({int, type(None)})


def json_lines(schema: Schema, items: Sequence[Item]) -> bytes:
    """The records' schema JSON, one line each, each ending with a newline."""
    texts = _texts(schema, items)
    try:
        return "".join(texts).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the general path replaces it
        return b"".join(_careful(schema, items, texts))


def _careful(schema: Schema, items: Sequence[Item], texts: List[str]) -> List[bytes]:
    out = []
    for item, text in zip(items, texts):
        try:
            out.append(text.encode("utf-8"))
        except UnicodeEncodeError:
            out.append(dumps_bytes(schema.fields(item)) + b"\n")
    return out


def _general(schema: Schema, item: Item) -> str:
    return dumps_bytes(schema.fields(item)).decode("utf-8") + "\n"


def _texts(schema: Schema, items: Sequence[Item]) -> List[str]:
    """Each record's line as text; lone surrogates are still in it."""
    static = schema.static_fields
    tail = _static_tail(static)
    if tail is None:
        return [_general(schema, item) for item in items]
    tail, keys, value_text = tail + "}\n", _KeyTexts(static), _value_texts()
    id_prefix, out, second, stamp, plain = schema.id_prefix, [], -1.0, "", logging.LogRecord
    last_site: Tuple[Any, ...] = ()
    head = middle = ""
    for item, created_text in zip(items, _created_texts(items)):
        seq, record, message, aux = item
        attrs = record.__dict__
        try:
            record_id = f'"{id_prefix}{seq}"' if aux is None else _stored_id(aux)
            site = _site_of(attrs)
            if site != last_site:  # consecutive records mostly come from one call site
                head, middle = _sites.get(site) or _site(site)
                last_site = site
            created = attrs["created"]
            if (attrs["stack_info"] or type(created) is not float or type(record) is not plain
                    or type(site[4]) is not int or type(site[6]) not in _WHOLE or type(site[8]) not in _WHOLE):
                raise _General  # (equal is not enough for numbers: True == 1 == 1.0)
            extras = []  # last first; for a plain record only (see _plain)
            for key in reversed(attrs):
                kind = _KIND.get(key)
                if kind is None:
                    extras.append(key)
                elif kind is _LAST:
                    break
                elif kind is _INIT:
                    raise _General
            if len(attrs) - len(extras) != _INIT_COUNT:
                _plain(attrs)
            _unread(attrs)
            if not second <= created < second + 1.0:
                second, stamp = _second(created)
            if len(extras) == 1:
                value = attrs[extras[0]]
                more = keys[extras[0]] + value_text[type(value)](value)  # KeyError: another type
            else:
                more = _extras_text(attrs, extras, keys, value_text) if extras else ""
            out.append(f'{{"timestamp":"{stamp}{_MILLIS_OF[attrs["msecs"]]}","created":{created_text}{head}'
                       f'{encode_basestring(message)}{middle}{record_id}{more}{tail}')
        except Exception:  # outside the fast path's shape: the general path decides
            out.append(_general(schema, item))
    return out


def _stored_id(aux: Dict[str, str]) -> str:
    """The JSON of a stored ``record_id``, when that is all ``aux`` holds."""
    if len(aux) != 1:
        raise _General
    return encode_basestring(aux["record_id"])


def _plain(attrs: Dict[str, Any]) -> None:
    """Check that a record is plain, now that keys besides extras came after.

    Plain: a ``LogRecord`` where every attribute ``__init__`` sets is
    present (read to check) and none comes after the last one it sets.
    Those then fill the dict's first places, so the keys after that one are
    all the others: the extras, and what formatters add (``message``,
    ``asctime``). Walking from the end costs a few lookups where a set
    difference hashes every key.

    Raises:
        _General: it is not.
    """
    after = 0
    for key in reversed(attrs):
        if key == _LAST_INIT:
            break
        after += 1
    if len(attrs) - after != _INIT_COUNT:
        raise _General


def _extras_text(attrs: Dict[str, Any], extras: List[str], keys: "_KeyTexts",
                 value_text: Dict[type, Callable[[Any], str]]) -> str:
    """``,"key":value`` for each extra (given last first), in the record's order."""
    text = ""
    for key in reversed(extras):
        value = attrs[key]
        text += keys[key] + value_text[type(value)](value)  # KeyError: a value of another type
    return text


class _KeyTexts(Dict[str, str]):
    """``,"key":`` by extra's name, for one batch.

    Raises:
        _General: the name is renamed or shadowed by the general path's
            rules (a schema key or a static field), or is not a string.
    """

    def __init__(self, static: Any) -> None:
        super().__init__()
        self.static = static

    def __missing__(self, key: str) -> str:
        if type(key) is not str or key in _FIXED or key in self.static:
            raise _General
        text = self[key] = f",{encode_basestring(key)}:"
        return text


def _int_text(value: int) -> str:
    if not _INT_RANGE[0] <= value < _INT_RANGE[1]:
        raise _General  # orjson refuses it, so the general path uses json for the whole record
    return int.__repr__(value)


def _value_texts() -> Dict[type, Callable[[Any], str]]:
    """How the encoder in use prints an extra's value, by its exact type."""
    fast = _orjson()
    if fast is None:
        finite: Callable[[float], str] = float.__repr__
    else:
        dumps = fast.dumps
        finite = lambda value: dumps(value).decode("ascii")  # noqa: E731
    return {
        str: encode_basestring, int: _int_text, bool: lambda value: "true" if value else "false",
        type(None): lambda value: "null",
        float: lambda value: finite(value) if math.isfinite(value) else "null",
    }


def _site(site: Tuple[Any, ...]) -> Tuple[str, str]:
    """The two constant parts of a call site's lines, kept in :data:`_sites`.

    Raises:
        _General: a value is not a string, an integer or None.
    """
    if len(_sites) >= _SITES_MAX:
        _sites.clear()
    texts = []
    for value in site:
        if type(value) is str:
            texts.append(encode_basestring(value))
        elif type(value) is int and _INT_RANGE[0] <= value < _INT_RANGE[1]:
            texts.append(int.__repr__(value))
        elif value is None:
            texts.append("null")
        else:
            raise _General
    level, logger, module, function, line, path, process, process_name, thread, thread_name = texts
    parts = (f',"level":{level},"logger":{logger},"message":',
             f',"module":{module},"function":{function},"line":{line},"path":{path},"process":{process},'
             f'"process_name":{process_name},"thread":{thread},"thread_name":{thread_name},'
             f'"host":{encode_basestring(HOST)},"record_id":')
    _sites[site] = parts
    return parts


def _second(created: float) -> Tuple[float, str]:
    """The whole second of ``created`` and its ISO text (as ``iso_timestamp``)."""
    if not _EPOCH_RANGE[0] <= created < _EPOCH_RANGE[1]:
        raise _General
    second = float(int(created))
    return second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _created_texts(items: Sequence[Item]) -> List[str]:
    """Each record's ``created`` as JSON (used for floats only).

    One orjson call prints them all with Ryu, where ``repr`` costs ~7,000
    instructions each (CPython's dtoa); in the epoch range they print the
    same."""
    try:
        created = list(map(_created_of, map(_record_of, items)))
    except AttributeError:
        created = [getattr(item[1], "created", None) for item in items]
    fast = _orjson()
    if fast is not None:
        try:
            texts: List[str] = fast.dumps(created).decode("utf-8")[1:-1].split(",")
        except (TypeError, ValueError):
            texts = []
        if len(texts) == len(created):  # else a value printed with commas: not a float
            return texts
    return [float.__repr__(value) if type(value) is float else "" for value in created]


_created_of = attrgetter("created")
_record_of = itemgetter(1)


def _orjson() -> Any:
    """orjson as ``_schema`` uses it now: None when it is not installed (or a test turned it off)."""
    return _schema.__dict__["_orjson"]


def _static_tail(static: Any) -> Optional[str]:
    """``,"key":value`` for the static fields, or None: the batch takes the general path."""
    if not static:
        return ""
    try:
        fast = _orjson()
        if fast is not None:
            text: str = fast.dumps(static, default=_schema._default, option=_schema._ORJSON_NON_STR).decode("utf-8")
        else:
            text = _schema._encoder.encode(static)
    except (TypeError, ValueError, RecursionError):
        return None
    return "," + text[1:-1]
