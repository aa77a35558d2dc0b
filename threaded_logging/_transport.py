"""The seam between the send loop and a destination: Transport, Request, Answer.

A :class:`Transport` turns a batch of records into requests, sends one
request at a time and says, for each record in it, what became of it: an
:class:`Answer`. The send loop (``_pipeline.py``) owns everything else:
batching, retries and their timing, the spool, counters and ``flush()``.
Everything a transport does runs on the handler's timer thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence

from ._retry import Outcome
from ._schema import Schema

if TYPE_CHECKING:
    from ._snapshot import Item


class Request:
    """Records sent in one request, and the transport's encoding of them.

    Args:
        items: the records, in logged order.
        body: whatever the transport's :meth:`Transport.send` needs (bytes
            for HTTP, entries for SQS...).
    """

    __slots__ = ("items", "body")

    def __init__(self, items: Sequence["Item"], body: Any = None) -> None:
        self.items = items
        self.body = body

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"<Request of {len(self.items)} record(s)>"


@dataclass(frozen=True)
class Answer:
    """What the destination said about each record of one request.

    Indices are positions in :attr:`Request.items`. Each index belongs to
    exactly one of ``delivered``, ``duplicates`` (stored already: counted as
    delivered and in ``duplicates``), ``retry`` (sent again after a backoff)
    and ``failed`` (rejected for good, with the reason). An index the answer
    does not mention is sent again, so a transport bug can duplicate a
    record but never lose one.

    Attributes:
        delivered: records the destination stored.
        retry: records to send again.
        failed: index -> reason, for records rejected for good.
        duplicates: records the destination had already stored.
        retry_after_s: the destination asked to wait this long (seconds).
        split: the request was too large: its ``retry`` records are sent
            again at once in smaller requests (a single record is failed).
        error: what went wrong, for ``stats()["last_error"]`` and stderr.
    """

    delivered: Sequence[int] = ()
    retry: Sequence[int] = ()
    failed: Mapping[int, str] = field(default_factory=dict)
    duplicates: Sequence[int] = ()
    retry_after_s: Optional[float] = None
    split: bool = False
    error: Optional[str] = None

    @classmethod
    def ok(cls, count: int) -> "Answer":
        """Every one of ``count`` records delivered."""
        return cls(delivered=range(count))

    @classmethod
    def retry_all(cls, count: int, error: str, retry_after_s: Optional[float] = None) -> "Answer":
        """Every record to be sent again after a backoff."""
        return cls(retry=range(count), retry_after_s=retry_after_s, error=error)

    @classmethod
    def fail_all(cls, count: int, reason: str) -> "Answer":
        """Every record rejected for good."""
        return cls(failed=dict.fromkeys(range(count), reason), error=reason)

    @classmethod
    def too_large(cls, count: int, error: str) -> "Answer":
        """The request was too large: send its records again in smaller requests."""
        return cls(retry=range(count), split=True, error=error)

    @classmethod
    def of(cls, outcome: Outcome, count: int, error: str, retry_after_s: Optional[float] = None) -> "Answer":
        """The same outcome for every record of a request."""
        if outcome is Outcome.DELIVERED:
            return cls.ok(count)
        if outcome is Outcome.RETRY:
            return cls.retry_all(count, error, retry_after_s)
        if outcome is Outcome.SPLIT:
            return cls.too_large(count, error)
        return cls.fail_all(count, error)

    @property
    def all_delivered(self) -> bool:
        """True when nothing is retried or failed."""
        return not self.retry and not self.failed


class Transport:
    """One destination; subclass it and override :meth:`send` (at least).

    The handler that takes a transport sets :attr:`schema`, which renders a
    record as the JSON schema (``schema.fields(item)``, ``record_id``
    included). Every method runs on the handler's timer thread only (or on
    the closing thread, once that thread has ended).

    A minimal transport::

        class PrintTransport(Transport):
            def send(self, request, timeout_s):
                for item in request.items:
                    print(dumps(self.schema.fields(item)))
                return Answer.ok(len(request))

        handler = ThreadedHandler(transport=PrintTransport())
    """

    schema: Schema

    def __init__(self) -> None:
        self.schema = Schema()

    def encode(self, items: Sequence["Item"]) -> Iterable[Request]:
        """Group ``items`` into requests, in order, within the destination's limits.

        The requests' items, concatenated, must be ``items`` in the same
        order. The default sends the batch as one request with no body.
        """
        return [Request(items)]

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        """Send one request; return the destination's answer, or raise.

        ``timeout_s`` is the time left before ``close()``'s deadline (None
        when not closing): do not block longer. An exception is turned into
        an answer for every record by :meth:`classify_exception`.
        """
        raise NotImplementedError

    def classify_exception(self, exc: BaseException) -> Outcome:
        """Whether an exception from :meth:`send` is worth a retry (a pure function).

        The default retries ``OSError`` (connection errors, timeouts) and
        gives up on anything else.
        """
        return Outcome.RETRY if isinstance(exc, OSError) else Outcome.FINAL

    def describe_failure(self, exc: BaseException) -> str:
        """The text of an exception for ``last_error`` and stderr (never secrets)."""
        return describe_error(exc)

    def close(self) -> None:
        """Release connections or files (called once, by ``close()``)."""

    def after_fork(self) -> None:
        """In a forked child: drop what belongs to the parent (sockets, files)."""

    def describe(self) -> str:
        """The destination, for messages and the spool's identity (never secrets)."""
        return type(self).__name__


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` for an exception, without repeating the type."""
    text = str(exc) or type(exc).__name__
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"

