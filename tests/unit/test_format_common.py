"""What every destination format promises: order, size limits, truncation, bad input."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from threaded_logging.formats import FORMAT_OPTIONS, Format, format_class
from threaded_logging.transports._encode import MARKER, TRUNCATED_FIELD

from ..format_records import NEW_FORMATS, OPTIONS, bad_items, make_item, make_items, schema


def new_format(name: str, **static: Any) -> Format:
    return format_class(name)(schema(**static), **OPTIONS[name])


@pytest.fixture(params=NEW_FORMATS)
def fmt(request: pytest.FixtureRequest) -> Format:
    """Each new destination format, with the options it needs."""
    return new_format(request.param)


pytestmark = pytest.mark.usefixtures("encoder")


class TestRegistry:
    @pytest.mark.parametrize("name", NEW_FORMATS)
    def test_registered(self, name: str) -> None:
        """format=<name> finds the format, and the handler passes it every option it takes."""
        cls = format_class(name)
        assert cls.name == name and cls.options <= FORMAT_OPTIONS


class TestEncodeContract:
    def test_requests_keep_logged_order_within_limits(self, fmt: Format) -> None:
        """Requests hold the records in logged order, each within max_bytes and max_records."""
        items = [make_item(i + 1, msg="n=%d " + "x" * (i % 7) * 40, args=(i,), name=f"app.{i % 3}",
                           level=(10, 20, 30, 40)[i % 4], created=1715412233.5 + i / 1000) for i in range(60)]
        requests = fmt.encode(items, 4096, 7)
        assert [item for request in requests for item in request.items] == items
        assert all(len(request.body) <= 4096 and len(request.items) <= 7 for request in requests)
        assert len(requests) >= 60 // 7
        decoded = [record for request in requests for record in type(fmt).decode(request.body)]
        assert [record["message"] for record in decoded] == [item[2] for item in items]
        assert [record["record_id"] for record in decoded] == [f"0123456789abcdef-{i + 1}" for i in range(60)]

    def test_no_records_no_requests(self, fmt: Format) -> None:
        """An empty batch gives no request."""
        assert fmt.encode([], 4096, None) == []

    def test_a_record_larger_than_max_bytes_is_cut(self, fmt: Format) -> None:
        """A record above max_bytes goes alone, cut to fit, its message ending with the marker and truncated set."""
        items = [make_item(1, msg="small", args=()), make_item(2, msg="y" * 50_000, args=(), exc=True),
                 make_item(3, msg="after", args=())]
        requests = fmt.encode(items, 8192, None)
        assert [item for request in requests for item in request.items] == items
        assert all(len(request.body) <= 8192 for request in requests)
        big = [record for request in requests for record in type(fmt).decode(request.body) if record.get(TRUNCATED_FIELD)]
        assert len(big) == 1 and big[0]["message"].endswith(MARKER) and big[0][TRUNCATED_FIELD] == 50_000
        assert big[0]["message"].startswith("yyyy") and big[0]["record_id"] == "0123456789abcdef-2"

    def test_huge_extras_keep_the_essentials(self, fmt: Format) -> None:
        """A record whose extras alone exceed max_bytes still goes, with its level, logger and message start."""
        item = make_item(1, msg="keep me", args=(), extra={"blob": "z" * 30_000, "more": ["w" * 100] * 100})
        requests = fmt.encode([item], 4096, None)
        assert len(requests) == 1 and len(requests[0].body) <= 4096
        record = type(fmt).decode(requests[0].body)[0]
        assert record["message"].startswith("keep") and record["level"] == "INFO" and record[TRUNCATED_FIELD] == 7

    @pytest.mark.parametrize("case", sorted(bad_items()))
    def test_bad_input_gives_a_valid_body(self, fmt: Format, case: str) -> None:
        """A 5 MB message, a cyclic dict, lone surrogates, NaN, huge ints, bytes and more still make a body the decoder reads."""
        item = bad_items()[case]
        requests = fmt.encode([item], 1 << 20, None)
        assert len(requests) == 1 and len(requests[0].body) <= 1 << 20
        requests[0].body.decode("utf-8")  # strict: no lone surrogate reached the bytes
        records = type(fmt).decode(requests[0].body)
        assert len(records) == 1 and records[0]["record_id"] == f"0123456789abcdef-{item[0]}"
        assert records[0]["level"] == logging.getLevelName(item[1].levelno)

    def test_many_records_in_one_request(self, fmt: Format) -> None:
        """Without limits that bind, 500 records make one request."""
        requests = fmt.encode(make_items(500), 1 << 20, None)
        assert len(requests) == 1 and len(type(fmt).decode(requests[0].body)) == 500


class TestTimestamps:
    @pytest.mark.parametrize("name", ["loki", "otlp"])
    def test_nanoseconds_are_exact(self, name: str) -> None:
        """The nanosecond time is created's microseconds exactly (six decimals, no float rounding)."""
        from ..format_records import CREATED_NS

        body = new_format(name).encode([make_item()], 1 << 20, None)[0].body
        assert f'"{CREATED_NS}"'.encode() in body

    @pytest.mark.parametrize("name", ["elasticsearch", "splunk_hec"])
    def test_seconds_keep_their_decimals(self, name: str) -> None:
        """created goes out unchanged (HEC time, the document's created)."""
        body = new_format(name).encode([make_item()], 1 << 20, None)[0].body
        assert b"1715412233.736937" in body


class TestDecodeRefusesOtherBodies:
    @pytest.mark.parametrize("name", NEW_FORMATS)
    @pytest.mark.parametrize("body", [b"\xff\xfe", b"{not json", b"[1, 2]", b'"text"'])
    def test_garbage_is_refused(self, name: str, body: bytes) -> None:
        """Bodies that are not the format raise ValueError (the collector answers 400), never another error."""
        with pytest.raises(ValueError):
            format_class(name).decode(body)
