"""format="splunk_hec": event envelopes, the token, and HEC's answers (invalid-event-number included)."""

from __future__ import annotations

import json

import pytest

from threaded_logging._schema import HOST
from threaded_logging.formats.splunk_hec import SplunkHecFormat, envelopes

from ..format_records import CREATED, make_item, make_items, schema

TOKEN = "12345678-abcd-4ef0-9876-0123456789ab"


def hec(**options: object) -> SplunkHecFormat:
    return SplunkHecFormat(schema(), **{"token": TOKEN, **options})


class TestSplunkHecBody:
    def test_envelopes(self) -> None:
        """Each record is an envelope: time, host, source (logger), sourcetype _json, the schema as event; no index unless given."""
        fmt = hec()
        body = fmt.encode([make_item()], 1 << 20, None)[0].body
        [envelope] = envelopes(body)
        assert list(envelope) == ["time", "host", "source", "sourcetype", "event"]
        assert (envelope["time"], envelope["host"], envelope["source"], envelope["sourcetype"]) == (CREATED, HOST, "app.web", "_json")
        assert envelope["event"] == json.loads(json.dumps(fmt.schema.fields(make_item())))
        indexed = envelopes(hec(index="main", sourcetype="app:log").encode([make_item()], 1 << 20, None)[0].body)[0]
        assert (indexed["index"], indexed["sourcetype"]) == ("main", "app:log")

    def test_token_header_and_secrecy(self) -> None:
        """The token goes in Authorization: Splunk <token>, and never into repr or an error."""
        fmt = hec()
        assert fmt.headers() == {"Authorization": f"Splunk {TOKEN}"}
        assert TOKEN not in repr(fmt) and TOKEN not in str(fmt)
        answer = fmt.read_answer(403, {}, b'{"text":"Invalid token","code":4}', 1)
        assert TOKEN not in str(answer)
        with pytest.raises(ValueError) as caught:
            SplunkHecFormat(schema(), token="secret value\r\nX-Injected: 1")
        assert "secret" not in str(caught.value)


class TestSplunkHecAnswer:
    fmt = hec()

    def test_success(self) -> None:
        """200 with code 0 delivers the request."""
        assert list(self.fmt.read_answer(200, {}, b'{"text":"Success","code":0}', 3).delivered) == [0, 1, 2]

    @pytest.mark.parametrize("number", [2, "2"])
    def test_invalid_event_number(self, number: object) -> None:
        """Records before n are delivered, record n fails with HEC's text, the rest are retried."""
        body = json.dumps({"text": "Invalid data format", "code": 6, "invalid-event-number": number}).encode()
        answer = self.fmt.read_answer(400, {}, body, 5)
        assert list(answer.delivered) == [0, 1] and list(answer.retry) == [3, 4]
        assert answer.failed == {2: "HTTP 400: Invalid data format (HEC code 6), event 2 of the request"}

    def test_first_event_invalid(self) -> None:
        """invalid-event-number 0: nothing delivered, the first fails, the others are retried."""
        answer = self.fmt.read_answer(400, {}, b'{"text":"Event field is required","code":12,"invalid-event-number":0}', 3)
        assert not answer.delivered and list(answer.failed) == [0] and list(answer.retry) == [1, 2]

    def test_incorrect_index_fails_the_rest(self) -> None:
        """Code 7 (Incorrect index) fails record n and every later one: they all name that index."""
        answer = self.fmt.read_answer(400, {}, b'{"text":"Incorrect index","code":7,"invalid-event-number":1}', 4)
        assert list(answer.delivered) == [0] and sorted(answer.failed) == [1, 2, 3] and not answer.retry

    @pytest.mark.parametrize("body", [b'{"text":"No data","code":5}', b'{"text":"Invalid data format","code":6,"invalid-event-number":9}',
                                      b"not json", b""])
    def test_other_400s_fail_all(self, body: bytes) -> None:
        """A 400 without a usable event number fails the request."""
        assert sorted(self.fmt.read_answer(400, {}, body, 3).failed) == [0, 1, 2]

    @pytest.mark.parametrize("status, body", [(503, b'{"text":"Server is busy","code":9}'),
                                              (503, b'{"text":"HEC is unhealthy, queues are full","code":18}'),
                                              (500, b'{"text":"Internal server error","code":8}'), (429, b""), (408, b"")])
    def test_retried(self, status: int, body: bytes) -> None:
        """503 (busy), other 5xx, 429 and 408 are retried, honouring Retry-After."""
        answer = self.fmt.read_answer(status, {"Retry-After": "4"}, body, 2)
        assert list(answer.retry) == [0, 1] and answer.retry_after_s == 4.0

    @pytest.mark.parametrize("status, body", [(401, b'{"text":"Token is required","code":2}'), (403, b'{"text":"Token disabled","code":1}'),
                                              (403, b'{"text":"Invalid token","code":4}'), (404, b"")])
    def test_final(self, status: int, body: bytes) -> None:
        """Token errors and other 4xx are final."""
        assert sorted(self.fmt.read_answer(status, {}, body, 2).failed) == [0, 1]

    def test_413_sends_halves(self) -> None:
        """413 (max_content_length) sends the records again in smaller requests."""
        assert self.fmt.read_answer(413, {}, b"Content-Length of 2000000 too large (maximum is 1000000)", 2).split


class TestSplunkHecDecode:
    def test_round_trip(self) -> None:
        """decode gives back the events: the schema records."""
        fmt = hec()
        items = make_items(3)
        assert SplunkHecFormat.decode(fmt.encode(items, 1 << 20, None)[0].body) == [
            json.loads(json.dumps(fmt.schema.fields(i))) for i in items]

    def test_concatenated_and_foreign_events(self) -> None:
        """Envelopes back to back, and string events, are read; the envelope fills time, host and logger."""
        body = b'{"time":1570818238.5,"host":"h","source":"s","event":"plain"}{"event":{"message":"m"}}'
        assert SplunkHecFormat.decode(body) == [
            {"message": "plain", "timestamp": "2019-10-11T18:23:58.500Z", "created": 1570818238.5, "logger": "s", "host": "h"},
            {"message": "m"}]
        with pytest.raises(ValueError, match="event field"):
            SplunkHecFormat.decode(b'{"time": 1}')

    def test_receive_answers_success(self) -> None:
        """The collector answers as HEC does: 200, text Success, code 0."""
        records, status, reply = SplunkHecFormat.receive(hec().encode(make_items(2), 1 << 20, None)[0].body, "/services/collector/event")
        assert (len(records), status, json.loads(reply)) == (2, 200, {"text": "Success", "code": 0})


class TestSplunkHecOptions:
    def test_token_is_required(self) -> None:
        """Without a token HEC answers every request 401, so the format refuses to start."""
        with pytest.raises(TypeError, match="token"):
            SplunkHecFormat(schema())
        with pytest.raises(TypeError, match="token"):
            SplunkHecFormat(schema(), token=123)
        with pytest.raises(ValueError, match="token"):
            SplunkHecFormat(schema(), token="")

    def test_bad_options(self) -> None:
        """sourcetype and index are checked: TypeError for a wrong type, ValueError for a bad value."""
        for options, error in [({"sourcetype": 1}, TypeError), ({"sourcetype": " "}, ValueError), ({"index": 2}, TypeError),
                               ({"index": "Main"}, ValueError), ({"index": "_internal"}, ValueError), ({"labels": []}, TypeError)]:
            with pytest.raises(error, match="sourcetype|index|labels"):
                hec(**options)
