"""format="otlp": OTLP/HTTP JSON bodies, checked against the official protobuf
definitions and against what the OpenTelemetry SDK's own LoggingHandler makes."""

from __future__ import annotations

import base64
import json
import logging
import os
import warnings
from typing import Any, Dict, List

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from threaded_logging._schema import HOST
from threaded_logging.formats.otlp import OtlpFormat, severity_number
from threaded_logging.formats._otlp_values import any_value, plain_value

from ..format_records import CREATED, CREATED_NS, bad_items, make_item, make_items, make_record, schema

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def body_of(fmt: OtlpFormat, items: List[Any]) -> Dict[str, Any]:
    requests = fmt.encode(items, 1 << 20, None)
    assert len(requests) == 1
    return json.loads(requests[0].body)


def log_records(body: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [log for scope in body["resourceLogs"][0]["scopeLogs"] for log in scope["logRecords"]]


def attributes(log: Dict[str, Any]) -> Dict[str, Any]:
    return {kv["key"]: plain_value(kv["value"]) for kv in log["attributes"]}


def as_protobuf_json(body: bytes) -> bytes:
    """OTLP/JSON -> protobuf's JSON mapping: hex trace and span ids become base64 (OTLP spec deviation)."""
    data = json.loads(body)
    for log in log_records(data):
        for key in ("traceId", "spanId"):
            if key in log:
                log[key] = base64.b64encode(bytes.fromhex(log[key])).decode()
    return json.dumps(data).encode()


def parse(body: bytes) -> ExportLogsServiceRequest:
    return json_format.Parse(as_protobuf_json(body), ExportLogsServiceRequest())


class TestOtlpBody:
    def test_parses_with_the_official_protobuf_definitions(self) -> None:
        """A body of varied records parses as an ExportLogsServiceRequest with the values it was given."""
        items = [make_item(1, extra={"user": "bob", "n": 3, "ok": True, "ratio": 0.5, "tags": ["a", 1], "ctx": {"k": "v"}}),
                 make_item(2, exc=True, stack=True, level=logging.ERROR)]
        body = OtlpFormat(schema(service="shop")).encode(items, 1 << 20, None)[0].body
        message = parse(body)
        logs = message.resource_logs[0].scope_logs[0].log_records
        assert logs[0].time_unix_nano == int(CREATED_NS) and logs[0].observed_time_unix_nano == int(CREATED_NS)
        assert logs[0].body.string_value == "hello world" and logs[1].severity_number == 17
        by_key = {kv.key: kv.value for kv in logs[0].attributes}
        assert by_key["n"].int_value == 3 and by_key["ok"].bool_value is True and by_key["ratio"].double_value == 0.5
        assert [v.string_value or v.int_value for v in by_key["tags"].array_value.values] == ["a", 1]
        assert by_key["ctx"].kvlist_value.values[0].value.string_value == "v"
        resource = {kv.key: kv.value for kv in message.resource_logs[0].resource.attributes}
        assert resource["service.name"].string_value == "shop" and resource["host.name"].string_value == HOST
        assert resource["process.pid"].int_value == os.getpid()

    def test_trace_and_span_ids_are_hex_as_otlp_json_requires(self) -> None:
        """otelTraceID/otelSpanID become hex traceId/spanId: read as hex they are the 16 and 8 bytes, read as protobuf's base64 they would not be."""
        item = make_item(extra={"otelTraceID": TRACE_ID.upper(), "otelSpanID": SPAN_ID, "otelTraceSampled": True})
        body = OtlpFormat(schema()).encode([item], 1 << 20, None)[0].body
        log = log_records(json.loads(body))[0]
        assert (log["traceId"], log["spanId"], log["flags"]) == (TRACE_ID, SPAN_ID, 1)
        parsed = parse(body).resource_logs[0].scope_logs[0].log_records[0]
        assert parsed.trace_id == bytes.fromhex(TRACE_ID) and parsed.span_id == bytes.fromhex(SPAN_ID)
        as_base64 = json_format.Parse(body, ExportLogsServiceRequest()).resource_logs[0].scope_logs[0].log_records[0]
        assert len(as_base64.trace_id) == 24 and as_base64.trace_id != bytes.fromhex(TRACE_ID)

    def test_invalid_trace_ids_are_left_out(self) -> None:
        """The instrumentation's "0" (no span), wrong lengths and non-hex give no traceId."""
        for trace_id in ("0", "0" * 32, "xyz", TRACE_ID[:-1], 12):
            log = log_records(body_of(OtlpFormat(schema()), [make_item(extra={"otelTraceID": trace_id, "otelSpanID": "0"})]))[0]
            assert "traceId" not in log and "spanId" not in log

    def test_timestamps_are_exact_nanoseconds_from_created(self) -> None:
        """created with six decimals gives its exact nanoseconds, as decimal strings."""
        log = log_records(body_of(OtlpFormat(schema()), [make_item(created=CREATED)]))[0]
        assert log["timeUnixNano"] == log["observedTimeUnixNano"] == CREATED_NS
        assert str(int(CREATED * 1e9)) != CREATED_NS  # what float arithmetic would have sent

    def test_resource_names_the_service(self) -> None:
        """service.name comes from service_name, else static_fields["service"], else unknown_service; resource adds and replaces."""
        def resource(fmt: OtlpFormat) -> Dict[str, Any]:
            return attributes(body_of(fmt, [make_item()])["resourceLogs"][0]["resource"])

        assert resource(OtlpFormat(schema()))["service.name"] == "unknown_service"
        assert resource(OtlpFormat(schema(service="shop")))["service.name"] == "shop"
        custom = resource(OtlpFormat(schema(service="shop"), service_name="api", resource={"deployment.environment": "prod", "host.name": "web-1"}))
        assert custom == {"service.name": "api", "host.name": "web-1", "process.pid": os.getpid(), "deployment.environment": "prod"}

    def test_one_scope_per_logger_records_in_logged_order(self) -> None:
        """Each logger name is one scopeLogs; inside it the records keep their logged order."""
        items = [make_item(i + 1, name=name, msg=f"m{i}", args=()) for i, name in enumerate(["a", "b", "a", "c", "b"])]
        scopes = body_of(OtlpFormat(schema()), items)["resourceLogs"][0]["scopeLogs"]
        assert [(s["scope"]["name"], [log["body"]["stringValue"] for log in s["logRecords"]]) for s in scopes] == [
            ("a", ["m0", "m2"]), ("b", ["m1", "m4"]), ("c", ["m3"])]

    def test_record_attributes(self) -> None:
        """A record carries the code, thread, uid, exception and stack attributes, then its extras and static fields."""
        item = make_item(7, exc=True, stack=True, extra={"user": "bob"})
        log = log_records(body_of(OtlpFormat(schema(env="prod")), [item]))[0]
        attrs = attributes(log)
        assert list(attrs) == ["code.file.path", "code.function.name", "code.line.number", "thread.id", "thread.name",
                               "log.record.uid", "exception.type", "exception.message", "exception.stacktrace",
                               "code.stacktrace", "user", "env"]
        record = item[1]
        assert attrs["code.file.path"] == "/srv/app/views.py" and attrs["code.line.number"] == 42
        assert (attrs["thread.id"], attrs["thread.name"]) == (record.thread, record.threadName)
        assert attrs["log.record.uid"] == "0123456789abcdef-7"
        assert attrs["exception.type"] == "ValueError" and attrs["exception.stacktrace"].endswith("ValueError: ('bad value', 42)")
        assert attrs["code.stacktrace"].startswith("Stack (most recent call last)")

    @pytest.mark.parametrize("level, number, text", [
        (logging.DEBUG, 5, "DEBUG"), (logging.INFO, 9, "INFO"), (logging.WARNING, 13, "WARN"),
        (logging.ERROR, 17, "ERROR"), (logging.CRITICAL, 21, "FATAL"), (25, 12, "Level 25"), (5, 0, "Level 5"),
    ])
    def test_severity(self, level: int, number: int, text: str) -> None:
        """severityNumber and severityText are what OpenTelemetry Python writes for each level."""
        log = log_records(body_of(OtlpFormat(schema()), [make_item(level=level)]))[0]
        assert (log["severityNumber"], log["severityText"]) == (number, text)

    def test_severity_numbers_equal_std_to_otel(self) -> None:
        """Every level 0-60 maps as the installed SDK's std_to_otel maps it."""
        from opentelemetry.sdk._logs._internal import std_to_otel

        assert [severity_number(n) for n in range(61)] == [std_to_otel(n).value for n in range(61)]

    def test_fast_path_writes_what_the_schema_path_writes(self) -> None:
        """Records read directly give the same bytes as through Schema.fields, renamed extras and static fields included."""
        fmt = OtlpFormat(schema(env="prod", team="core"))
        items = [make_item(extra={"user": "bob", "n": 1}), make_item(exc=True, stack=True),
                 make_item(extra={"path": "/api", "host": "h", "extra_path": 1, "team": "other"}),
                 make_item(extra={"record_id": "0123456789abcdef-1"}), make_item(extra={"record_id": "other"}),
                 make_item(extra={"otelTraceID": TRACE_ID, "otelSpanID": SPAN_ID}), make_item(msg="%d", args=("x",)),
                 make_item(extra={"flag": True, "ratio": 0.5, "big": 2**70, "text": type("Text", (str,), {})("x"),
                                  "none": None, "nested": {"a": [1, "b"]}, "odd\"key": "v\n"})]
        for item in items:
            fast = fmt.fast_record_json(item)
            assert fast is None or fast == fmt.record_json(item, fmt.schema.fields(item)), item[1].__dict__
        assert fmt.fast_record_json(items[0]) is not None and fmt.fast_record_json(items[2]) is not None

    def test_extras_named_anew_in_every_record(self) -> None:
        """Extras whose names change from record to record (more than the
        encoder keeps at hand) all arrive, named and valued as logged."""
        items = [make_item(extra={f"field_{i}": i, "user": f"u{i}"}) for i in range(1500)]
        body = OtlpFormat(schema()).encode(items, 16 << 20, None)[0].body
        parse(body)
        logs = log_records(json.loads(body))
        assert [(attributes(log)[f"field_{i}"], attributes(log)["user"]) for i, log in enumerate(logs)] == \
            [(i, f"u{i}") for i in range(1500)]

    def test_a_record_spooled_by_another_process_names_its_pid(self) -> None:
        """A record whose process is not this one carries process.pid; the decoder reads it back."""
        item = make_item()
        item[1].process = 1
        body = OtlpFormat(schema()).encode([item], 1 << 20, None)[0].body
        assert attributes(log_records(json.loads(body))[0])["process.pid"] == 1
        assert OtlpFormat.decode(body)[0]["process"] == 1


class TestOtlpMatchesTheSdk:
    def test_same_severity_body_and_attribute_names_as_the_sdk_handler(self) -> None:
        """For the same record, the SDK's LoggingHandler and this format agree on severity, body and attributes.

        Compared with the installed opentelemetry-sdk (1.45: code.file.path,
        code.function.name, code.line.number, exception.*); SDKs before 1.3x
        wrote code.filepath, code.function and code.lineno. The SDK adds no
        thread.*, log.record.uid or code.stacktrace: those are this format's.
        """
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

        exporter = InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the SDK points to the instrumentation package
            sdk_handler = LoggingHandler(logger_provider=provider)
        records = [make_record(level=level, extra={"user": "bob", "n": 3}) for level in (10, 20, 30, 40, 50, 25)]
        try:
            # One argument and a plain __str__: the SDK writes str(args[0]) as
            # exception.message, this format str(exc); they differ for a
            # KeyError or an exception with several arguments.
            raise RuntimeError("missing")
        except RuntimeError:
            import sys

            records.append(make_record(level=logging.ERROR, extra=None))
            records[-1].exc_info = sys.exc_info()
        for record in records:
            sdk_handler.emit(record)
        sdk_logs = exporter.get_finished_logs()
        ours = log_records(json.loads(OtlpFormat(schema()).encode([make_item(i + 1, record=r) for i, r in enumerate(records)], 1 << 20, None)[0].body))
        for sdk, mine in zip(sdk_logs, ours):
            assert mine["severityNumber"] == sdk.log_record.severity_number.value
            assert mine["severityText"] == sdk.log_record.severity_text
            assert mine["body"]["stringValue"] == sdk.log_record.body
            sdk_attrs, my_attrs = dict(sdk.log_record.attributes), attributes(mine)
            assert set(sdk_attrs) <= set(my_attrs)
            assert set(my_attrs) - set(sdk_attrs) <= {"thread.id", "thread.name", "log.record.uid"}
            for key, value in sdk_attrs.items():
                expected = value.rstrip("\n") if key == "exception.stacktrace" else value
                assert my_attrs[key] == expected, key
            assert abs(int(mine["timeUnixNano"]) - sdk.log_record.timestamp) < 1000  # the SDK rounds through a float
        assert len(sdk_logs) == len(ours) == 7


class TestAnyValue:
    def test_values_map_to_matching_kinds(self) -> None:
        """str, bool, int, float, dict, list, tuple and None map to their OTLP kinds; anything else to its repr."""
        assert any_value("s") == {"stringValue": "s"} and any_value(True) == {"boolValue": True}
        assert any_value(3) == {"intValue": "3"} and any_value(0.5) == {"doubleValue": 0.5}
        assert any_value({"k": (1,)}) == {"kvlistValue": {"values": [{"key": "k", "value": {"arrayValue": {"values": [{"intValue": "1"}]}}}]}}
        assert any_value(None) == {} and any_value(b"x") == {"stringValue": "b'x'"}

    def test_values_a_receiver_cannot_take_become_strings(self) -> None:
        """Ints beyond 64 bits, NaN, infinities, cycles and deep nesting become stringValue."""
        assert any_value(2**63) == {"stringValue": str(2**63)} and any_value(-(2**63)) == {"intValue": str(-(2**63))}
        assert any_value(float("nan")) == {"stringValue": "nan"} and any_value(float("-inf")) == {"stringValue": "-inf"}
        cyclic: Dict[str, Any] = {}
        cyclic["me"] = cyclic
        assert any_value(cyclic)["kvlistValue"]["values"][0]["value"] == {"stringValue": "{'me': {...}}"}
        deep: Any = "x"
        for _ in range(30):
            deep = [deep]
        depth = 0
        value = any_value(deep)
        while "arrayValue" in value:
            value, depth = value["arrayValue"]["values"][0], depth + 1
        assert depth == 16 and "stringValue" in value


class TestOtlpAnswer:
    fmt = OtlpFormat(schema())

    @pytest.mark.parametrize("status, body", [
        (200, b'{"partialSuccess":{}}'), (200, b"{}"), (200, b""), (201, b""), (202, b"\x0a\x00"),
        (200, b'{"partialSuccess":{"rejectedLogRecords":"0","errorMessage":"deprecated attribute"}}'),
    ])
    def test_success(self, status: int, body: bytes) -> None:
        """Any 2xx delivers, an empty or protobuf body too (Fluent Bit answers 201), and a warning-only partial success."""
        assert list(self.fmt.read_answer(status, {}, body, 5).delivered) == [0, 1, 2, 3, 4]

    @pytest.mark.parametrize("rejected", [2, "2"])
    def test_partial_success_fails_the_last_records(self, rejected: Any) -> None:
        """rejectedLogRecords (number or string) fails that many records, the last ones, with errorMessage; none is retried."""
        body = json.dumps({"partialSuccess": {"rejectedLogRecords": rejected, "errorMessage": "timestamp too old"}}).encode()
        answer = self.fmt.read_answer(200, {"Content-Type": "application/json"}, body, 5)
        assert list(answer.delivered) == [0, 1, 2] and not answer.retry
        assert answer.failed == {3: "rejected by the receiver: timestamp too old", 4: "rejected by the receiver: timestamp too old"}

    def test_more_rejected_than_sent_fails_all(self) -> None:
        """A count above the request's records fails every record."""
        answer = self.fmt.read_answer(200, {}, b'{"partialSuccess":{"rejectedLogRecords":9}}', 3)
        assert sorted(answer.failed) == [0, 1, 2] and not answer.delivered

    @pytest.mark.parametrize("status", [429, 502, 503, 504])
    def test_retryable_statuses(self, status: int) -> None:
        """429, 502, 503 and 504 are retried, honouring Retry-After."""
        answer = self.fmt.read_answer(status, {"Retry-After": "7"}, b'{"code":14,"message":"unavailable"}', 3)
        assert list(answer.retry) == [0, 1, 2] and answer.retry_after_s == 7.0 and not answer.failed

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 500, 501])
    def test_other_statuses_are_final(self, status: int) -> None:
        """400, 500 and every status the OTLP spec does not list are final, with the Status message as reason."""
        answer = self.fmt.read_answer(status, {}, b'{"code":3,"message":"bad timestamp"}', 2)
        assert answer.failed == {0: f"HTTP {status}: bad timestamp", 1: f"HTTP {status}: bad timestamp"}

    def test_413_sends_halves(self) -> None:
        """413 asks for the records again in smaller requests (a different request, not a resend)."""
        answer = self.fmt.read_answer(413, {}, b"", 4)
        assert answer.split and list(answer.retry) == [0, 1, 2, 3]


class TestOtlpDecode:
    def test_round_trip(self) -> None:
        """decode(encode(records)) gives back the schema's fields, extras and trace ids."""
        items = make_items(3, extra={"user": "bob", "tags": [1, "x"]}) + [make_item(9, exc=True, created=CREATED + 1, extra={"otelTraceID": TRACE_ID})]
        fmt = OtlpFormat(schema(env="prod"))
        decoded = OtlpFormat.decode(fmt.encode(items, 1 << 20, None)[0].body)
        for item, record in zip(items, decoded):
            fields = fmt.schema.fields(item)
            for key in ("timestamp", "created", "level", "logger", "message", "module", "function", "line", "path",
                        "process", "thread", "thread_name", "host", "record_id", "user", "env"):
                assert record.get(key) == fields.get(key), key
        assert decoded[3]["exception"] == fmt.schema.fields(items[3])["exception"] and decoded[3]["otelTraceID"] == TRACE_ID

    def test_not_otlp_is_refused(self) -> None:
        """A body that is not an ExportLogsServiceRequest raises ValueError."""
        for body in (b"[1]", b"not json", b'{"resourceLogs": 5}'):
            with pytest.raises(ValueError):
                OtlpFormat.decode(body)


class TestOtlpOptions:
    def test_bad_options_are_refused(self) -> None:
        """Wrong types raise TypeError, empty names ValueError, and foreign options TypeError, each naming the option."""
        with pytest.raises(TypeError, match="service_name"):
            OtlpFormat(schema(), service_name=5)
        with pytest.raises(ValueError, match="service_name"):
            OtlpFormat(schema(), service_name=" ")
        with pytest.raises(TypeError, match="resource"):
            OtlpFormat(schema(), resource=["a"])
        with pytest.raises(TypeError, match="resource"):
            OtlpFormat(schema(), resource={1: "a"})
        with pytest.raises(TypeError, match="index"):
            OtlpFormat(schema(), index="logs")

    def test_bad_records_still_parse(self) -> None:
        """Every bad input gives a body the protobuf definitions accept."""
        for name, item in bad_items().items():
            requests = OtlpFormat(schema()).encode([item], 1 << 20, None)
            assert len(requests) == 1 and len(requests[0].body) <= 1 << 20, name
            parse(requests[0].body)
