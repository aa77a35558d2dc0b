"""The scripted server's destination replies, read by each format's answer reader.

The handler-level tests script these replies; here each reader is held to
what they mean, record by record.
"""

from __future__ import annotations

from typing import Any, Tuple

from threaded_logging._transport import Answer
from threaded_logging.formats import format_class

from ..format_records import OPTIONS, schema
from ..integration.servers import es_items, hec_invalid, loki_error, otlp_partial


def read(name: str, reply: Tuple[int, Any, bytes], count: int) -> Answer:
    status, headers, body = reply
    return format_class(name)(schema(), **OPTIONS[name]).read_answer(status, headers, body, count)


class TestDestinationReplies:
    def test_es_items_by_position(self) -> None:
        """es_items(201, 409, 429, 400, 503) reads as delivered, duplicate, retry, failed, retry."""
        answer = read("elasticsearch", es_items(201, 409, 429, 400, 503, retry_after="2"), 5)
        assert (list(answer.delivered), list(answer.duplicates), list(answer.retry), list(answer.failed)) == ([0], [1], [2, 4], [3])
        assert "document_parsing_exception" in answer.failed[3] and answer.retry_after_s == 2.0

    def test_es_all_created(self) -> None:
        """es_items with only 2xx reads as every record delivered."""
        assert list(read("elasticsearch", es_items(201, 201), 2).delivered) == [0, 1]

    def test_otlp_partial_success(self) -> None:
        """otlp_partial(1) fails the last record with the message and delivers the others."""
        answer = read("otlp", otlp_partial(1, "attribute too long"), 3)
        assert list(answer.delivered) == [0, 1] and answer.failed == {2: "rejected by the receiver: attribute too long"}

    def test_hec_invalid_event(self) -> None:
        """hec_invalid(1) delivers record 0, fails record 1, retries the rest."""
        answer = read("splunk_hec", hec_invalid(1), 4)
        assert (list(answer.delivered), list(answer.failed), list(answer.retry)) == ([0], [1], [2, 3])

    def test_loki_errors(self) -> None:
        """loki_error(400) fails the request; loki_error(429) retries it after Retry-After."""
        assert sorted(read("loki", loki_error(400), 2).failed) == [0, 1]
        limited = read("loki", loki_error(429, retry_after="9"), 2)
        assert list(limited.retry) == [0, 1] and limited.retry_after_s == 9.0
