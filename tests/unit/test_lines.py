"""The worker's fast JSON lines: byte for byte what the schema dict encodes to."""

from __future__ import annotations

import datetime
import json
import logging
import math
import sys
from typing import Any, Callable, List

import pytest

from threaded_logging._lines import json_lines
from threaded_logging._schema import Schema, dumps_bytes
from threaded_logging.transports._encode import cut_lines


pytestmark = pytest.mark.usefixtures("encoder")


def logged(**extra: Any) -> logging.LogRecord:
    """A record made as ``logger.info("request %s done", "x", extra=extra)`` makes it."""
    logger = logging.getLogger("lines.test")
    reserved = {key: extra.pop(key) for key in ("message", "asctime") if key in extra}  # makeRecord refuses them
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 7, "request %s done", ("x",), None, "f", extra or None)
    record.__dict__.update(reserved)
    return record


def changed(change: Callable[[logging.LogRecord], None], **extra: Any) -> logging.LogRecord:
    record = logged(**extra)
    change(record)
    return record


def expected(schema: Schema, items: List[tuple]) -> bytes:
    return b"".join(dumps_bytes(schema.fields(item)) + b"\n" for item in items)


def check(*records: logging.LogRecord, schema: Schema | None = None, aux: Any = None) -> List[dict]:
    """json_lines equals the general path for these records; returns the decoded lines."""
    schema = schema or Schema()
    items = [(i + 1, r, r.getMessage() if isinstance(r.msg, str) else str(r.msg), aux) for i, r in enumerate(records)]
    body = json_lines(schema, items)
    assert body == expected(schema, items)
    return [json.loads(line) for line in body.splitlines()]


def _del_and_readd(record: logging.LogRecord, *names: str) -> None:
    for name in names:
        value = getattr(record, name)
        delattr(record, name)
        setattr(record, name, value)


class TestJsonLines:
    def test_typical_record_with_and_without_extras(self) -> None:
        """A logger.info record, with an extra and without, renders as the schema dict does."""
        with_extra, plain = check(logged(user="u"), logged())
        assert with_extra["user"] == "u" and list(with_extra)[-1] == "user"
        assert "user" not in plain and list(plain)[-1] == "record_id"

    def test_extras_keep_the_record_order(self) -> None:
        """Several extras come out in the order the record holds them."""
        (out,) = check(logged(b="1", a=2, c=None, d=True, e=1.25, f=False))
        assert list(out)[-6:] == ["b", "a", "c", "d", "e", "f"]

    @pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70, math.nan, math.inf, -math.inf, 1e-7, 1e22,
                                       0.1, -0.0, {"a": [1, 2]}, [1, "x"], (1, 2), {"k"}, object(), b"\xff",
                                       datetime.date(2024, 1, 2), "é\u2028\x00\x1f\"\\", ""])
    def test_every_kind_of_extra_value(self, value: object) -> None:
        """Extras of every type render exactly as the general path renders them."""
        check(logged(value=value), logged(user="u"))

    @pytest.mark.parametrize("name", ["host", "level", "record_id", "exception", "stack", "extra_host", "app", "message",
                                      "asctime", "taskName"])
    def test_extra_names_that_collide_or_are_reserved(self, name: str) -> None:
        """Extras named like schema keys, static fields or formatter attributes follow the general rules."""
        check(logged(**{name: "v"}), schema=Schema({"app": "static"}))

    def test_record_id_extra_equal_to_the_id_is_dropped(self) -> None:
        """An extra record_id equal to the record's own id is not repeated, as in the general path."""
        schema = Schema()
        record = logged()
        record.record_id = schema.id_prefix + "1"
        (out,) = check(record, schema=schema)
        assert "extra_record_id" not in out

    def test_static_fields_come_last(self) -> None:
        """Static fields follow the extras, and a static value JSON cannot hold still renders."""
        (out,) = check(logged(user="u"), schema=Schema({"app": "a", "n": 1, "odd": object()}))
        assert list(out)[-4:] == ["user", "app", "n", "odd"]

    @pytest.mark.parametrize("change", [
        lambda r: _del_and_readd(r, "msg"),
        lambda r: _del_and_readd(r, "process"),
        lambda r: (_del_and_readd(r, "process"), delattr(r, "levelno")),
        lambda r: delattr(r, "relativeCreated"),
        lambda r: delattr(r, "module"),
        lambda r: r.__dict__.update({1: "int key"}),
        lambda r: setattr(r, "message", "formatted"),
        lambda r: (setattr(r, "asctime", "now"), setattr(r, "late", "extra")),
    ], ids=["msg moved", "last moved", "last moved, one missing", "unread missing", "read missing", "int key",
            "formatter message", "asctime then extra"])
    def test_records_whose_dict_was_changed(self, change: Callable[[logging.LogRecord], None]) -> None:
        """Moved, missing or odd attributes never lose or invent a field."""
        record = logged(user="u")
        try:
            change(record)
        except AttributeError:
            pass
        schema = Schema()
        item = (1, record, "m", None)
        try:
            wanted = expected(schema, [item])
        except Exception as exc:  # the general path cannot render it: neither may the fast one
            with pytest.raises(type(exc)):
                json_lines(schema, [item])
            return
        assert json_lines(schema, [item]) == wanted

    @pytest.mark.parametrize("msecs", [0.0, 999.0, 1000.0, -5.0, 5.5, 12])
    def test_msecs_in_and_out_of_range(self, msecs: float) -> None:
        """A hand-made msecs renders as iso_timestamp renders it."""
        check(changed(lambda r: setattr(r, "msecs", msecs)))

    @pytest.mark.parametrize("created", [1714564800.123456, 1714564800.0, 1714564800.999999, 0.0, 1e12, -1.5, 1714564800])
    def test_created_values(self, created: float) -> None:
        """created with six decimals, whole, far off, or an int, renders as the general path renders it."""
        check(changed(lambda r: setattr(r, "created", created)), logged())

    def test_seconds_change_within_a_batch(self) -> None:
        """Records of different seconds in one batch each get their own timestamp."""
        records = [changed(lambda r, t=t: (setattr(r, "created", t), setattr(r, "msecs", (t % 1) * 1000 // 1)))
                   for t in (1714564800.5, 1714564801.25, 1714564800.75, 1714564900.0)]
        stamps = [out["timestamp"] for out in check(*records)]
        assert stamps == ["2024-05-01T12:00:00.500Z", "2024-05-01T12:00:01.250Z", "2024-05-01T12:00:00.750Z",
                          "2024-05-01T12:01:40.000Z"]

    def test_exception_stack_and_odd_sites(self) -> None:
        """Tracebacks, stacks, a None function, a subclass and odd logger names render as in the general path."""
        try:
            raise ValueError("v")
        except ValueError:
            failed = logging.getLogger("x").makeRecord("x", 40, __file__, 1, "boom", (), sys.exc_info(), "f")

        class Sub(logging.LogRecord):
            pass

        schema = Schema()
        items = [
            (1, failed, "boom", {"exception": "Traceback...", "exc_type": "ValueError", "exc_message": "v"}),
            (2, changed(lambda r: setattr(r, "stack_info", "Stack:\n here")), "m", None),
            (3, changed(lambda r: setattr(r, "funcName", None)), "m", None),
            (4, changed(lambda r: setattr(r, "lineno", True)), "m", None),
            (5, Sub("n", 20, __file__, 1, "m", (), None), "m", None),
            (6, changed(lambda r: setattr(r, "name", "naïve \"quoted\"\n")), "m", None),
            (7, logged(), "m", {"record_id": "stored-1"}),
            (8, logged(), "m", {"record_id": "x", "format_error": "e", "args": "()"}),
        ]
        assert json_lines(schema, items) == expected(schema, items)

    def test_numbers_equal_across_types_are_not_confused(self) -> None:
        """A site seen with int fields is not reused for a record whose fields are equal bools or floats."""
        records = [changed(lambda r: setattr(r, "lineno", 1)), changed(lambda r: setattr(r, "lineno", True)),
                   changed(lambda r: setattr(r, "lineno", 1.0)), changed(lambda r: setattr(r, "process", True))]
        lines = check(*records)
        assert [out["line"] for out in lines[:3]] == [1, True, 1.0]

    def test_lone_surrogates_are_replaced_record_by_record(self) -> None:
        """A lone surrogate in one record does not change how its neighbours render."""
        schema = Schema()
        items = [(1, logged(), "fine", None), (2, logged(user="\udce9"), "bad \ud800", None),
                 (3, logged(n=1e-7), "fine too", None)]
        body = json_lines(schema, items)
        assert body == expected(schema, items) and "\ufffd" in body.decode("utf-8")

    def test_same_bytes_with_and_without_orjson(self, encoder: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """The typical records render the same whichever encoder is installed."""
        import threaded_logging._schema as schema_module

        schema = Schema({"app": "a"})
        items = [(i, logged(user="u", n=i, ok=True, t=0.25), f"request {i} done", None) for i in range(1, 5)]
        first = json_lines(schema, items)
        monkeypatch.setattr(schema_module, "_orjson", None)
        assert json_lines(schema, items) == first


class TestCutLines:
    def test_runs_are_whole_lines_within_both_limits(self) -> None:
        """Runs hold whole lines, in order, within the byte and line limits; a line too long alone gives None."""
        body = b"aaaa\nbb\ncccccc\nd\ne\n"
        assert cut_lines(body, 5, 100) == [(5, body)]
        assert cut_lines(body, 5, 8) == [(2, b"aaaa\nbb\n"), (1, b"cccccc\n"), (2, b"d\ne\n")]
        assert cut_lines(body, 5, 10, max_records=1) == [(1, b"aaaa\n"), (1, b"bb\n"), (1, b"cccccc\n"),
                                                         (1, b"d\n"), (1, b"e\n")]
        assert cut_lines(body, 5, 6) is None
