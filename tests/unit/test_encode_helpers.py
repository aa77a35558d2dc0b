"""Shared encoding helpers: exact nanoseconds and fitting a wrapped record into a limit."""

from __future__ import annotations

import json

import pytest

from threaded_logging._schema import dumps_bytes
from threaded_logging.transports._encode import MARKER, TRUNCATED_FIELD, created_ns, fit_encoded, pack

from ..format_records import make_item, schema


class TestCreatedNs:
    @pytest.mark.parametrize("created, nanos", [
        (1715412233.736937, "1715412233736937000"), (1714564800.0, "1714564800000000000"), (1714564800, "1714564800000000000"),
        (1714564800.1234567, "1714564800123457000"), (0.5, "500000000"), (1e-05, "10000"), (0.0, "0"),
        (1.8e10, "18000000000000000000"), (4102444800.000001, "4102444800000001000"),
    ])
    def test_exact_to_the_microsecond(self, created: float, nanos: str) -> None:
        """Nanoseconds are the microseconds created stands for, not float arithmetic's."""
        assert created_ns(created) == nanos

    def test_random_microsecond_times_until_2096(self) -> None:
        """For 20,000 random microsecond times from 2023 to 2096, the result is the decimal's exactly."""
        import random

        rng = random.Random(7)
        for _ in range(20_000):
            micros = rng.randrange(1_700_000_000_000_000, 4_000_000_000_000_000)
            created = float(f"{micros // 1_000_000}.{micros % 1_000_000:06d}")
            assert created_ns(created) == f"{micros}000"

    @pytest.mark.parametrize("created", [float("nan"), float("inf"), -1.25, 1.5e20])
    def test_not_an_unsigned_64_bit_time_is_zero(self, created: float) -> None:
        """NaN, infinities, times before 1970 or past 2554 give "0" (OTLP's fixed64 and Loki take no other)."""
        assert created_ns(created) == "0"


def wrapped(fields: dict) -> bytes:
    """A wrapper that escapes the record into a JSON string, as Loki does (quotes double)."""
    return json.dumps({"line": dumps_bytes(fields).decode()}).encode()


class TestFitEncoded:
    def test_escaped_record_fits(self) -> None:
        """A message of quotes, which escaping doubles, is cut until the wrapped record fits."""
        item = make_item(msg='"' * 20_000, args=())
        data = fit_encoded(item, schema(), 5000, wrapped)
        fields = json.loads(json.loads(data)["line"])
        assert len(data) <= 5000 and fields["message"].endswith(MARKER) and fields[TRUNCATED_FIELD] == 20_000
        assert len(fields["message"]) > 1000  # not cut more than needed

    def test_huge_extras_keep_the_message_start(self) -> None:
        """When extras alone are too large, the essentials and the message's start remain."""
        item = make_item(msg="important " * 100, args=(), extra={"blob": "z" * 50_000})
        fields = json.loads(json.loads(fit_encoded(item, schema(), 2000, wrapped))["line"])
        assert set(fields) == {"timestamp", "created", "level", "logger", "host", "record_id", "message", TRUNCATED_FIELD}
        assert fields["message"].startswith("important important") and fields["message"].endswith(MARKER)


class TestPack:
    @staticmethod
    def greedy(parts: list, max_bytes: int, max_records: object) -> list:
        """The rule, one part at a time: a run takes parts while they fit; a part too large goes alone."""
        runs: list = []
        size = 0
        for part in parts:
            if runs and runs[-1] and (size + len(part) > max_bytes or len(runs[-1]) >= (max_records or len(parts))):
                runs.append([])
                size = 0
            if not runs:
                runs.append([])
            runs[-1].append(part)
            size += len(part)
        return runs

    def test_runs_are_the_greedy_ones(self) -> None:
        """For 2,000 random batches (parts larger than the limit, a record limit, empty
        batches), the runs are those of taking parts one by one, items beside their parts."""
        import random

        rng = random.Random(11)
        for _ in range(2_000):
            parts = [b"x" * rng.choice([0, 1, 5, 40, 99, 100, 101, 250]) for _ in range(rng.randrange(0, 30))]
            items = list(range(len(parts)))
            max_bytes, max_records = rng.choice([1, 100, 250, 1000]), rng.choice([None, 1, 3, 50])
            got = pack(items, parts, max_bytes, max_records)  # type: ignore[arg-type]
            assert [run for _, run in got] == self.greedy(parts, max_bytes, max_records)
            assert [i for run_items, _ in got for i in run_items] == items
            assert all(len(run_items) == len(run) for run_items, run in got)

