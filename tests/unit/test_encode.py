"""Shared encoding: truncation, size-bounded splitting, the stdlib form, the JSON bodies."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from threaded_logging._schema import Schema
from threaded_logging.formats.jsonlines import JsonArrayFormat, NdjsonFormat
from threaded_logging.transports._encode import MARKER, TRUNCATED_FIELD, cut_utf8, encode_form, fit_json, pack


def item(seq: int, message: str = "m", **extra: object) -> tuple:
    record = logging.makeLogRecord({"name": "enc", "levelno": 20, "levelname": "INFO", "msg": message, **extra})
    return (seq, record, message, None)


class TestTruncation:
    def test_cut_keeps_valid_utf8_and_ends_with_the_marker(self) -> None:
        """A cut never splits a character and always ends with the marker."""
        cut = cut_utf8("é" * 100, 51)
        assert cut.endswith(MARKER) and len(cut.encode()) <= 51
        assert cut_utf8("short", 100) == "short"

    def test_fit_json_shrinks_the_message_and_says_so(self) -> None:
        """A record too large for the limit keeps its fields, a cut message and its original length."""
        schema = Schema()
        big = item(1, "x" * 10_000, user="u")
        data = json.dumps(schema.fields(big)).encode()
        fitted = fit_json(big, schema, 2000, data)
        out = json.loads(fitted)
        assert len(fitted) <= 2000 and out[TRUNCATED_FIELD] == 10_000
        assert out["message"].endswith(MARKER) and out["user"] == "u" and out["record_id"] == schema.record_id(big)

    def test_fit_json_keeps_the_essentials_when_extras_alone_are_too_large(self) -> None:
        """When the extras alone exceed the limit, the essentials (id included) still ship."""
        schema = Schema()
        huge = item(2, "m", blob="y" * 5000)
        fitted = fit_json(huge, schema, 600, json.dumps(schema.fields(huge)).encode())
        out = json.loads(fitted)
        assert len(fitted) <= 600 and set(out) >= {"timestamp", "level", "logger", "message", "record_id"}
        assert "blob" not in out


class TestSplitting:
    def test_pack_bounds_bytes_and_records_in_order(self) -> None:
        """Parts are grouped in order, within the byte and record limits; an oversized part goes alone."""
        items = [item(i) for i in range(7)]
        parts = [b"a" * 10, b"b" * 10, b"c" * 30, b"d" * 5, b"e" * 5, b"f" * 5, b"g" * 5]
        groups = pack(items, parts, max_bytes=25, max_records=2)
        assert [[p[:1] for p in g[1]] for g in groups] == [[b"a", b"b"], [b"c"], [b"d", b"e"], [b"f", b"g"]]
        assert [it for g in groups for it in g[0]] == items

    def test_ndjson_requests_respect_max_bytes_and_max_records(self) -> None:
        """NDJSON bodies stay under max_bytes and max_records, and hold every record once, in order."""
        fmt = NdjsonFormat(Schema())
        items = [item(i, f"message {i}") for i in range(50)]
        requests = fmt.encode(items, 2048, 7)
        assert all(len(r.body) <= 2048 and len(r.items) <= 7 for r in requests)
        lines = [json.loads(line)["message"] for r in requests for line in r.body.splitlines()]
        assert lines == [f"message {i}" for i in range(50)]

    def test_json_array_bodies_parse_and_fit(self) -> None:
        """JSON array bodies are valid arrays within max_bytes."""
        fmt = JsonArrayFormat(Schema())
        requests = fmt.encode([item(i, "z" * 100) for i in range(40)], 1500, None)
        decoded = [r for req in requests for r in JsonArrayFormat.decode(req.body)]
        assert all(len(r.body) <= 1500 for r in requests) and len(decoded) == 40


class TestForm:
    def test_form_is_the_stdlib_dict_with_the_frozen_message_and_id(self) -> None:
        """The form body is the record's attributes, msg formatted, args empty, record_id set."""
        schema = Schema()
        record = logging.makeLogRecord({"name": "f", "msg": "a %s", "args": ("b",), "levelname": "INFO"})
        fields = parse_qs(encode_form((5, record, "a b", None), schema).decode())
        assert fields["msg"] == ["a b"] and fields["message"] == ["a b"] and fields["args"] == ["None"]
        assert fields["record_id"] == [schema.record_id((5, record, "a b", None))]
        assert record.msg == "a %s", "the live record is left alone"


class TestSqsPack:
    def test_packed_from_lines_equals_packed_record_by_record(self) -> None:
        """Pack mode's messages cut from the batch's lines equal those packed record by record."""
        from threaded_logging.transports._sqs import SqsTransport

        sqs = SqsTransport("http://127.0.0.1:9/q", None, object(), {}, True, "", False)  # type: ignore[arg-type]
        sqs.schema = Schema()
        items = [item(i, "m" * (i * 37 % 900), user="\ufffe") for i in range(1, 400)]
        limit = 16 * 1024
        fast = sqs._packed_lines(items, limit)
        slow = sqs._packed([sqs._message(it, limit) for it in items], limit)
        assert fast is not None and len(fast) > 3
        assert [(m.items, m.body, m.size) for m in fast] == [(m.items, m.body, m.size) for m in slow]
        assert sqs._packed_lines([item(1, "x" * 20_000)], limit) is None, "too large alone: shrunk record by record"
