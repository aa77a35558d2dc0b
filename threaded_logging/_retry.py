"""Outcome classification and backoff: pure functions, no I/O.

Every transport maps what happened to one :class:`Outcome`; the handler's send
loop decides the next step from it alone.
"""

from __future__ import annotations

import enum
import random
from email.utils import parsedate_to_datetime
import time

#: First backoff step and the ceiling of any single wait, in seconds.
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 30.0


class Outcome(enum.Enum):
    """The send loop's next step after one attempt."""

    DELIVERED = "delivered"  #: acknowledged by the destination
    RETRY = "retry"  #: transient: wait and send the same again
    SPLIT = "split"  #: too large: halve the batch and send each half
    FINAL = "final"  #: rejected for good: count as failed


def classify_status(status: int) -> Outcome:
    """Map an HTTP status to the send loop's next step."""
    if status == 413:
        return Outcome.SPLIT
    if status in (408, 429) or status >= 500:
        return Outcome.RETRY
    return Outcome.DELIVERED if status < 400 else Outcome.FINAL


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
