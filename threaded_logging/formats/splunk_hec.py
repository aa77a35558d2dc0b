"""Splunk HTTP Event Collector (HEC), JSON events (``POST /services/collector/event``).

The body is one envelope per record, one after another (each on its own
line, which HEC allows):
``{"time":<created>,"host":...,"source":<logger>,"sourcetype":"_json","index":...,"event":<schema>}``.
The token goes in ``Authorization: Splunk <token>``.

Docs: https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/format-events-for-http-event-collector
Status codes: https://help.splunk.com/en/splunk-enterprise/get-data-in/collect-http-event-data/troubleshoot-http-event-collector
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from .._lines import json_lines
from .._schema import HOST, Schema, dumps_bytes
from .._snapshot import RECORD, Item
from .._transport import Answer, Request
from ..transports._encode import fit_encoded, pack
from ._base import Format, http_error
from ._decode import loads, orjson_loads, time_fields

#: HEC's code for "Incorrect index": the index every envelope names.
INCORRECT_INDEX = 7
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_TOKEN = re.compile(r"[\x21-\x7e]+\Z")  # visible ASCII: nothing that could end the header


class SplunkHecFormat(Format):
    """Splunk HEC event envelopes (``application/json``).

    200 delivers the request. 400 with ``invalid-event-number`` n (HEC
    stops at the first bad event, 0-based, after indexing those before it:
    ``{"text":"Invalid data format","code":6,"invalid-event-number":3}``):
    records before n are delivered, record n is failed with HEC's text and
    code, the rest are retried. With code 7 (``Incorrect index``) record n
    and every later one fail, since they all name the same index. Any other
    400 fails the request. 503 (``Server is busy``), other 5xx, 429 and 408
    are retried (honouring ``Retry-After``); 413 sends the records again in
    halves; 401, 403 and any other status are final.

    Args:
        schema: renders a record as the JSON schema.
        token: the HEC token (required): sent as ``Authorization: Splunk
            <token>``, never shown in errors or ``repr``.
        sourcetype: each event's ``sourcetype`` (default ``"_json"``, so
            Splunk extracts the fields).
        index: each event's ``index`` (default none: the token's default
            index).
    """

    name: ClassVar[str] = "splunk_hec"
    content_type: ClassVar[str] = "application/json"
    options: ClassVar[FrozenSet[str]] = frozenset({"token", "sourcetype", "index"})

    def __init__(self, schema: Schema, **options: Any) -> None:
        super().__init__(schema, **options)
        token = options.get("token")
        if token is None:
            raise TypeError("format='splunk_hec' needs token= (the HEC token)")
        if not isinstance(token, str):
            raise TypeError(f"token must be a string, got a {type(token).__name__}")
        if not _TOKEN.match(token):
            raise ValueError("token must be non-empty visible ASCII (no spaces or line breaks); value not shown")
        self._authorization = f"Splunk {token}"
        self.sourcetype = _check_name("sourcetype", options.get("sourcetype", "_json"))
        index = options.get("index")
        self.index: Optional[str] = None
        if index is not None:
            self.index = _check_name("index", index)
            if not _INDEX_NAME.match(self.index):
                raise ValueError(f"index must be lower-case letters, digits, '_' or '-', got {index!r}")
        self._middles: Dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"<SplunkHecFormat sourcetype={self.sourcetype!r} index={self.index!r}>"

    def headers(self) -> Dict[str, str]:
        return {"Authorization": self._authorization}

    # -- encode ---------------------------------------------------------------

    def envelope(self, created: float, logger: str, fields: Mapping[str, Any]) -> bytes:
        """One event's envelope, and its newline."""
        return self._envelope(created, logger, dumps_bytes(fields))

    def _envelope(self, created: float, logger: str, event: bytes) -> bytes:
        middle = self._middles.get(logger)
        if middle is None:
            if len(self._middles) > 1000:  # loggers named per request or per object
                self._middles.clear()
            data: Dict[str, Any] = {"host": HOST, "source": logger, "sourcetype": self.sourcetype}
            if self.index is not None:
                data["index"] = self.index
            middle = self._middles[logger] = b"," + dumps_bytes(data)[1:-1] + b',"event":'
        time = repr(created).encode() if type(created) in (float, int) and created - created == 0 else b"0"
        return b'{"time":' + time + middle + event + b"}\n"

    def encode(self, items: Sequence[Item], max_bytes: int, max_records: Optional[int]) -> List[Request]:
        envelope = self.envelope
        parts: List[bytes] = []
        # the schema lines of the whole batch in one call (see _lines.py)
        for item, line in zip(items, json_lines(self.schema, items).split(b"\n")):
            record = item[RECORD]
            part = self._envelope(record.created, record.name, line)
            if len(part) > max_bytes:
                part = fit_encoded(item, self.schema, max_bytes, functools.partial(envelope, record.created, record.name))
            parts.append(part)
        return [Request(run_items, b"".join(run)) for run_items, run in pack(items, parts, max_bytes, max_records)]

    # -- answer ---------------------------------------------------------------

    def read_answer(self, status: int, headers: Mapping[str, str], body: bytes, count: int) -> Answer:
        if status != 400:
            return super().read_answer(status, headers, body, count)
        text, code, number = hec_error(body)
        reason = f"HTTP 400: {text or http_error(status, body)} (HEC code {code})"
        if number is None or not 0 <= number < count:
            return Answer.fail_all(count, reason)
        reason = f"{reason}, event {number} of the request"
        if code == INCORRECT_INDEX:
            return Answer(delivered=range(number), failed=dict.fromkeys(range(number, count), reason), error=reason)
        return Answer(delivered=range(number), failed={number: reason}, retry=range(number + 1, count), error=reason)

    # -- decode ---------------------------------------------------------------

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        return [_record(envelope) for envelope in envelopes(body)]

    @classmethod
    def receive(cls, body: bytes, path: str) -> Tuple[List[Dict[str, Any]], int, bytes]:
        """Decode a HEC request; answer as HEC does on success."""
        return cls.decode(body), 200, b'{"text":"Success","code":0}'


def hec_error(body: bytes) -> Tuple[str, Optional[int], Optional[int]]:
    """``(text, code, invalid-event-number)`` of a HEC error answer (None where absent)."""
    try:
        data = loads(body)
        text, code, number = data.get("text"), data.get("code"), data.get("invalid-event-number")
    except (AttributeError, ValueError, RecursionError):
        return "", None, None
    return (
        text if isinstance(text, str) else "",
        _as_int(code),
        _as_int(number),
    )


def _as_int(value: Any) -> Optional[int]:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def envelopes(body: bytes) -> List[Dict[str, Any]]:
    """The envelopes of a HEC body: JSON objects one after another, any whitespace between.

    Raises:
        ValueError: not JSON objects, or one without ``event``.
    """
    fast = _one_per_line(body)
    if fast is not None:
        return fast
    text = body.decode("utf-8")
    decoder = json.JSONDecoder()
    out: List[Dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position >= len(text):
            return out
        try:
            envelope, position = decoder.raw_decode(text, position)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"HEC event {len(out)} is not valid JSON: {exc}") from None
        if not isinstance(envelope, dict) or "event" not in envelope:
            raise ValueError(f"HEC event {len(out)} is not an object with an event field")
        out.append(envelope)


def _one_per_line(body: bytes) -> Optional[List[Dict[str, Any]]]:
    """The envelopes when each line holds one (as senders write them, this
    one too), read by orjson; None to take the general path."""
    if orjson_loads is None:
        return None
    out = []
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        try:
            envelope = orjson_loads(line)
        except ValueError:
            return None
        if not isinstance(envelope, dict) or "event" not in envelope:
            return None
        out.append(envelope)
    return out


def _record(envelope: Mapping[str, Any]) -> Dict[str, Any]:
    """The schema record of one envelope: its event, completed from the envelope."""
    event = envelope["event"]
    record: Dict[str, Any] = dict(event) if isinstance(event, dict) else {"message": event}
    created = envelope.get("time")
    if isinstance(created, str):
        try:
            created = float(created)
        except ValueError:
            created = None
    if "timestamp" not in record or "created" not in record:
        for key, value in time_fields(created).items():
            record.setdefault(key, value)
    for key, field in (("source", "logger"), ("host", "host")):
        if key in envelope:
            record.setdefault(field, envelope[key])
    return record


def _check_name(option: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{option} must be a string, got {value!r}")
    if not value.strip():
        raise ValueError(f"{option} must not be empty, got {value!r}")
    return value
