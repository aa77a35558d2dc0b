"""Grafana Loki's push API, JSON form (``POST /loki/api/v1/push``).

``{"streams":[{"stream":{labels},"values":[["<ns>","<line>"],...]}]}``: the
line is the record's schema JSON; its labels are a few of its fields
(option ``labels``, default ``level`` and ``logger``) plus static labels
(option ``static_labels``, default ``{"service_name": ...}``). Records with
the same labels share a stream, whose values are sorted by time (stable).
Loki drops an entry whose timestamp and line equal one it has already
stored in that stream, so a resent record (same ``record_id`` in the
line) is stored once.

Docs: https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs
"""

from __future__ import annotations

import functools
import logging
import re
from operator import attrgetter, itemgetter
from typing import Any, Callable, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from .._lines import json_lines
from .._schema import Schema, dumps_bytes
from .._snapshot import RECORD, Item
from .._transport import Answer, Request
from ..transports._encode import created_ns, cut_utf8, fit_encoded
from ._base import Format, http_error
from ._decode import loads, time_fields
from .otlp import service_name

#: Loki's default ``max_line_size`` (256KB, read as 256,000 bytes): Loki
#: drops a longer line, so longer lines are cut to this.
MAX_LINE_BYTES = 256_000
#: Loki's default ``max_label_value_length``.
MAX_LABEL_VALUE_BYTES = 2048
#: The status Loki answers while ``block_ingestion_until`` holds: nothing is stored.
BLOCKED = 260
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_DEFAULT_LABELS = ("level", "logger")

LabelKey = Tuple[Tuple[str, str], ...]


def label_name(name: str) -> str:
    """``name`` made a valid Loki label name: ``[a-zA-Z_][a-zA-Z0-9_]*``."""
    valid = _INVALID_LABEL_CHARS.sub("_", name)
    return "_" + valid if not valid or valid[0].isdigit() else valid


class LokiFormat(Format):
    """Loki push JSON (``application/json``).

    A 2xx answer delivers the request, except Loki's 260 (ingestion
    blocked by ``block_ingestion_until``: nothing stored), which fails it.
    400 fails the whole request: Loki stores the entries it could validate
    and names only one bad entry, so which records were stored cannot be
    told, and resending would store the valid ones twice. 429, 408 and 5xx
    are retried (honouring ``Retry-After``); 413 sends the records again in
    halves; any other status is final.

    Args:
        schema: renders a record as the JSON schema; its static fields are
            read once, here.
        labels: record fields used as stream labels (default ``["level",
            "logger"]``); a field a record lacks is left out of its labels.
            Names are made valid label names (other characters become
            ``_``).
        static_labels: dict of labels on every stream; replaces the default
            ``{"service_name": <service>}``.
        service_name: the default static label's value (default
            ``static_fields["service"]``, else ``"unknown_service"``); not
            together with ``static_labels``.
    """

    name: ClassVar[str] = "loki"
    content_type: ClassVar[str] = "application/json"
    options: ClassVar[FrozenSet[str]] = frozenset({"labels", "static_labels", "service_name"})

    def __init__(self, schema: Schema, **options: Any) -> None:
        super().__init__(schema, **options)
        self.service = service_name(schema, options.get("service_name"))
        self.labels = _check_labels(options.get("labels"))
        static = options.get("static_labels")
        if static is not None and options.get("service_name") is not None:
            raise ValueError("service_name sets the default static label; with static_labels, put it there")
        self.static_labels = {"service_name": self.service} if static is None else _check_static_labels(static)
        clash = set(self.static_labels) & {name for _, name in self.labels}
        if clash:
            raise ValueError(f"label(s) {', '.join(sorted(clash))} in both labels and static_labels")
        if not self.labels and not self.static_labels:
            raise ValueError("Loki needs at least one label: give labels or static_labels")
        self._heads: Dict[Tuple[Any, ...], bytes] = {}

    # -- encode ---------------------------------------------------------------

    def stream_labels(self, values: Sequence[Any]) -> LabelKey:
        """A stream's labels: the static ones, then the label fields' ``values`` (a missing one left out)."""
        labels = list(self.static_labels.items())
        for (_, name), value in zip(self.labels, values):
            if value is None or value == "":
                continue
            text = value if type(value) is str else str(value)
            labels.append((name, text if len(text) <= MAX_LABEL_VALUE_BYTES // 4 else cut_utf8(text, MAX_LABEL_VALUE_BYTES)))
        return tuple(labels) or (("service_name", self.service),)

    def _head(self, values: Tuple[Any, ...]) -> bytes:
        """``{"stream":{labels},"values":[`` for the label fields' values."""
        head = self._heads.get(values)
        if head is None:
            if len(self._heads) > 1000:  # label values drawn from many loggers
                self._heads.clear()
            head = self._heads[values] = b'{"stream":' + dumps_bytes(dict(self.stream_labels(values))) + b',"values":['
        return head

    def encode(self, items: Sequence[Item], max_bytes: int, max_records: Optional[int]) -> List[Request]:
        room = max_bytes - len(b'{"streams":[]}')
        most = max_records or len(items) or 1
        fields, head_of = self.schema.fields, self._head
        label_fields = [field for field, _ in self.labels]
        from_record = _label_getter(label_fields)
        requests: List[Request] = []
        run_items: List[Item] = []
        streams: Dict[bytes, List[Tuple[float, bytes]]] = {}
        size = 0
        # the schema lines of the whole batch in one call (see _lines.py)
        for item, line in zip(items, json_lines(self.schema, items).split(b"\n")):
            values = from_record(item[RECORD]) if from_record is not None else tuple(map(fields(item).get, label_fields))
            stream = head_of(values)
            head = len(stream) + 3  # "]}," closes a stream
            created = item[RECORD].created
            nanos = created_ns(created)
            entry = _line_entry(nanos, line)
            cost = len(entry) + 1
            if cost > room - head or cost > MAX_LINE_BYTES:
                limit = min(room - head - 1, MAX_LINE_BYTES)
                entry = fit_encoded(item, self.schema, limit, functools.partial(_entry, nanos))
                cost = len(entry) + 1
            entries = streams.get(stream)
            if run_items and (size + cost + (0 if entries is not None else head) > room or len(run_items) >= most):
                requests.append(Request(run_items, self._body(streams)))
                run_items, streams, size, entries = [], {}, 0, None
            if entries is None:
                entries = streams[stream] = []
                size += head
            entries.append((created if created == created else 0.0, entry))  # NaN would unsort
            run_items.append(item)
            size += cost
        if run_items:
            requests.append(Request(run_items, self._body(streams)))
        return requests

    @staticmethod
    def _body(streams: Dict[bytes, List[Tuple[float, bytes]]]) -> bytes:
        parts = []
        for head, entries in streams.items():
            entries.sort(key=itemgetter(0))  # stable: records logged at the same time keep their order
            parts.append(head + b",".join(entry for _, entry in entries) + b"]}")
        return b'{"streams":[' + b",".join(parts) + b"]}"

    # -- answer ---------------------------------------------------------------

    def read_answer(self, status: int, headers: Mapping[str, str], body: bytes, count: int) -> Answer:
        if status == BLOCKED:
            return Answer.fail_all(count, f"HTTP {status}: Loki is blocking ingestion (block_ingestion_until)")
        if status == 400:
            return Answer.fail_all(count, http_error(status, body))
        return super().read_answer(status, headers, body, count)

    # -- decode ---------------------------------------------------------------

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        try:
            data = loads(body)
            records = [_decode_entry(value, stream.get("stream") or {})
                       for stream in data["streams"] for value in stream.get("values") or []]
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"not a Loki push request: {exc!r}") from None
        # Streams group records by labels; time order is the logged order again.
        records.sort(key=lambda record: record.get("created") or 0)
        return records

    @classmethod
    def receive(cls, body: bytes, path: str) -> Tuple[List[Dict[str, Any]], int, bytes]:
        """Decode a push request; answer as Loki does on success (204, no body)."""
        return cls.decode(body), 204, b""


def _entry(nanos: str, fields: Mapping[str, Any]) -> bytes:
    """``["<ns>","<schema JSON>"]``: the line as a JSON string inside the push body."""
    return _line_entry(nanos, dumps_bytes(fields))


def _line_entry(nanos: str, line: bytes) -> bytes:
    """The same from the schema JSON already encoded. It holds no raw control
    character (JSON escapes them), so making it a JSON string only escapes its
    backslashes and quotes."""
    line = line.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return b'["' + nanos.encode("ascii") + b'","' + line + b'"]'


def _label_getter(label_fields: Sequence[str]) -> Optional[Callable[[logging.LogRecord], Tuple[Any, ...]]]:
    """Reads the label fields from the record itself when they are ``level``
    and ``logger`` only (the default); None when the schema dict is needed."""
    names = {"level": "levelname", "logger": "name"}
    if not label_fields or any(field not in names for field in label_fields):
        return None
    getter = attrgetter(*(names[field] for field in label_fields))
    if len(label_fields) == 1:
        return lambda record: (getter(record),)
    return getter


def _decode_entry(value: List[Any], labels: Mapping[str, Any]) -> Dict[str, Any]:
    nanos, line = int(value[0]), value[1]
    try:
        record = loads(line)
    except ValueError:
        record = None
    if isinstance(record, dict):
        return record
    return {**time_fields(nanos / 1e9), "message": line, **labels}


def _check_labels(value: Any) -> Tuple[Tuple[str, str], ...]:
    if value is None:
        value = _DEFAULT_LABELS
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError(f"labels must be a list of field names, got {value!r}")
    for field in value:
        if not isinstance(field, str):
            raise TypeError(f"labels must hold field names (strings), got {field!r}")
        if not field:
            raise ValueError(f"labels must not hold an empty name, got {value!r}")
    pairs = tuple((field, label_name(field)) for field in value)
    names = [name for _, name in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"labels {value!r} give the same label name twice once made valid: {names}")
    return pairs


def _check_static_labels(value: Any) -> Dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"static_labels must be a dict of label name to string, got {value!r}")
    out: Dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise TypeError(f"static_labels must map strings to strings, got {key!r}: {text!r}")
        if not key or not text:
            raise ValueError(f"static_labels must not hold an empty name or value, got {key!r}: {text!r}")
        if label_name(key) in out:
            raise ValueError(f"static_labels give the label {label_name(key)!r} twice once made valid")
        out[label_name(key)] = text
    return out
