"""Elasticsearch and OpenSearch ``_bulk``: one ``create`` action per record.

The body is NDJSON (``application/x-ndjson``): for each record an action
line ``{"create":{"_id":<record_id>}}`` (plus ``"_index"`` when the
``index`` option is given; else the URL names it: ``/<index>/_bulk``), then
the document: the JSON schema with ``@timestamp`` first. ``create`` with the
record's id makes a resent record a no-op (answered 409, counted as a
duplicate), and is the only action data streams take.

Docs: https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html
(OpenSearch: https://docs.opensearch.org/latest/api-reference/document-apis/bulk/)
"""

from __future__ import annotations

import functools
import re
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from .._lines import json_lines
from .._retry import parse_retry_after
from .._schema import Schema, dumps_bytes
from .._snapshot import Item
from .._transport import Answer, Request
from ..transports._encode import fit_encoded, pack
from ._base import Format
from ._decode import loads

#: Characters an index name may not hold (besides upper case).
_BAD_INDEX_CHARS = re.compile(r'[\\/*?"<>| ,#:]')
#: ``"errors": true|false`` near the start of an answer (before ``"items"``).
_ERRORS = re.compile(rb'"errors"\s*:\s*(true|false)')


def check_index(value: Any) -> str:
    """An index name as Elasticsearch accepts it, or a ``<date-math>`` expression.

    Raises:
        TypeError: not a string.
        ValueError: empty, upper case, a forbidden character, a leading
            ``-``, ``_`` or ``+``, ``.`` or ``..``, or over 255 bytes.
    """
    if not isinstance(value, str):
        raise TypeError(f"index must be a string, got {value!r}")
    if value.startswith("<") and value.endswith(">") and len(value) > 2:
        return value  # date math, resolved by the cluster
    if (not value or value in (".", "..") or value[0] in "-_+" or value != value.lower()
            or _BAD_INDEX_CHARS.search(value) or len(value.encode("utf-8")) > 255):
        raise ValueError(
            f"index must be a valid index name (lower case, no \\ / * ? \" < > | space , # :, "
            f"not starting with - _ +), got {value!r}"
        )
    return value


class ElasticsearchFormat(Format):
    """``_bulk`` NDJSON for Elasticsearch and OpenSearch.

    The answer is read per record: a 2xx whose ``errors`` is false delivers
    the request; with ``errors`` true, ``items`` are matched to the records
    by position: a 2xx item is delivered, 409 (``version_conflict_engine_
    exception``: that id is stored already) is a duplicate, 429 and 5xx are
    retried, any other status fails the record with the item's
    ``error.type`` and reason. A 2xx answer that cannot be read is retried:
    ``create`` by id makes that safe. A whole request answered 429, 408 or
    5xx is retried (honouring ``Retry-After``), 413 is sent again in
    halves, any other status is final.

    Args:
        schema: renders a record as the JSON schema.
        index: the index or data stream for every action (default none:
            the URL's ``/<index>/_bulk`` names it).
    """

    name: ClassVar[str] = "elasticsearch"
    content_type: ClassVar[str] = "application/x-ndjson"
    options: ClassVar[FrozenSet[str]] = frozenset({"index"})

    def __init__(self, schema: Schema, **options: Any) -> None:
        super().__init__(schema, **options)
        index = options.get("index")
        self.index: Optional[str] = None if index is None else check_index(index)
        meta = {} if self.index is None else {"_index": self.index}
        self._action_start = b'{"create":' + dumps_bytes(meta)[:-1] + (b',"_id":' if meta else b'"_id":')

    # -- encode ---------------------------------------------------------------

    @staticmethod
    def document(fields: Mapping[str, Any]) -> bytes:
        """The document line: the schema with ``@timestamp`` first, and its newline."""
        data = dumps_bytes(fields)
        timestamp = fields.get("timestamp")
        if isinstance(timestamp, str) and len(data) > 2:
            # an ISO 8601 string made by the schema: nothing in it needs escaping
            return b'{"@timestamp":"' + timestamp.encode("ascii", "replace") + b'",' + data[1:] + b"\n"
        return data + b"\n"

    def encode(self, items: Sequence[Item], max_bytes: int, max_records: Optional[int]) -> List[Request]:
        record_id, start = self.schema.record_id, self._action_start
        parts: List[bytes] = []
        join = b"".join
        # the schema lines of the whole batch in one call (see _lines.py), then @timestamp put first
        for item, line in zip(items, json_lines(self.schema, items).split(b"\n")):
            action = start + encode_basestring_ascii(record_id(item)).encode("ascii") + b"}}\n"
            end = line.index(b'"', 14) + 1 if line.startswith(b'{"timestamp":"') else 0
            if end:
                part = join((action, b'{"@timestamp":', line[13:end], b",", line[1:], b"\n"))
            else:
                part = action + self.document(self.schema.fields(item))
            if len(part) > max_bytes:
                part = fit_encoded(item, self.schema, max_bytes, functools.partial(_with_action, action))
            parts.append(part)
        return [Request(run_items, b"".join(run)) for run_items, run in pack(items, parts, max_bytes, max_records)]

    # -- answer ---------------------------------------------------------------

    def read_answer(self, status: int, headers: Mapping[str, str], body: bytes, count: int) -> Answer:
        if not 200 <= status < 300:
            return super().read_answer(status, headers, body, count)
        found = _ERRORS.search(body, 0, 512)
        if found and found.group(1) == b"false" and body.find(b'"items"', 0, found.start()) < 0:
            return Answer.ok(count)
        try:
            data = loads(body)
            items = data["items"]
            if data.get("errors") is False:
                return Answer.ok(count)
            if not isinstance(items, list):
                raise TypeError("items is not a list")
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            return Answer.retry_all(count, f"HTTP {status}: unreadable _bulk answer ({exc})")
        return self._read_items(items, headers, count)

    def _read_items(self, items: List[Any], headers: Mapping[str, str], count: int) -> Answer:
        delivered: List[int] = []
        duplicates: List[int] = []
        retry: List[int] = []
        failed: Dict[int, str] = {}
        errors: List[str] = []
        for index in range(count):
            status, reason = item_outcome(items[index] if index < len(items) else None)
            if status is None or status == 429 or status >= 500:
                retry.append(index)
                errors.append(reason)
            elif 200 <= status < 300:
                delivered.append(index)
            elif status == 409:
                duplicates.append(index)
            else:
                failed[index] = reason
                errors.append(reason)
        retry_after = parse_retry_after(headers.get("Retry-After")) if retry else None
        error = f"{len(errors)} of {count} bulk item(s) not stored; first: {errors[0]}" if errors else None
        return Answer(delivered=delivered, retry=retry, failed=failed, duplicates=duplicates,
                      retry_after_s=retry_after, error=error)

    # -- decode ---------------------------------------------------------------

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        return [record for _, _, record in bulk_actions(body) if record is not None]

    @classmethod
    def receive(cls, body: bytes, path: str) -> Tuple[List[Dict[str, Any]], int, bytes]:
        """Decode a ``_bulk`` request; answer as Elasticsearch does when every action succeeds."""
        actions = bulk_actions(body)
        parts = [part for part in path.split("?", 1)[0].split("/") if part]
        path_index = parts[-2] if len(parts) >= 2 else None
        shards = {"total": 1, "successful": 1, "failed": 0}
        results = []
        for number, (op, meta, _) in enumerate(actions):
            index = meta.get("_index", path_index)
            result: Dict[str, Any] = {"_index": index} if index is not None else {}
            doc_id = meta.get("_id")
            result.update(_id=str(number) if doc_id is None else doc_id, _version=1, result="created", _shards=shards,
                          _seq_no=number, _primary_term=1, status=201)
            results.append({op: result})
        reply = dumps_bytes({"took": 1, "errors": False, "items": results})
        return [record for _, _, record in actions if record is not None], 200, reply


def _with_action(action: bytes, fields: Mapping[str, Any]) -> bytes:
    return action + ElasticsearchFormat.document(fields)


def item_outcome(item: Any) -> Tuple[Optional[int], str]:
    """``(status, reason)`` of one ``items`` entry (``{"create": {...}}``); None when unreadable."""
    result = next(iter(item.values()), None) if isinstance(item, dict) else None
    if not isinstance(result, dict) or type(result.get("status")) is not int:
        return None, "no readable item for this record in the _bulk answer"
    status: int = result["status"]
    error = result.get("error")
    if isinstance(error, dict):
        kind, reason = error.get("type", ""), error.get("reason", "")
        text = f"{kind}: {reason}" if reason else str(kind)
    else:
        text = str(error or "")
    return status, f"HTTP {status}: {text}"[:300] if text else f"HTTP {status}"


def bulk_actions(body: bytes) -> List[Tuple[str, Dict[str, Any], Optional[Dict[str, Any]]]]:
    """``(action, metadata, record)`` for each action of a ``_bulk`` body.

    ``record`` is the document as a schema record (``@timestamp`` dropped
    when it repeats ``timestamp``; ``record_id`` from ``_id`` when absent);
    None for ``delete``.

    Raises:
        ValueError: a line is not JSON, or an action lacks its document.
    """
    lines = iter([line for line in body.split(b"\n") if line.strip()])
    out: List[Tuple[str, Dict[str, Any], Optional[Dict[str, Any]]]] = []
    for line in lines:
        try:
            action = loads(line)
            op, meta = next(iter(action.items()))
            if op == "delete":
                out.append((op, meta, None))
                continue
            document = loads(next(lines))
        except StopIteration:
            raise ValueError(f"_bulk action {len(out) + 1} has no document line") from None
        except (AttributeError, ValueError, RecursionError) as exc:
            raise ValueError(f"_bulk action {len(out) + 1} is not valid: {exc}") from None
        if not isinstance(document, dict) or not isinstance(meta, dict):
            raise ValueError(f"_bulk action {len(out) + 1} is not an object")
        if "timestamp" in document or "@timestamp" not in document:
            document.pop("@timestamp", None)
        else:
            document["timestamp"] = document.pop("@timestamp")
        if "_id" in meta:
            document.setdefault("record_id", meta["_id"])
        out.append((op, meta, document))
    return out
