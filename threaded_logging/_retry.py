"""Outcome classification, backoff and retry state: pure functions and values, no I/O.

A transport maps a status or an exception to an :class:`Outcome`; the send
loop keeps one :class:`RetryState` per batch in flight and asks it, after
each round, when to send the records left open again, or whether to give up.
"""

from __future__ import annotations

import enum
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable, FrozenSet, Optional, Union

#: First backoff step and the ceiling of any single wait, in seconds.
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 30.0


class Outcome(enum.Enum):
    """The send loop's next step after one attempt."""

    DELIVERED = "delivered"  #: acknowledged by the destination
    RETRY = "retry"  #: transient: wait and send the same again
    SPLIT = "split"  #: too large: halve the batch and send each half
    FINAL = "final"  #: rejected for good: count as failed


def default_retryable(status: int) -> bool:
    """HTTP 408, 429 and 5xx are worth another try."""
    return status in (408, 429) or status >= 500


def classify_status(status: int, retryable: Callable[[int], bool] = default_retryable,
                    split: FrozenSet[int] = frozenset({413})) -> Outcome:
    """Map an HTTP status to the send loop's next step.

    Args:
        status: the response's status.
        retryable: which other statuses are worth another try (a format's own set).
        split: which statuses mean "too large".
    """
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in split:
        return Outcome.SPLIT
    return Outcome.RETRY if retryable(status) else Outcome.FINAL


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date).

    Returns None when the header is absent or unparsable; never negative.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    rng: random.Random | None = None,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
) -> float:
    """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` >= 1).

    Exponential with full jitter over the upper half, so that many processes
    recovering together do not retry in lockstep. A server's ``Retry-After``
    wins when it asks for longer, still capped.
    """
    ceiling = min(cap_s, base_s * (2 ** min(attempt - 1, 30)))
    chooser = rng if rng is not None else random
    delay: float = ceiling / 2 + chooser.random() * ceiling / 2
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap_s * 4))
    return delay


@dataclass(frozen=True)
class GiveUp:
    """The records left open are failed for good."""

    reason: str


@dataclass(frozen=True)
class RetryState:
    """When the open records of one batch are sent next, and until when.

    A value: :meth:`next` returns the state after another failed round, or
    :class:`GiveUp`. Times are ``time.monotonic()`` values.

    Attributes:
        attempts: failed rounds so far.
        next_at: no send before this time.
        give_up_at: fail the records rather than wait past this time; None
            retries for ever (records that wait in the spool).
        limit_s: ``max_retry_time``, for the give-up reason.
    """

    attempts: int = 0
    next_at: float = 0.0
    give_up_at: Optional[float] = None
    limit_s: Optional[float] = None

    @classmethod
    def start(cls, now: float, limit_s: Optional[float]) -> "RetryState":
        """A fresh batch, first sent now; retried for ``limit_s`` seconds at most (None: for ever)."""
        return cls(0, now, None if limit_s is None else now + limit_s, limit_s)

    def next(self, now: float, retry_after_s: Optional[float] = None,
             rng: Optional[random.Random] = None) -> Union["RetryState", GiveUp]:
        """The state after one more failed round at ``now``.

        The wait grows exponentially with jitter (:func:`backoff_delay`) and
        honours the destination's ``retry_after_s``; when it would end past
        ``give_up_at`` the answer is :class:`GiveUp`.
        """
        attempts = self.attempts + 1
        delay = backoff_delay(attempts, retry_after_s, rng=rng)
        if self.give_up_at is not None and now + delay > self.give_up_at:
            return GiveUp(f"gave up after {attempts} attempt(s) in {self.limit_s or 0:g} s (max_retry_time)")
        return RetryState(attempts, now + delay, self.give_up_at, self.limit_s)
