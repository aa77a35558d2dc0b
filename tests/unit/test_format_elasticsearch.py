"""format="elasticsearch": _bulk create actions, and every per-item answer Elasticsearch and OpenSearch give."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from threaded_logging.formats.elasticsearch import ElasticsearchFormat, bulk_actions

from ..format_records import make_item, make_items, schema

#: The bulk API docs' answer when every action succeeded (Elasticsearch 8).
ALL_CREATED = b"""{"took": 30, "errors": false, "items": [
 {"create": {"_index": "logs", "_id": "a-1", "_version": 1, "result": "created",
   "_shards": {"total": 2, "successful": 1, "failed": 0}, "status": 201, "_seq_no": 0, "_primary_term": 1}}]}"""


def item(status: int, error: Any = None, op: str = "create") -> Dict[str, Any]:
    """One ``items`` entry as Elasticsearch writes it."""
    result: Dict[str, Any] = {"_index": "logs", "_id": "x", "status": status}
    if error is not None:
        result["error"] = error
    else:
        result.update({"_version": 1, "result": "created", "_seq_no": 0, "_primary_term": 1})
    return {op: result}


CONFLICT = {"type": "version_conflict_engine_exception",
            "reason": "[a-2]: version conflict, document already exists (current version [1])",
            "index_uuid": "cXmq4Rt3RGGswDTTwZFzvA", "shard": "0", "index": "logs"}
REJECTED = {"type": "es_rejected_execution_exception",
            "reason": "rejected execution of coordinating operation [coordinating_and_primary_bytes=0]"}
PARSING = {"type": "document_parsing_exception",
           "reason": "[1:230] failed to parse field [status] of type [long] in document with id 'a-4'"}
UNAVAILABLE = {"type": "unavailable_shards_exception", "reason": "[logs][0] primary shard is not active"}


def answer_body(items: List[Dict[str, Any]]) -> bytes:
    return json.dumps({"took": 486, "errors": True, "items": items}).encode()


class TestElasticsearchBody:
    def test_create_actions_with_ids_then_documents(self) -> None:
        """Each record is a create action carrying its record_id (and the index when given), then its document."""
        body = ElasticsearchFormat(schema(), index="logs-app").encode(make_items(2), 1 << 20, None)[0].body
        lines = body.split(b"\n")
        assert lines[-1] == b"" and len(lines) == 5
        assert json.loads(lines[0]) == {"create": {"_index": "logs-app", "_id": "0123456789abcdef-1"}}
        document = json.loads(lines[1])
        assert list(document)[:2] == ["@timestamp", "timestamp"] and document["@timestamp"] == document["timestamp"]
        assert document["message"] == "n=0" and document["record_id"] == "0123456789abcdef-1"

    def test_without_index_the_url_names_it(self) -> None:
        """Without index=, actions carry no _index (the URL's /<index>/_bulk names it)."""
        body = ElasticsearchFormat(schema()).encode(make_items(1), 1 << 20, None)[0].body
        assert json.loads(body.split(b"\n")[0]) == {"create": {"_id": "0123456789abcdef-1"}}

    def test_stored_record_keeps_its_id(self) -> None:
        """A record read back from the spool is sent with the id it was first given."""
        stored = (5, make_item()[1], "hello", {"record_id": "feedfacecafebeef-99"})
        body = ElasticsearchFormat(schema()).encode([stored], 1 << 20, None)[0].body
        assert json.loads(body.split(b"\n")[0])["create"]["_id"] == "feedfacecafebeef-99"


class TestElasticsearchAnswer:
    fmt = ElasticsearchFormat(schema())

    def test_no_errors_delivers_all(self) -> None:
        """200 with errors false delivers every record, read without parsing the items."""
        assert list(self.fmt.read_answer(200, {}, ALL_CREATED, 3).delivered) == [0, 1, 2]
        assert list(self.fmt.read_answer(200, {}, b'{"errors":false,"took":3,"items":[]}', 2).delivered) == [0, 1]

    def test_items_decide_each_record(self) -> None:
        """2xx delivered, 409 duplicate, 429 and 5xx retried, anything else failed with error.type and reason."""
        body = answer_body([item(201), item(409, CONFLICT), item(429, REJECTED), item(400, PARSING),
                            item(503, UNAVAILABLE), item(200, op="index")])
        answer = self.fmt.read_answer(200, {"Retry-After": "3"}, body, 6)
        assert list(answer.delivered) == [0, 5] and list(answer.duplicates) == [1] and list(answer.retry) == [2, 4]
        assert answer.failed == {3: "HTTP 400: document_parsing_exception: " + PARSING["reason"]}
        assert answer.retry_after_s == 3.0 and answer.error is not None and "3 of 6" in answer.error

    def test_missing_items_are_retried(self) -> None:
        """Records the answer has no item for are sent again (create by id makes that safe)."""
        answer = self.fmt.read_answer(200, {}, answer_body([item(201)]), 3)
        assert list(answer.delivered) == [0] and list(answer.retry) == [1, 2]

    def test_older_string_errors_are_reasons(self) -> None:
        """An item whose error is a plain string (old versions) fails with that text."""
        answer = self.fmt.read_answer(200, {}, answer_body([item(400, "MapperParsingException[failed]")]), 1)
        assert answer.failed == {0: "HTTP 400: MapperParsingException[failed]"}

    @pytest.mark.parametrize("body", [b"", b"<html>proxy</html>", b'{"errors": true}', b'{"errors": true, "items": 5}'])
    def test_unreadable_success_is_retried(self, body: bytes) -> None:
        """A 2xx answer that cannot be read is retried: resending a create by id stores nothing twice."""
        answer = self.fmt.read_answer(200, {}, body, 2)
        assert list(answer.retry) == [0, 1] and not answer.delivered

    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 408])
    def test_whole_request_retried(self, status: int) -> None:
        """A request answered 429, 408 or 5xx is retried, honouring Retry-After."""
        answer = self.fmt.read_answer(status, {"Retry-After": "2"}, b'{"error":{"type":"x"},"status":%d}' % status, 2)
        assert list(answer.retry) == [0, 1] and answer.retry_after_s == 2.0

    @pytest.mark.parametrize("status", [400, 401, 403, 404])
    def test_whole_request_final(self, status: int) -> None:
        """Other 4xx fail every record of the request."""
        answer = self.fmt.read_answer(status, {}, b'{"error":{"type":"security_exception"},"status":401}', 2)
        assert sorted(answer.failed) == [0, 1] and not answer.retry

    def test_413_sends_halves(self) -> None:
        """413 (http.max_content_length) sends the records again in smaller requests."""
        assert self.fmt.read_answer(413, {}, b"", 2).split


class TestElasticsearchDecode:
    def test_round_trip(self) -> None:
        """decode gives the schema records back; @timestamp is not repeated."""
        fmt = ElasticsearchFormat(schema(env="prod"), index="logs")
        items = make_items(3)
        records = ElasticsearchFormat.decode(fmt.encode(items, 1 << 20, None)[0].body)
        assert records == [json.loads(json.dumps(fmt.schema.fields(i))) for i in items]

    def test_foreign_bodies(self) -> None:
        """Documents without record_id take the action's _id; delete actions carry none; @timestamp alone becomes timestamp."""
        body = (b'{"index":{"_id":"7"}}\n{"@timestamp":"2024-01-01T00:00:00Z","message":"m"}\n'
                b'{"delete":{"_id":"8"}}\n')
        assert ElasticsearchFormat.decode(body) == [{"message": "m", "timestamp": "2024-01-01T00:00:00Z", "record_id": "7"}]
        with pytest.raises(ValueError, match="no document"):
            bulk_actions(b'{"create":{}}\n')

    def test_receive_answers_as_elasticsearch(self) -> None:
        """The collector's reply lists one 201 create item per action, with its _id and the URL's index."""
        body = ElasticsearchFormat(schema()).encode(make_items(2), 1 << 20, None)[0].body
        records, status, reply = ElasticsearchFormat.receive(body, "/logs-x/_bulk")
        data = json.loads(reply)
        assert status == 200 and data["errors"] is False and len(records) == 2
        assert [i["create"]["_id"] for i in data["items"]] == ["0123456789abcdef-1", "0123456789abcdef-2"]
        assert {i["create"]["status"] for i in data["items"]} == {201} and data["items"][0]["create"]["_index"] == "logs-x"
        assert list(ElasticsearchFormat(schema()).read_answer(status, {}, reply, 2).delivered) == [0, 1]


class TestElasticsearchOptions:
    @pytest.mark.parametrize("index", ["logs", "logs-app.2024", "<logs-{now/d}>", "a" * 255])
    def test_valid_index(self, index: str) -> None:
        """Index names Elasticsearch accepts, date math included, are taken."""
        assert ElasticsearchFormat(schema(), index=index).index == index

    @pytest.mark.parametrize("index", ["", "Logs", "_logs", "-x", "+x", ".", "..", "a b", "a,b", "a/b", "a*", "a:b", "a" * 256])
    def test_invalid_index(self, index: str) -> None:
        """Invalid index names raise ValueError naming the option and the value."""
        with pytest.raises(ValueError, match="index must be"):
            ElasticsearchFormat(schema(), index=index)

    def test_wrong_types(self) -> None:
        """A non-string index raises TypeError; another format's option is refused."""
        with pytest.raises(TypeError, match="index"):
            ElasticsearchFormat(schema(), index=5)
        with pytest.raises(TypeError, match="token"):
            ElasticsearchFormat(schema(), token="x")
