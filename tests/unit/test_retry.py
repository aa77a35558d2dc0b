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
            (302, Outcome.DELIVERED),
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
        """408/429/5xx retry, 413 splits, other 4xx are final."""
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
