"""The 0.1 subclass hooks, kept working: ``prepare``, ``send``, ``close_transport``.

A :class:`~threaded_logging.ThreadedHandler` subclass that defines
``send(chunk, timeout_s) -> Attempt`` (and optionally ``prepare(items) ->
chunks``, ``classify_exception``, ``describe_failure``, ``close_transport``,
``reset_transport``) is driven through :class:`HookTransport`. New code
writes a :class:`~threaded_logging.Transport` instead (see docs/transports.rst).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, NamedTuple, Optional, Sequence

from ._retry import Outcome
from ._snapshot import Item
from ._transport import Answer, Request, Transport

if TYPE_CHECKING:
    from ._handler import ThreadedHandler


class Chunk:
    """Records sent in one request, with the transport's encoding of each."""

    __slots__ = ("items", "payloads")

    def __init__(self, items: List[Item], payloads: Optional[List[Any]] = None) -> None:
        self.items = items
        self.payloads = payloads


class Attempt(NamedTuple):
    """What one send attempt achieved.

    ``outcome`` applies to the whole chunk unless ``pending`` is given: then
    the indices in ``sent`` were delivered, those in ``rejected`` failed and
    those in ``pending`` are sent again.
    """

    outcome: Outcome
    error: Optional[str] = None
    retry_after: Optional[float] = None
    sent: Sequence[int] = ()
    rejected: Sequence[int] = ()
    pending: Optional[Sequence[int]] = None


class HookTransport(Transport):
    """Drives a handler subclass written against the 0.1 hooks."""

    def __init__(self, handler: "ThreadedHandler") -> None:
        super().__init__()
        self._handler = handler

    def encode(self, items: Sequence[Item]) -> List[Request]:
        prepare = getattr(self._handler, "prepare", None)
        chunks = prepare(list(items)) if prepare is not None else [Chunk(list(items))]
        return [Request(chunk.items, chunk) for chunk in chunks]

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        attempt: Attempt = self._handler.send(request.body, timeout_s)  # type: ignore[attr-defined]
        count = len(request.items)
        if attempt.pending is None:
            return Answer.of(attempt.outcome, count, attempt.error or attempt.outcome.value, attempt.retry_after)
        reason = attempt.error or "rejected"
        return Answer(delivered=list(attempt.sent), retry=list(attempt.pending),
                      failed=dict.fromkeys(attempt.rejected, reason), retry_after_s=attempt.retry_after,
                      error=attempt.error)

    def classify_exception(self, exc: BaseException) -> Outcome:
        hook = getattr(self._handler, "classify_exception", None)
        return hook(exc) if hook is not None else super().classify_exception(exc)

    def describe_failure(self, exc: BaseException) -> str:
        hook = getattr(self._handler, "describe_failure", None)
        return str(hook(exc)) if hook is not None else super().describe_failure(exc)

    def close(self) -> None:
        hook = getattr(self._handler, "close_transport", None)
        if hook is not None:
            hook()

    def after_fork(self) -> None:
        hook = getattr(self._handler, "reset_transport", None)
        if hook is not None:
            hook()

    def describe(self) -> str:
        from ._handler import ThreadedHandler

        if type(self._handler).describe is not ThreadedHandler.describe:
            return self._handler.describe()
        return type(self._handler).__name__
