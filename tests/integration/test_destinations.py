"""Handlers built from the docs' destination examples, and per-record answers end to end.

These need ThreadedHttpHandler to take format options and max_batch_records
and to settle each record by the format's answer (SPEC §8, §10).
"""

from __future__ import annotations

import json
import logging.config
from pathlib import Path
from typing import Any, Dict, List

import pytest

from threaded_logging import ThreadedHttpHandler
from threaded_logging.cli.collector import Collector

from ..helpers import make_logger
from .servers import Scripted, es_items, hec_invalid, loki_error, otlp_partial


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "examples" / "destinations").glob("*.json"))


def local(path: Path, address: str) -> Dict[str, Any]:
    """The example pointed at a loopback server over plain http, without credentials."""
    config: Dict[str, Any] = json.loads(path.read_text())
    handler = config["handlers"]["ship"]
    handler.update(host=address, secure=False, flush_interval=50)
    handler.pop("credentials", None)
    return config


def handlers() -> List[ThreadedHttpHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, ThreadedHttpHandler)]


class TestDestinationExamples:
    @pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
    def test_example_ships_to_the_collector(self, path: Path, collector: Collector) -> None:
        """Each docs example, pointed at the collector, delivers a record with its message, level and extras."""
        logging.config.dictConfig(local(path, collector.address))
        logging.getLogger("billing.invoices").warning("invoice %d sent", 12, extra={"invoice": 12})
        assert all(h.flush(timeout=10) for h in handlers())
        [record] = collector.records
        assert (record["message"], record["level"], record["logger"], record["invoice"]) == (
            "invoice 12 sent", "WARNING", "billing.invoices", 12)
        assert handlers()[0].stats()["sent"] == 1


def ship(scripted: Scripted, name: str, url: str, count: int, **options: Any) -> ThreadedHttpHandler:
    handler = ThreadedHttpHandler(scripted.address, url, method="POST", format=name, flush_interval=20,
                                  batch_size=count, max_retry_time=5, **options)
    logger = make_logger(f"destinations.{name}", handler)
    for i in range(count):
        logger.info("n=%d", i)
    handler.flush(timeout=10)  # False when a record failed: the tests read stats() instead
    return handler


class TestPartialAnswers:
    def test_elasticsearch_items(self, scripted: Scripted) -> None:
        """_bulk items 201, 409, 400, 429: two delivered (one a duplicate), one failed, one retried then delivered."""
        scripted.script = [es_items(201, 409, 400, 429), es_items(201)]
        stats = ship(scripted, "elasticsearch", "/logs/_bulk", 4).stats()
        assert (stats["sent"], stats["duplicates"], stats["failed"]) == (3, 1, 1)
        assert [r["message"] for r in scripted.records] == ["n=0", "n=3"]

    def test_otlp_partial_success(self, scripted: Scripted) -> None:
        """partialSuccess of 1 fails one record and retries none."""
        scripted.script = [otlp_partial(1, "too old")]
        stats = ship(scripted, "otlp", "/v1/logs", 3).stats()
        assert (stats["sent"], stats["failed"], len(scripted.attempts)) == (2, 1, 1)

    def test_splunk_invalid_event(self, scripted: Scripted) -> None:
        """invalid-event-number 1: record 0 delivered, record 1 failed, records 2 and 3 sent again and delivered."""
        scripted.script = [hec_invalid(1), 200]
        stats = ship(scripted, "splunk_hec", "/services/collector/event", 4, token="t").stats()
        assert (stats["sent"], stats["failed"]) == (3, 1)
        assert [r["message"] for r in scripted.records] == ["n=0", "n=2", "n=3"]

    def test_loki_400_and_429(self, scripted: Scripted) -> None:
        """429 retries the request after Retry-After; 400 fails it whole."""
        scripted.script = [loki_error(429, retry_after="0"), 204, loki_error(400)]
        first = ship(scripted, "loki", "/loki/api/v1/push", 2)
        assert first.stats()["sent"] == 2
        second = ship(scripted, "loki", "/loki/api/v1/push", 2)
        assert second.stats()["failed"] == 2
