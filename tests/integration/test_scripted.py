"""The scripted server stores what a destination would for each scripted answer."""

from __future__ import annotations

from typing import Any, List

import requests

from threaded_logging.formats import format_class

from ..format_records import OPTIONS, make_items, schema
from .servers import Scripted, es_items, hec_invalid, loki_error, otlp_partial


def send(server: Scripted, name: str, path: str, count: int) -> List[str]:
    """POST ``count`` records in format ``name``; the messages of what the answer says was delivered."""
    fmt = format_class(name)(schema(), **OPTIONS[name])
    items = make_items(count)
    [request] = fmt.encode(items, 1 << 20, None)
    reply = requests.post(f"http://{server.address}{path}", data=request.body,
                          headers={"Content-Type": fmt.content_type, **fmt.headers()}, timeout=5)
    answer = fmt.read_answer(reply.status_code, reply.headers, reply.content, count)
    return [items[i][2] for i in answer.delivered]


def messages(records: List[Any]) -> List[str]:
    return [record["message"] for record in records]


class TestScriptedDestinations:
    def test_partial_answers_store_what_they_say(self, scripted: Scripted) -> None:
        """For each format's partial answer, the server keeps exactly the records the reader counts as delivered."""
        scripted.script = [es_items(201, 409, 400), otlp_partial(2), hec_invalid(1), loki_error(400), 204]
        delivered = send(scripted, "elasticsearch", "/logs/_bulk", 3)
        delivered += send(scripted, "otlp", "/v1/logs", 3)
        delivered += send(scripted, "splunk_hec", "/services/collector/event", 3)
        delivered += send(scripted, "loki", "/loki/api/v1/push", 2)
        delivered += send(scripted, "loki", "/loki/api/v1/push", 1)
        assert delivered == ["n=0", "n=0", "n=0", "n=0"]
        assert messages(scripted.records) == delivered
        assert [path for path, _ in scripted.bodies] == ["/logs/_bulk", "/v1/logs", "/services/collector/event",
                                                         "/loki/api/v1/push", "/loki/api/v1/push"]

    def test_other_paths_keep_their_behaviour(self, scripted: Scripted) -> None:
        """Off the destination paths a 2xx stores the NDJSON records and an error stores none."""
        scripted.script = [503]
        for _ in range(2):
            requests.post(f"http://{scripted.address}/ingest", data=b'{"message": "m"}\n',
                          headers={"Content-Type": "application/x-ndjson"}, timeout=5)
        assert messages(scripted.records) == ["m"]
