"""Outcome classification, Retry-After parsing and backoff."""

from __future__ import annotations

import random

import pytest

from threaded_logging._retry import Outcome, backoff_delay, classify_status, parse_retry_after


class TestClassifyStatus:
    @pytest.mark.parametrize(
        ("status", "outcome"),
        [
            (200, Outcome.DELIVERED),
            (204, Outcome.DELIVERED),
            (302, Outcome.FINAL),
            (400, Outcome.FINAL),
            (401, Outcome.FINAL),
            (404, Outcome.FINAL),
            (408, Outcome.RETRY),
            (413, Outcome.SPLIT),
            (429, Outcome.RETRY),
            (500, Outcome.RETRY),
            (503, Outcome.RETRY),
        ],
    )
    def test_status_maps_to_next_step(self, status: int, outcome: Outcome) -> None:
        """2xx delivered; 408/429/5xx retry; 413 splits; other 4xx, and a redirect left unfollowed, are final."""
        assert classify_status(status) is outcome


class TestRetryAfter:
    def test_delta_seconds(self) -> None:
        """A number of seconds is taken as is."""
        assert parse_retry_after("3") == 3.0

    def test_http_date(self) -> None:
        """An HTTP date is turned into seconds from now."""
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412485.0) == pytest.approx(5.0)

    @pytest.mark.parametrize("value", [None, "", "soon", "-5"])
    def test_garbage_is_ignored(self, value: object) -> None:
        """An absent or unparsable header gives None."""
        assert parse_retry_after(value) is None  # type: ignore[arg-type]


class TestBackoff:
    def test_grows_exponentially_within_jitter(self) -> None:
        """Each step's delay lies in the upper half of base * 2**(n-1)."""
        rng = random.Random(7)
        for attempt in range(1, 8):
            ceiling = min(30.0, 0.2 * 2 ** (attempt - 1))
            delay = backoff_delay(attempt, rng=rng)
            assert ceiling / 2 <= delay <= ceiling

    def test_is_capped(self) -> None:
        """No single wait exceeds the cap however many attempts were made."""
        assert backoff_delay(100, rng=random.Random(1)) <= 30.0

    def test_retry_after_wins_when_longer(self) -> None:
        """A server's Retry-After sets a floor on the delay."""
        assert backoff_delay(1, 4.0, rng=random.Random(1)) == 4.0


class TestRetryState:
    def test_waits_grow_and_honour_retry_after(self) -> None:
        """Each failed round waits longer (with jitter), and at least what the destination asked."""
        import random

        from threaded_logging._retry import RetryState

        rng = random.Random(7)
        state = RetryState.start(100.0, None)
        waits = []
        for _ in range(5):
            nxt = state.next(100.0, rng=rng)
            assert isinstance(nxt, RetryState)
            waits.append(nxt.next_at - 100.0)
            state = nxt
        assert waits == sorted(waits) and state.attempts == 5
        asked = RetryState.start(100.0, None).next(100.0, retry_after_s=7.0, rng=rng)
        assert isinstance(asked, RetryState) and asked.next_at - 100.0 >= 7.0

    def test_gives_up_when_the_next_wait_ends_past_the_limit(self) -> None:
        """With max_retry_time, a wait that would end past the limit gives up instead, naming it."""
        from threaded_logging._retry import GiveUp, RetryState

        state = RetryState.start(0.0, 1.0)
        first = state.next(0.0, retry_after_s=0.5)
        assert isinstance(first, RetryState)
        verdict = first.next(0.9, retry_after_s=0.5)
        assert isinstance(verdict, GiveUp) and "in 1 s (max_retry_time)" in verdict.reason
        forever = RetryState.start(0.0, None).next(1e9, retry_after_s=100.0)
        assert isinstance(forever, RetryState), "without a limit (the spool) it never gives up"

    def test_a_state_is_a_value(self) -> None:
        """next() returns a new state and leaves the old one as it was."""
        from threaded_logging._retry import RetryState

        state = RetryState.start(5.0, 10.0)
        state.next(5.0)
        assert state == RetryState(0, 5.0, 15.0, 10.0)
