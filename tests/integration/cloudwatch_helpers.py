"""Reading CloudWatch Logs back, and watching the calls a client makes."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Dict, List, Optional, Sequence

from threaded_logging._snapshot import Item
from threaded_logging._transport import Answer, Transport


def read_events(client: Any, group: str, stream: str, pages: int = 50) -> List[Dict[str, Any]]:
    """Every event of a stream, oldest first (at most ``pages`` pages)."""
    found: List[Dict[str, Any]] = []
    token: Optional[str] = None
    for _ in range(pages):
        kwargs: Dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = client.get_log_events(**kwargs)
        found.extend(page["events"])
        if not page["events"] or page.get("nextForwardToken") in (None, token):
            break
        token = page["nextForwardToken"]
    return found


def read_records(client: Any, group: str, stream: str) -> List[Dict[str, Any]]:
    """The stream's events parsed as schema JSON."""
    return [json.loads(event["message"]) for event in read_events(client, group, stream)]


def stream_names(client: Any, group: str) -> List[str]:
    """The group's stream names (empty when the group does not exist)."""
    try:
        return sorted(s["logStreamName"] for s in client.describe_log_streams(logGroupName=group)["logStreams"])
    except client.exceptions.ResourceNotFoundException:
        return []


def group_names(client: Any, prefix: str) -> List[str]:
    return [g["logGroupName"] for g in client.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]]


class CallLog:
    """The operations a boto3 logs client makes, and per PutLogEvents call that
    succeeded its event count, its size as the API counts it, its timestamps."""

    def __init__(self, client: Any) -> None:
        self.operations: List[str] = []
        self.puts: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-call.{service}", self._before)
        client.meta.events.register(f"after-call.{service}.PutLogEvents", self._after)

    def _before(self, params: Dict[str, Any], model: Any, context: Dict[str, Any], **kwargs: Any) -> None:
        with self._lock:
            self.operations.append(model.name)
        if model.name == "PutLogEvents":
            body = json.loads(params["body"])
            events = body["logEvents"]
            context["put"] = {
                "count": len(events),
                "bytes": sum(len(e["message"].encode("utf-8")) + 26 for e in events),
                "stamps": [e["timestamp"] for e in events],
                "stream": body["logStreamName"],
            }

    def _after(self, http_response: Any, context: Dict[str, Any], **kwargs: Any) -> None:
        if http_response.status_code == 200 and "put" in context:
            with self._lock:
                self.puts.append(context["put"])


def make_items(messages: Sequence[str], name: str = "cw.test", created: Optional[Sequence[float]] = None) -> List[Item]:
    """Items as a handler would queue them, each from a real LogRecord."""
    out: List[Item] = []
    for index, message in enumerate(messages):
        record = logging.LogRecord(name, logging.INFO, __file__, 10 + index, message, None, None, func="test")
        if created is not None:
            record.created = created[index]
            record.msecs = (record.created - int(record.created)) * 1000
        out.append((index + 1, record, message, None))
    return out


def ship(transport: Transport, items: Sequence[Item]) -> List[Answer]:
    """Encode and send like the send loop's first attempt; one answer per request."""
    return [transport.send(request, None) for request in transport.encode(items)]
