"""What every body format of ``ThreadedHttpHandler(method="POST")`` provides."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Sequence

from .._retry import parse_retry_after
from .._schema import Schema
from .._snapshot import Item
from .._transport import Answer, Request


def default_retryable(status: int) -> bool:
    """HTTP 408, 429 and 5xx are worth another try."""
    return status in (408, 429) or status >= 500


class Format:
    """One destination protocol: body encoding, answer reading, decoding.

    The three methods mirror each other: :meth:`encode` turns records into
    request bodies, :meth:`read_answer` turns the destination's response
    into per-record outcomes, and :meth:`decode` turns a body back into
    schema records (the collector and the tests use it). Subclasses set the
    class attributes and override what differs.

    Args:
        schema: renders a record as the JSON schema (``schema.fields(item)``,
            ``schema.record_id(item)``).
        **options: the format's own options (names in :attr:`options`).
    """

    #: The ``format=`` value.
    name: ClassVar[str] = ""
    #: The request's Content-Type.
    content_type: ClassVar[str] = "application/json"
    #: Format-specific option names ``ThreadedHttpHandler`` accepts.
    options: ClassVar[FrozenSet[str]] = frozenset()
    #: Statuses that mean "too large": the records are sent again in halves.
    split_statuses: ClassVar[FrozenSet[int]] = frozenset({413})
    #: One record per request (the stdlib form).
    one_per_request: ClassVar[bool] = False

    def __init__(self, schema: Schema, **options: Any) -> None:
        unknown = set(options) - self.options
        if unknown:
            raise TypeError(f"option(s) {', '.join(sorted(unknown))} do not apply to format={self.name!r}")
        self.schema = schema

    def headers(self) -> Dict[str, str]:
        """Headers every request of this format carries (besides Content-Type)."""
        return {}

    def is_retryable(self, status: int) -> bool:
        """Whether a non-2xx status is worth another try (a pure predicate)."""
        return default_retryable(status)

    def encode(self, items: Sequence[Item], max_bytes: int, max_records: Optional[int]) -> List[Request]:
        """Requests of at most ``max_bytes`` body bytes and ``max_records``
        records, in logged order; ``Request.body`` is the (uncompressed) body."""
        raise NotImplementedError

    def read_answer(self, status: int, headers: Mapping[str, str], body: bytes, count: int) -> Answer:
        """Per-record outcomes from the destination's response to ``count`` records.

        The default reads the status alone: 2xx delivered, a split status
        halves the request, a retryable status retries (honouring
        ``Retry-After``), anything else fails every record.
        """
        if 200 <= status < 300:
            return Answer.ok(count)
        error = http_error(status, body)
        if status in self.split_statuses:
            return Answer.too_large(count, error)
        if self.is_retryable(status):
            return Answer.retry_all(count, error, parse_retry_after(headers.get("Retry-After")))
        return Answer.fail_all(count, error)

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        """The schema records in a body of this format (for the collector and tests).

        Raises:
            ValueError: the body is not of this format.
        """
        raise NotImplementedError


def http_error(status: int, body: bytes) -> str:
    """``"HTTP 503: <start of the body>"``."""
    text = body[:200].decode("utf-8", "replace").strip()
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"
