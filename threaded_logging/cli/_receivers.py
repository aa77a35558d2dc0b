"""What the collector accepts: its own bodies, and each format where its destination listens.

The collector's own bodies (:func:`parse_body`) are form, JSON and NDJSON,
on any path. At ``/v1/logs`` (OTLP/JSON), any path ending in ``/_bulk``
(Elasticsearch and OpenSearch), ``/loki/api/v1/push`` (Loki) and
``/services/collector/event`` (Splunk HEC) a body is decoded by its
format's own ``receive`` and answered as the destination answers on
success, so every format can be tried end to end against the collector.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

from ..formats._decode import loads as _loads

#: Paths of Splunk HEC's JSON event endpoint (``/services/collector`` is its alias).
HEC_PATHS = ("/services/collector", "/services/collector/event", "/services/collector/event/1.0")
#: Formats whose destination takes JSON only here (their protobuf forms are not decoded).
_JSON_ONLY = {"otlp": "OTLP/JSON", "loki": "Loki's JSON push"}


class BadRequest(Exception):
    """The body is malformed; the message is the reason sent back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def single_values(query: Dict[str, List[str]]) -> Dict[str, Any]:
    return {key: values[0] if len(values) == 1 else values for key, values in query.items()}


def parse_body(body: bytes, content_type: str) -> List[bytes]:
    """Split a request body into JSON-encoded records (bytes, one object each).

    Raises:
        BadRequest: with a reason naming the line or the problem.
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(400, f"malformed form body: {exc}") from None
        return [json.dumps(single_values(fields), ensure_ascii=False).encode()] if fields else []
    stripped = body.lstrip()
    if kind == "application/json" or (kind != "application/x-ndjson" and stripped[:1] == b"["):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadRequest(400, f"malformed JSON: {exc}") from None
        records = data if isinstance(data, list) else [data]
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise BadRequest(400, f"record {index + 1} is not a JSON object")
        return [json.dumps(r, ensure_ascii=False).encode() for r in records]
    lines = [line for line in body.split(b"\n") if line.strip()]
    if not lines:
        return []
    try:  # the whole body in one call; line by line only to name a bad line
        parsed = _loads(b"[" + b",".join(lines) + b"]")
        if isinstance(parsed, list) and len(parsed) == len(lines) and all(type(r) is dict for r in parsed):
            return lines
    except ValueError:
        pass
    out = []
    loads = json.loads
    for number, line in enumerate(body.split(b"\n"), 1):
        line = line.strip()
        if not line:
            continue
        try:
            record = loads(line)
        except ValueError as exc:
            raise BadRequest(400, f"malformed NDJSON at line {number}: {exc}") from None
        if not isinstance(record, dict):
            raise BadRequest(400, f"line {number} is not a JSON object")
        out.append(line)
    return out


def gunzip(body: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=31)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(400, f"malformed gzip body: {exc}") from None
    if len(data) > limit or decompressor.unconsumed_tail:
        raise BadRequest(413, f"body expands past the limit of {limit} bytes")
    return data


def route(path: str) -> Optional[str]:
    """The format received at ``path``, or None for the collector's own bodies."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path.endswith("/v1/logs"):
        return "otlp"
    if path.endswith("/_bulk"):
        return "elasticsearch"
    if path.endswith("/loki/api/v1/push"):
        return "loki"
    if path.endswith(HEC_PATHS):
        return "splunk_hec"
    return None


def receive(name: str, path: str, body: bytes, content_type: str) -> Tuple[List[bytes], int, bytes, str]:
    """Decode a request as the destination would.

    Returns:
        ``(records as JSON lines, status, reply body, reply Content-Type)``.

    Raises:
        BadRequest: 415 for a protobuf body, 400 for a malformed one.
    """
    from .._schema import dumps_bytes
    from ..formats import format_class

    kind = content_type.split(";", 1)[0].strip().lower()
    if name in _JSON_ONLY and kind not in ("", "application/json"):
        raise BadRequest(415, f"{_JSON_ONLY[name]} only (Content-Type: application/json), got {kind}")
    receiver = getattr(format_class(name), "receive")
    try:
        records, status, reply = receiver(body, path)
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None
    return [dumps_bytes(record) for record in records], status, reply, "application/json"
