"""OTLP/HTTP JSON logs: an ``ExportLogsServiceRequest`` per request.

What an OpenTelemetry Collector, Grafana Alloy, Fluent Bit's
``opentelemetry`` input or Loki's ``/otlp/v1/logs`` ingest. A record maps
as OpenTelemetry Python's logging bridge (``LoggingHandler._translate``)
maps it, so a collector sees the same fields as from the OpenTelemetry SDK:

- the resource: ``service.name``, ``host.name``, ``process.pid`` and the
  ``resource`` option; one ``scopeLogs`` per logger name (``scope.name``),
  its records in logged order;
- ``timeUnixNano`` and ``observedTimeUnixNano`` from ``created``, exact
  to the microsecond (no float rounding); ``severityNumber`` as ``std_to_otel``
  maps the level and ``severityText`` as the SDK writes it (``WARN``,
  ``FATAL``, else the level name); ``body.stringValue`` the message;
- attributes ``code.file.path``, ``code.function.name``,
  ``code.line.number``, ``exception.type``/``.message``/``.stacktrace``
  (the SDK's names), plus ``thread.id``, ``thread.name``,
  ``log.record.uid`` (the ``record_id``) and ``code.stacktrace`` (the
  stack, when asked for), then every extra and static field;
- ``otelTraceID``/``otelSpanID``, set by OpenTelemetry's logging
  instrumentation, become ``traceId``/``spanId`` (hex, as OTLP/JSON
  requires; protobuf's own JSON mapping would use base64).

Spec: https://opentelemetry.io/docs/specs/otlp/#otlphttp
"""

from __future__ import annotations

import functools
import os
from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from .._schema import _RECORD_ATTRS, EXTRA_PREFIX, HOST, SCHEMA_KEYS, Schema, dumps_bytes, to_utf8
from .._snapshot import AUX, PRIVATE_AUX, RECORD, Item
from .._transport import Answer, Request
from ..transports._encode import created_ns, fit_encoded
from ._base import Format, http_error
from ._decode import loads, time_fields
from ._otlp_values import any_value, attribute, hex_id, plain_value, quote, value_json

#: Statuses the OTLP spec says to retry; every other 4xx and 5xx is final.
RETRYABLE = frozenset({429, 502, 503, 504})

_SEVERITY_TEXT = {"WARNING": "WARN", "CRITICAL": "FATAL"}
_LEVEL_NAME = {"WARN": "WARNING", "FATAL": "CRITICAL"}

#: Schema key -> attribute name, in the order attributes are written.
_NAMED: Tuple[Tuple[str, str], ...] = (
    ("path", "code.file.path"),
    ("function", "code.function.name"),
    ("line", "code.line.number"),
    ("thread", "thread.id"),
    ("thread_name", "thread.name"),
    ("record_id", "log.record.uid"),
)
#: Schema keys carried elsewhere than in a same-named attribute.
_NOT_EXTRAS = frozenset(
    {"timestamp", "created", "level", "logger", "message", "module", "process", "process_name",
     "host", "exception", "stack"} | {key for key, _ in _NAMED}
)
#: Schema keys every threaded handler's record has: an extra so named is
#: renamed ``extra_<name>``.
_ALWAYS = frozenset(SCHEMA_KEYS) - {"exception", "stack"}
#: Keys a record may have or not: an extra so named takes the path through
#: :meth:`Schema.fields` (whether the schema renames it depends on the record).
_SOMETIMES = frozenset({"exception", "stack", "format_error", "args"})
#: Attribute name -> schema key, for decoding (older SDKs' names included).
_SCHEMA_KEY = {name: key for key, name in _NAMED}
_SCHEMA_KEY.update({
    "code.filepath": "path", "code.function": "function", "code.lineno": "line",
    "exception.stacktrace": "exception", "code.stacktrace": "stack", "process.pid": "process",
})
_DROPPED_ON_DECODE = frozenset({"exception.type", "exception.message"})


def severity_number(levelno: int) -> int:
    """OpenTelemetry's SeverityNumber for a stdlib level, as ``std_to_otel`` maps it."""
    if levelno < 10:
        return 0
    if levelno >= 50:
        return min(21 + levelno - 50, 24)
    return 5 + 4 * (levelno // 10 - 1) + min(levelno % 10, 3)


class OtlpFormat(Format):
    """OTLP/HTTP JSON (``application/json``), one ``ExportLogsServiceRequest`` per request.

    A 2xx answer delivers the request (Fluent Bit answers 201 with an empty
    body). ``partialSuccess.rejectedLogRecords`` (a number or a decimal
    string) counts that many records as failed, with ``errorMessage`` as the
    reason, and none is retried (the spec forbids it). OTLP does not say
    which records were rejected: the *last* n of the request are counted as
    failed and the others delivered, so the counts are right even though
    the individual records may not be. Retried: 429, 502, 503 and 504 only
    (honouring ``Retry-After``); 400 and every other status are final. 413
    sends the records again in halves: the spec forbids resending the same
    request, and a smaller one is not the same (a single record still too
    large is failed).

    Args:
        schema: renders a record as the JSON schema; its static fields are
            read once, here.
        service_name: the resource's ``service.name`` (default
            ``static_fields["service"]``, else ``"unknown_service"``).
        resource: dict of further resource attributes; a key named like a
            derived attribute (``host.name``...) replaces it.
    """

    name: ClassVar[str] = "otlp"
    content_type: ClassVar[str] = "application/json"
    options: ClassVar[FrozenSet[str]] = frozenset({"service_name", "resource"})

    def __init__(self, schema: Schema, **options: Any) -> None:
        super().__init__(schema, **options)
        self.service_name = service_name(schema, options.get("service_name"))
        resource = options.get("resource")
        if resource is not None and not isinstance(resource, Mapping):
            raise TypeError(f"resource must be a dict of attributes, got {resource!r}")
        for key in resource or {}:
            if not isinstance(key, str) or not key:
                raise TypeError(f"resource keys must be non-empty strings, got {key!r}")
        self.resource: Dict[str, Any] = dict(resource or {})
        self._prefix: Tuple[int, bytes] = (-1, b"")
        self._scopes: Dict[str, bytes] = {}
        self._severities: Dict[Tuple[int, str], str] = {}
        self._sites: Dict[Tuple[Any, ...], str] = {}  # (path, function, line, thread, thread name) -> attributes
        static = dict(schema.static_fields)
        self._static = [(key, attribute(key, value)) for key, value in static.items()]
        self._static_text = "".join("," + text for _, text in self._static)
        self._key_heads: Dict[str, str] = {}  # extra's name -> '{"key":<name>,"value":'
        self._fast = (_ALWAYS | _SOMETIMES).isdisjoint(static)  # else the schema drops some static fields
        self._body_prefix()

    def is_retryable(self, status: int) -> bool:
        return status in RETRYABLE

    # -- encode ---------------------------------------------------------------

    def _body_prefix(self) -> bytes:
        """Everything before the first scope (the resource); its pid changes after fork."""
        pid = os.getpid()
        if self._prefix[0] != pid:
            attributes = {"service.name": self.service_name, "host.name": HOST, "process.pid": pid}
            attributes.update(self.resource)
            resource = [{"key": k, "value": any_value(v)} for k, v in attributes.items()]
            head = dumps_bytes({"resource": {"attributes": resource}})
            self._prefix = (pid, b'{"resourceLogs":[' + head[:-1] + b',"scopeLogs":[')
        return self._prefix[1]

    def _scope_head(self, logger: str) -> bytes:
        head = self._scopes.get(logger)
        if head is None:
            if len(self._scopes) > 1000:  # loggers named per request or per object
                self._scopes.clear()
            head = self._scopes[logger] = b'{"scope":' + dumps_bytes({"name": logger}) + b',"logRecords":['
        return head

    def _head(self, item: Item, created: float) -> str:
        """The record's JSON up to its body's string: times and severity."""
        record = item[RECORD]
        severity = self._severities.get((record.levelno, record.levelname))
        if severity is None:
            text = _SEVERITY_TEXT.get(record.levelname, record.levelname)
            severity = f',"severityNumber":{severity_number(record.levelno)},"severityText":{quote(text)},'
            self._severities[(record.levelno, record.levelname)] = severity
        nanos = created_ns(created)
        return '{"timeUnixNano":"' + nanos + '","observedTimeUnixNano":"' + nanos + '"' + severity

    @staticmethod
    def _tail(values: Mapping[str, Any]) -> str:
        """The record's JSON after its attributes: trace context, when valid."""
        trace_id = hex_id(values.get("otelTraceID"), 32)
        if not trace_id:
            return "}"
        span_id = hex_id(values.get("otelSpanID"), 16)
        flags = ',"flags":1' if values.get("otelTraceSampled") is True else ""
        return ',"traceId":"' + trace_id + '"' + (',"spanId":"' + span_id + '"' if span_id else "") + flags + "}"

    def _exception(self, item: Item, stacktrace: Any) -> List[str]:
        aux = item[AUX] or {}
        if "exc_type" not in aux:
            return [attribute("exception.stacktrace", stacktrace)]
        return [attribute("exception.type", aux["exc_type"]), attribute("exception.message", aux.get("exc_message", "")),
                attribute("exception.stacktrace", stacktrace)]

    def _json(self, head: str, message: str, attributes: List[str], tail: str) -> bytes:
        return to_utf8(head + '"body":{"stringValue":' + quote(message) + '},"attributes":[' + ",".join(attributes) + "]" + tail)

    def record_json(self, item: Item, fields: Mapping[str, Any]) -> bytes:
        """One record's OTLP ``LogRecord`` (JSON), from its schema dict (every record can take this path)."""
        attributes = [attribute(name, fields[key]) for key, name in _NAMED if key in fields]
        if fields.get("process", self._prefix[0]) != self._prefix[0]:  # spooled by another process
            attributes.append(attribute("process.pid", fields["process"]))
        if "exception" in fields:
            attributes.extend(self._exception(item, fields["exception"]))
        if "stack" in fields:
            attributes.append(attribute("code.stacktrace", fields["stack"]))
        attributes.extend(attribute(key, value) for key, value in fields.items() if key not in _NOT_EXTRAS)
        head = self._head(item, fields.get("created", item[RECORD].created))
        return self._json(head, str(fields.get("message", "")), attributes, self._tail(fields))

    def fast_record_json(self, item: Item) -> Optional[bytes]:
        """:meth:`record_json` read from the record itself (no schema dict is
        built), or None for a record that needs the schema's renaming rules.

        The record's text is collected as pieces and joined once; each
        attribute after the first brings its own leading comma."""
        seq, record, message, aux = item
        attrs = record.__dict__
        extras = attrs.keys() - _RECORD_ATTRS
        if not self._fast or not _SOMETIMES.isdisjoint(extras):
            return None
        site = (record.pathname, record.funcName, record.lineno, record.thread, record.threadName)
        named = self._sites.get(site)
        if named is None:
            if len(self._sites) > 4096:
                self._sites.clear()
            named = self._sites[site] = ",".join(attribute(name, value) for (_, name), value in zip(_NAMED, site))
        record_id = aux["record_id"] if aux is not None and "record_id" in aux else self.schema.id_prefix + str(seq)
        text = [self._head(item, record.created), '"body":{"stringValue":', quote(message), '},"attributes":[', named,
                ',{"key":"log.record.uid","value":{"stringValue":', quote(record_id), "}}"]
        if record.process != self._prefix[0]:
            text += (",", attribute("process.pid", record.process))
        if aux is not None or record.stack_info:
            more: List[str] = []
            if aux is not None and "exception" in aux:
                more.extend(self._exception(item, aux["exception"]))
            if record.stack_info:
                more.append(attribute("code.stacktrace", record.stack_info))
            if aux is not None:
                more.extend(attribute(k, v) for k, v in aux.items() if k not in _NOT_EXTRAS and k not in PRIVATE_AUX)
            text.extend("," + attribute_text for attribute_text in more)
        if not extras:
            text.append(self._static_text)
            text.append("]}")
        else:
            self._extras(text, attrs, extras, record_id)
            text.append("]" + self._tail(attrs) if "otelTraceID" in extras else "]}")
        return to_utf8("".join(text))

    def _extras(self, text: List[str], attrs: Mapping[str, Any], extras: Any, record_id: str) -> None:
        """The extras and static fields, named as :func:`record_dict` names
        them, each as ``,`` and its attribute."""
        keys = extras if len(extras) == 1 else [k for k in attrs if k in extras]
        if _ALWAYS.isdisjoint(extras):
            heads = self._key_heads
            for key in keys:
                head = heads.get(key)
                if head is None:
                    if len(heads) > 1024:
                        heads.clear()
                    head = heads[key] = ',{"key":' + quote(key) + ',"value":'
                value = attrs[key]
                text.append(head + ('{"stringValue":' + quote(value) + "}}" if type(value) is str else value_json(value) + "}"))
            taken: Any = extras
        else:
            taken = set(_ALWAYS)
            for key in keys:
                value = attrs[key]
                if key == "record_id" and value == record_id:
                    continue
                while key in taken:
                    key = EXTRA_PREFIX + key
                taken.add(key)
                text.append("," + attribute(key, value))
        text.extend("," + attribute_text for key, attribute_text in self._static if key not in taken)

    def encode(self, items: Sequence[Item], max_bytes: int, max_records: Optional[int]) -> List[Request]:
        prefix = self._body_prefix()
        base = len(prefix) + len(b"]}]}")
        most = max_records or len(items) or 1
        requests: List[Request] = []
        run_items: List[Item] = []
        scopes: Dict[str, List[bytes]] = {}
        size = base
        fast, scope_head = self.fast_record_json, self._scope_head
        for item in items:
            logger = item[RECORD].name
            head = len(scope_head(logger)) + 3  # "]}," closes a scope
            data = fast(item) or self.record_json(item, self.schema.fields(item))
            length = len(data) + 1
            if length > max_bytes - base - head:
                encode = functools.partial(self.record_json, item)
                data = fit_encoded(item, self.schema, max_bytes - base - head - 1, encode)
                length = len(data) + 1
            records = scopes.get(logger)
            if run_items and (size + length + (0 if records is not None else head) > max_bytes or len(run_items) >= most):
                requests.append(Request(run_items, self._body(prefix, scopes)))
                run_items, scopes, size, records = [], {}, base, None
            if records is None:
                records = scopes[logger] = []
                size += head
            records.append(data)
            run_items.append(item)
            size += length
        if run_items:
            requests.append(Request(run_items, self._body(prefix, scopes)))
        return requests

    def _body(self, prefix: bytes, scopes: Dict[str, List[bytes]]) -> bytes:
        parts = [self._scope_head(logger) + b",".join(records) + b"]}" for logger, records in scopes.items()]
        return prefix + b",".join(parts) + b"]}]}"

    # -- answer ---------------------------------------------------------------

    def read_answer(self, status: int, headers: Mapping[str, str], body: bytes, count: int) -> Answer:
        if not 200 <= status < 300:
            if status in self.split_statuses or self.is_retryable(status):
                return super().read_answer(status, headers, body, count)
            return Answer.fail_all(count, _status_error(status, body))
        rejected, message = partial_success(body)
        if rejected <= 0:
            return Answer.ok(count)
        failed = min(rejected, count)
        reason = f"rejected by the receiver: {message}" if message else f"{rejected} record(s) rejected by the receiver"
        first = count - failed
        return Answer(delivered=range(first), failed=dict.fromkeys(range(first, count), reason), error=reason)

    # -- decode ---------------------------------------------------------------

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        try:
            data = loads(body)
            scopes = [records for resource_logs in data.get("resourceLogs") or []
                      for records in _decode_resource(resource_logs)]
        except (AttributeError, TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"not an OTLP/JSON ExportLogsServiceRequest: {exc}") from None
        if len(scopes) == 1:
            return scopes[0]
        # Records are grouped by logger; time order is the logged order again.
        merged = [record for records in scopes for record in records]
        merged.sort(key=lambda record: record.get("created") or 0)
        return merged

    @classmethod
    def receive(cls, body: bytes, path: str) -> Tuple[List[Dict[str, Any]], int, bytes]:
        """Decode a request as an OTLP receiver; answer as one does on success."""
        return cls.decode(body), 200, b'{"partialSuccess":{}}'


def service_name(schema: Schema, value: Any) -> str:
    """The ``service_name`` option checked, else ``static_fields["service"]``, else ``unknown_service``."""
    if value is None:
        static = schema.static_fields.get("service")
        return static if isinstance(static, str) and static else "unknown_service"
    if not isinstance(value, str):
        raise TypeError(f"service_name must be a string, got {value!r}")
    if not value.strip():
        raise ValueError(f"service_name must not be empty, got {value!r}")
    return value


def partial_success(body: bytes) -> Tuple[int, str]:
    """``(rejectedLogRecords, errorMessage)`` of an ``ExportLogsServiceResponse`` (0 when absent)."""
    if b"partialSuccess" not in body and b"partial_success" not in body:
        return 0, ""
    try:
        data = loads(body)
        partial = data.get("partialSuccess", data.get("partial_success")) or {}
        rejected = partial.get("rejectedLogRecords", partial.get("rejected_log_records", 0))
        message = partial.get("errorMessage", partial.get("error_message", ""))
        return max(0, int(rejected or 0)), str(message or "")
    except (AttributeError, TypeError, ValueError, RecursionError):
        return 0, ""


def _status_error(status: int, body: bytes) -> str:
    """The ``message`` of a ``google.rpc.Status`` answer, else the body's start."""
    try:
        message = loads(body).get("message")
    except (AttributeError, TypeError, ValueError, RecursionError):
        message = None
    return f"HTTP {status}: {message}" if isinstance(message, str) and message else http_error(status, body)


def _decode_resource(resource_logs: Mapping[str, Any]) -> List[List[Dict[str, Any]]]:
    """The records of each ``scopeLogs``, in order."""
    resource = {kv["key"]: plain_value(kv.get("value")) for kv in (resource_logs.get("resource") or {}).get("attributes") or []}
    scopes: List[List[Dict[str, Any]]] = []
    for scope_logs in resource_logs.get("scopeLogs") or []:
        logger = (scope_logs.get("scope") or {}).get("name", "")
        scopes.append([_decode_record(log, logger, resource) for log in scope_logs.get("logRecords") or []])
    return scopes


@functools.lru_cache(maxsize=1024)
def _module_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _decode_record(log: Mapping[str, Any], logger: str, resource: Mapping[str, Any]) -> Dict[str, Any]:
    get = log.get
    nanos = int(get("timeUnixNano") or 0) or int(get("observedTimeUnixNano") or 0)
    text = get("severityText") or ""
    out: Dict[str, Any] = time_fields(nanos / 1e9)
    out["level"] = _LEVEL_NAME.get(text, text)
    out["logger"] = logger
    body = get("body")
    out["message"] = body["stringValue"] if type(body) is dict and "stringValue" in body else plain_value(body)
    extras: Dict[str, Any] = {}
    schema_key = _SCHEMA_KEY.get
    for kv in get("attributes") or ():
        value = kv.get("value")
        # the two common kinds read in place: plain_value's call is most of the time here
        if type(value) is dict and "stringValue" in value:
            value = value["stringValue"]
        elif type(value) is dict and len(value) == 1 and "intValue" in value:
            value = int(value["intValue"])
        else:
            value = plain_value(value)
        name = kv.get("key", "")
        key = schema_key(name)
        if key is not None:
            out[key] = value
        elif name not in _DROPPED_ON_DECODE:
            extras[name] = value
    path = out.get("path")
    if type(path) is str:
        out["module"] = _module_name(path)
    if "process" not in out:
        out["process"] = resource.get("process.pid")
    out["host"] = resource.get("host.name")
    if get("traceId"):
        extras["otelTraceID"] = log["traceId"]
    if get("spanId"):
        extras["otelSpanID"] = log["spanId"]
    ordered = {key: out[key] for key in SCHEMA_KEYS if key in out}
    ordered.update(extras)
    return ordered
