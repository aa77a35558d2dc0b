"""format="loki": push bodies, labels, ordering, and Loki's answers."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from threaded_logging._schema import dumps_bytes
from threaded_logging.formats.loki import MAX_LINE_BYTES, LokiFormat, label_name

from ..format_records import CREATED, CREATED_NS, make_item, make_items, schema


def streams(fmt: LokiFormat, items: List[Any]) -> List[Dict[str, Any]]:
    requests = fmt.encode(items, 1 << 20, None)
    assert len(requests) == 1
    return list(json.loads(requests[0].body)["streams"])


class TestLokiBody:
    def test_default_labels_and_lines(self) -> None:
        """Streams are labelled service_name, level and logger; each value is [ns, schema JSON line]."""
        item = make_item(extra={"user": "bob"})
        fmt = LokiFormat(schema(service="shop"))
        [stream] = streams(fmt, [item])
        assert stream["stream"] == {"service_name": "shop", "level": "INFO", "logger": "app.web"}
        [[nanos, line]] = stream["values"]
        assert nanos == CREATED_NS and json.loads(line) == json.loads(json.dumps(fmt.schema.fields(item)))

    def test_records_group_by_labels_sorted_by_time(self) -> None:
        """Records with the same labels share a stream whose values are in time order (stable on ties)."""
        times = [3, 1, 2, 1]
        items = [make_item(i + 1, msg=f"m{i}", args=(), created=CREATED + t, name="a" if i != 2 else "b")
                 for i, t in enumerate(times)]
        result = streams(LokiFormat(schema()), items)
        lines = {s["stream"]["logger"]: [json.loads(v[1])["message"] for v in s["values"]] for s in result}
        assert lines == {"a": ["m1", "m3", "m0"], "b": ["m2"]}

    def test_label_fields_made_valid(self) -> None:
        """labels names record fields; names become valid label names; a field a record lacks is left out."""
        fmt = LokiFormat(schema(), labels=["http.status", "9lives", "absent", "level"], static_labels={"app": "shop", "team-x": "core"})
        [stream] = streams(fmt, [make_item(extra={"http.status": 200, "9lives": "cat"})])
        assert stream["stream"] == {"app": "shop", "team_x": "core", "http_status": "200", "_9lives": "cat", "level": "INFO"}
        assert label_name("a.b-c d") == "a_b_c_d" and label_name("") == "_"

    def test_lines_hold_the_schema_json_exactly(self) -> None:
        """Quotes, backslashes, control characters and non-ASCII survive the line's escaping unchanged."""
        fmt = LokiFormat(schema())
        item = make_item(msg='q"uo\\te \\" tab\t nl\n nul\x00 é ✓ \u2028', args=(), extra={"path\\x": "a\"b"})
        [stream] = streams(fmt, [item])
        [[_, line]] = stream["values"]
        assert line == dumps_bytes(fmt.schema.fields(item)).decode()
        assert LokiFormat.decode(fmt.encode([item], 1 << 20, None)[0].body)[0]["message"] == item[2]

    def test_long_lines_are_cut_to_lokis_limit(self) -> None:
        """A line over Loki's default max_line_size (256KB) is cut, so Loki does not drop it."""
        requests = LokiFormat(schema()).encode([make_item(msg="x" * 400_000, args=())], 1 << 20, None)
        [[_, line]] = json.loads(requests[0].body)["streams"][0]["values"]
        assert len(line.encode()) <= MAX_LINE_BYTES and json.loads(line)["truncated"] == 400_000


class TestLokiAnswer:
    fmt = LokiFormat(schema())

    @pytest.mark.parametrize("status", [200, 204])
    def test_success(self, status: int) -> None:
        """204 (and 200) deliver the request."""
        assert list(self.fmt.read_answer(status, {}, b"", 3).delivered) == [0, 1, 2]

    def test_400_fails_the_request(self) -> None:
        """400 fails every record with Loki's text: it stored the entries it could validate, and cannot say which."""
        body = (b"entry for stream '{level=\"INFO\", logger=\"app.web\"}' has timestamp too old: 2024-05-01T12:00:00Z, "
                b"oldest acceptable timestamp is: 2024-05-04T12:00:00Z")
        answer = self.fmt.read_answer(400, {"Content-Type": "text/plain"}, body, 2)
        assert sorted(answer.failed) == [0, 1] and "timestamp too old" in answer.failed[0] and not answer.retry

    def test_blocked_ingestion_fails(self) -> None:
        """Loki's 260 (block_ingestion_until) stores nothing: the records fail."""
        answer = self.fmt.read_answer(260, {}, b"ingestion blocked until 2025-01-01", 2)
        assert sorted(answer.failed) == [0, 1] and "blocking ingestion" in answer.failed[0]

    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    def test_retried(self, status: int) -> None:
        """429 (rate limit) and 5xx are retried, honouring Retry-After."""
        body = b"Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '2' lines"
        answer = self.fmt.read_answer(status, {"Retry-After": "5"}, body, 2)
        assert list(answer.retry) == [0, 1] and answer.retry_after_s == 5.0

    @pytest.mark.parametrize("status", [401, 404])
    def test_final(self, status: int) -> None:
        """Other 4xx are final."""
        assert sorted(self.fmt.read_answer(status, {}, b"no org id", 1).failed) == [0]


class TestLokiDecode:
    def test_round_trip_in_logged_order(self) -> None:
        """decode gives the schema records back in time order across streams."""
        fmt = LokiFormat(schema())
        items = [make_item(i + 1, name=("a", "b")[i % 2], created=CREATED + i) for i in range(4)]
        records = LokiFormat.decode(fmt.encode(items, 1 << 20, None)[0].body)
        assert records == [json.loads(json.dumps(fmt.schema.fields(i))) for i in items]

    def test_foreign_lines(self) -> None:
        """A line that is not a JSON object becomes the message, with the stream's labels."""
        body = b'{"streams":[{"stream":{"job":"x"},"values":[["1570818238000000000","plain text"]]}]}'
        assert LokiFormat.decode(body) == [{"timestamp": "2019-10-11T18:23:58.000Z", "created": 1570818238.0,
                                            "message": "plain text", "job": "x"}]

    def test_receive_answers_204(self) -> None:
        """The collector answers a push as Loki does: 204, no body."""
        records, status, reply = LokiFormat.receive(LokiFormat(schema()).encode(make_items(2), 1 << 20, None)[0].body, "/loki/api/v1/push")
        assert (len(records), status, reply) == (2, 204, b"")


class TestLokiOptions:
    def test_bad_options(self) -> None:
        """Wrong types raise TypeError and bad values ValueError, naming the option."""
        for options, error in [({"labels": "level"}, TypeError), ({"labels": [1]}, TypeError), ({"labels": [""]}, ValueError),
                               ({"static_labels": ["a"]}, TypeError), ({"static_labels": {"a": 1}}, TypeError),
                               ({"static_labels": {"a": ""}}, ValueError), ({"labels": [], "static_labels": {}}, ValueError),
                               ({"labels": ["a.b", "a_b"]}, ValueError), ({"labels": ["app"], "static_labels": {"app": "x"}}, ValueError),
                               ({"static_labels": {"a": "b"}, "service_name": "s"}, ValueError), ({"index": "x"}, TypeError)]:
            with pytest.raises(error, match="labels|service_name|index"):
                LokiFormat(schema(), **options)

    def test_service_name_feeds_the_default_label(self) -> None:
        """service_name (else static_fields["service"], else unknown_service) is the default static label."""
        assert LokiFormat(schema(), service_name="api").static_labels == {"service_name": "api"}
        assert LokiFormat(schema()).static_labels == {"service_name": "unknown_service"}
        [stream] = streams(LokiFormat(schema(), labels=["missing"], static_labels={}), [make_item()])
        assert stream["stream"] == {"service_name": "unknown_service"}  # Loki needs one label at least
