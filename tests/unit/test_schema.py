"""The JSON record schema and JsonFormatter, including every bad input of SPEC §2."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from threaded_logging import JsonFormatter
from threaded_logging._schema import HOST, dumps, dumps_bytes, record_dict, to_utf8
from threaded_logging._snapshot import take_snapshot

pytestmark = pytest.mark.usefixtures("encoder")


SCHEMA_ORDER = [
    "timestamp", "created", "level", "logger", "message", "module", "function", "line",
    "path", "process", "process_name", "thread", "thread_name", "host",
]


def make_record(msg: object = "hello %s", args: object = ("world",), **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("schema.test")
    record = logger.makeRecord("schema.test", logging.INFO, "/src/app.py", 42, msg, args, None, "handler", extra or None)  # type: ignore[arg-type]
    record.created = 1714564800.5
    record.msecs = 500.0
    return record


def render(record: logging.LogRecord, **kwargs: object) -> dict:
    line = JsonFormatter(**kwargs).format(record)  # type: ignore[arg-type]
    assert "\n" not in line
    return json.loads(line)


class TestSchema:
    def test_fields_in_order(self) -> None:
        """Every schema field is present, in the documented order, with its value."""
        out = render(make_record())
        assert list(out)[: len(SCHEMA_ORDER)] == SCHEMA_ORDER
        assert out["timestamp"] == "2024-05-01T12:00:00.500Z"
        assert out["created"] == 1714564800.5
        assert out["level"] == "INFO"
        assert out["logger"] == "schema.test"
        assert out["message"] == "hello world"
        assert (out["module"], out["function"], out["line"], out["path"]) == ("app", "handler", 42, "/src/app.py")
        assert out["host"] == HOST
        assert out["process_name"] == "MainProcess"

    def test_exception_and_stack(self) -> None:
        """A traceback and stack_info become 'exception' and 'stack'."""
        try:
            raise KeyError("k")
        except KeyError:
            record = make_record()
            record.exc_info = sys.exc_info()
        record.stack_info = "Stack (most recent call last):\n  here"
        out = render(record)
        assert out["exception"].startswith("Traceback (most recent call last):")
        assert out["exception"].endswith("KeyError: 'k'")
        assert out["stack"].endswith("here")

    def test_extras_at_top_level_and_collisions_prefixed(self) -> None:
        """extra= fields are top-level; one named like a schema key is kept prefixed."""
        out = render(make_record(user="u1", host="other", level="x"))
        assert out["user"] == "u1"
        assert out["host"] == HOST and out["extra_host"] == "other"
        assert out["level"] == "INFO" and out["extra_level"] == "x"

    def test_static_fields_come_last_and_never_override(self) -> None:
        """static_fields are appended; an extra of the same name wins."""
        out = render(make_record(app="from-extra"), static_fields={"app": "static", "env": "prod"})
        assert out["app"] == "from-extra"
        assert list(out)[-1] == "env" and out["env"] == "prod"

    def test_static_fields_may_not_shadow_schema(self) -> None:
        """A static field named like a schema key is refused at construction."""
        with pytest.raises(ValueError, match="'host' is a record schema field"):
            JsonFormatter(static_fields={"host": "x"})


    @pytest.mark.parametrize("created, expected", [
        (-1.25, "1969-12-31T23:59:58.750Z"),
        (-0.001, "1969-12-31T23:59:59.999Z"),
        (-86400.0, "1969-12-31T00:00:00.000Z"),
    ])
    def test_times_before_1970(self, created: float, expected: str) -> None:
        """A created before the epoch names the second below it, whichever msecs the record carries."""
        record = make_record()
        record.created = created
        for msecs in ((created - int(created)) * 1000, (created % 1) * 1000):  # the stdlib's, and a positive one
            record.msecs = msecs
            assert render(record)["timestamp"] == expected


class TestBadInput:
    def test_bad_percent_args(self) -> None:
        """A message whose % args do not fit ships raw, with args repr and a note."""
        out = render(make_record("%d items", ("many",)))
        assert out["message"] == "%d items"
        assert out["args"] == "('many',)"
        assert out["format_error"].startswith("TypeError: %d format")

    def test_raising_str(self) -> None:
        """A msg whose __str__ raises still produces a record."""

        class Hostile:
            def __str__(self) -> str:
                raise RuntimeError("no str")

            def __repr__(self) -> str:
                return "<Hostile>"

        out = render(make_record(Hostile(), ()))
        assert out["message"] == "<Hostile>"
        assert out["format_error"] == "RuntimeError: no str"

    def test_raising_repr_in_args(self) -> None:
        """Args whose repr raises are replaced by a placeholder, not an error."""

        class Worse:
            def __str__(self) -> str:
                raise RuntimeError("no str")

            def __repr__(self) -> str:
                raise RuntimeError("no repr")

        out = render(make_record("%s", (Worse(),)))
        assert out["message"] == "%s"
        assert "unrepresentable" in out["args"]

    def test_non_json_values_use_repr(self) -> None:
        """Objects, bytes, NaN, cycles and tuple-keyed dicts do not break the record."""
        import datetime
        import enum
        import uuid

        class Color(enum.Enum):
            RED = "red"

        cycle: list = []
        cycle.append(cycle)
        when = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
        ident = uuid.UUID(int=1)
        out = render(make_record(obj=object(), raw=b"\xff", nan=float("nan"), cycle=cycle, tk={(1, 2): 3},
                                 tags={"a"}, when=when, ident=ident, color=Color.RED, big=2**70))
        assert out["obj"].startswith("<object object at")
        assert out["raw"] == "b'\\xff'"
        assert out["nan"] is None
        assert out["cycle"] == "[[...]]"
        assert out["tk"] == "{(1, 2): 3}"
        assert out["tags"] == ["a"]
        assert out["when"] == "2024-05-01T12:00:00+00:00"
        assert out["ident"] == str(ident) and out["color"] == "red"
        assert out["big"] == 2**70
        assert out["message"] == "hello world"

    def test_keys_that_are_not_strings(self) -> None:
        """Int, float, bool and None keys become strings, at the top and nested,
        with orjson as with the stdlib (orjson takes them on a second try)."""
        data = {"a": {1: "x", 2.5: "y", False: "f", None: "n"}, 7: "top"}
        assert json.loads(dumps_bytes(data)) == {"a": {"1": "x", "2.5": "y", "false": "f", "null": "n"}, "7": "top"}
        assert dumps_bytes(data) == to_utf8(dumps(data))
        assert json.loads(dumps_bytes({"a": {(1, 2): 3}})) == {"a": "{(1, 2): 3}"}

    def test_lone_surrogates_become_replacement_chars(self) -> None:
        """Invalid Unicode is replaced, and the line encodes as UTF-8."""
        line = JsonFormatter().format(make_record("bad \udce9 char", ()))
        line.encode("utf-8")
        assert json.loads(line)["message"] == "bad \ufffd char"
        assert to_utf8(dumps({"m": "\ud800"})) == '{"m":"\ufffd"}'.encode()
        assert dumps_bytes({"m": "\ud800"}) == '{"m":"\ufffd"}'.encode()

    def test_control_characters_are_escaped(self) -> None:
        """NUL and other control characters are escaped, the line stays one line."""
        line = JsonFormatter().format(make_record("a\x00b\nc\x1b", ()))
        assert "\n" not in line and "\x00" not in line
        assert json.loads(line)["message"] == "a\x00b\nc\x1b"

    def test_five_megabyte_message(self) -> None:
        """A 5 MB message is rendered whole."""
        big = "x" * (5 * 1024 * 1024)
        assert render(make_record(big, ()))["message"] == big


class TestSnapshot:
    def test_later_mutation_of_args_does_not_change_message(self) -> None:
        """The message is formatted when the snapshot is taken."""
        args = {"n": [1]}
        record = make_record("value %(n)s", (args,))
        message, aux = take_snapshot(record)
        args["n"].append(2)
        assert message == "value [1]"
        assert aux is None

    def test_record_dict_uses_snapshot_message(self) -> None:
        """record_dict renders the frozen message, not the live args."""
        record = make_record()
        out = record_dict(record, "frozen", None)
        assert out["message"] == "frozen"


class TestRecordId:
    def test_plain_formatter_has_no_record_id(self) -> None:
        """A JsonFormatter on a plain stdlib handler has no sequence and leaves record_id out."""
        assert "record_id" not in render(make_record())

    def test_schema_puts_record_id_after_host(self) -> None:
        """A threaded handler's record carries record_id right after host, as its prefix plus sequence number."""
        from threaded_logging._schema import Schema

        schema = Schema({"app": "x"})
        out = schema.fields((7, make_record(), "m", None))
        assert list(out)[: len(SCHEMA_ORDER) + 1] == SCHEMA_ORDER + ["record_id"]
        assert out["record_id"] == schema.id_prefix + "7" and out["app"] == "x"

    def test_ids_differ_between_handlers_and_after_renewal(self) -> None:
        """Two schemas (two handlers) never mint the same id; a renewed prefix (after fork) differs too."""
        from threaded_logging._schema import Schema

        first, second = Schema(), Schema()
        item = (1, make_record(), "m", None)
        ids = {first.record_id(item), second.record_id(item)}
        first.renew_id_prefix()
        ids.add(first.record_id(item))
        assert len(ids) == 3

    def test_stored_id_is_kept(self) -> None:
        """A record read back from storage keeps the id it was first given."""
        from threaded_logging._schema import Schema

        out = Schema().fields((3, make_record(), "m", {"record_id": "old-9"}))
        assert out["record_id"] == "old-9" and list(out).count("record_id") == 1

    def test_user_extra_named_record_id_is_prefixed(self) -> None:
        """An extra named record_id never replaces the handler's id."""
        from threaded_logging._schema import Schema

        schema = Schema()
        out = schema.fields((4, make_record(record_id="mine"), "m", None))
        assert out["record_id"] == schema.id_prefix + "4" and out["extra_record_id"] == "mine"


class TestExceptionCapture:
    def test_type_and_message_are_captured_but_not_schema_fields(self) -> None:
        """The exception's type and message are kept for formats that want them, not added to the JSON."""
        try:
            raise ValueError("bad value")
        except ValueError:
            record = make_record()
            record.exc_info = sys.exc_info()
        message, aux = take_snapshot(record)
        assert aux is not None and (aux["exc_type"], aux["exc_message"]) == ("ValueError", "bad value")
        out = record_dict(record, message, aux)
        assert "exc_type" not in out and out["exception"].endswith("ValueError: bad value")
