"""The project's own JSON schema: NDJSON (one object per line) or a JSON array.

What Vector, Fluent Bit (``json`` only), Fluentd, Logstash, VictoriaLogs and
the project's collector ingest. The answer is read from the status alone.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, Sequence

from .._lines import json_lines
from .._snapshot import Item
from .._transport import Request
from ..transports._encode import cut_lines, fit_json, pack
from ._base import Format
from ._decode import loads


class NdjsonFormat(Format):
    """One JSON object per line (``application/x-ndjson``)."""

    name: ClassVar[str] = "ndjson"
    content_type: ClassVar[str] = "application/x-ndjson"
    #: What precedes the records, and what follows each one (an array's
    #: last "," becomes its "]").
    _start: ClassVar[bytes] = b""
    _end: ClassVar[bytes] = b"\n"

    def encode(self, items: Sequence[Item], max_bytes: int, max_records: Optional[int]) -> List[Request]:
        # The worker's per-record cost is json_lines; a body is cut into
        # requests by C-level searches for its newlines.
        if not items:
            return []
        lines = json_lines(self.schema, items)
        runs = cut_lines(lines, len(items), max_bytes - len(self._start), max_records)
        if runs is None:  # a record too large alone: shrink it, keep its neighbours
            return self._fitted(items, lines, max_bytes, max_records)
        requests: List[Request] = []
        first = 0
        for count, part in runs:
            requests.append(Request(items[first:first + count], self._wrap(part)))
            first += count
        return requests

    def _wrap(self, lines: bytes) -> bytes:
        """The body for whole lines, each ending with a newline."""
        return lines

    def _fitted(self, items: Sequence[Item], lines: bytes, max_bytes: int,
                max_records: Optional[int]) -> List[Request]:
        end = self._end
        limit = max_bytes - len(self._start)
        parts: List[bytes] = []
        for item, line in zip(items, lines.split(b"\n")):
            data = line + end
            if len(data) > limit:
                data = fit_json(item, self.schema, limit - len(end), data) + end
            parts.append(data)
        return [Request(run_items, self._body(run)) for run_items, run in pack(items, parts, limit, max_records)]

    def _body(self, parts: List[bytes]) -> bytes:
        return b"".join(parts)

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        records = [loads(line) for line in body.split(b"\n") if line.strip()]
        if not all(isinstance(r, dict) for r in records):
            raise ValueError("every NDJSON line must be a JSON object")
        return records


class JsonArrayFormat(NdjsonFormat):
    """A JSON array of objects (``application/json``)."""

    name: ClassVar[str] = "json"
    content_type: ClassVar[str] = "application/json"
    _start: ClassVar[bytes] = b"["
    _end: ClassVar[bytes] = b","

    def _wrap(self, lines: bytes) -> bytes:
        return b"[" + lines[:-1].replace(b"\n", b",") + b"]"

    def _body(self, parts: List[bytes]) -> bytes:
        body = bytearray(b"[")
        body += b"".join(parts)
        body[-1:] = b"]"
        return bytes(body)

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        data = loads(body)
        records = data if isinstance(data, list) else [data]
        if not all(isinstance(r, dict) for r in records):
            raise ValueError("a JSON body must be an object or an array of objects")
        return records
