"""CloudWatch Logs: options, events within the API's limits, per-event answers, fix-ups (no sockets).

The transport is driven with botocore's Stubber, which answers in place of
the service, so every call it makes and every parameter is checked.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest

from threaded_logging._config import DRY_RUN
from threaded_logging._retry import Outcome
from threaded_logging._schema import Schema
from threaded_logging._snapshot import Item
from threaded_logging._transport import Request
from threaded_logging.transports import _cloudwatch_events as events
from threaded_logging.transports._cloudwatch_events import (
    EXPIRED, MAX_CALL_BYTES, TOO_NEW, TOO_OLD, Call, Encoder, read_rejected, render_stream,
)
from threaded_logging.transports._encode import MARKER
from threaded_logging.transports.cloudwatch import CloudWatchTransport

T0 = 1_795_000_000.0  # a fixed time, seconds


def record(msg: str = "n", created: float = T0, name: str = "cw.unit") -> logging.LogRecord:
    rec = logging.LogRecord(name, logging.INFO, "/src/app.py", 7, msg, None, None, func="work")
    rec.created = created
    rec.msecs = (created - int(created)) * 1000
    return rec


def items(messages: Sequence[str], created: Optional[Sequence[float]] = None) -> List[Item]:
    stamps = created or [T0 + i / 1000 for i in range(len(messages))]
    return [(i + 1, record(m, t), m, None) for i, (m, t) in enumerate(zip(messages, stamps))]


def call_of(request: Request) -> Call:
    assert isinstance(request.body, Call)
    return request.body


def encode(entries: Sequence[Item], text: bool = False, max_event_bytes: int = 262_144, by_day: bool = False,
           render: Any = logging.Formatter().format) -> List[Request]:
    return Encoder(text, max_event_bytes, by_day).encode(entries, Schema(), render)


def api_size(request: Request) -> int:
    return sum(len(e["message"].encode("utf-8")) + 26 for e in call_of(request).events)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                       "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def stubbed(aws: None) -> Iterator[Any]:
    """A boto3 logs client answered by botocore's Stubber; every queued answer must be used."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("logs", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.client = client  # type: ignore[attr-defined]
        yield stub
        stub.assert_no_pending_responses()


def transport(stub: Any, **options: Any) -> CloudWatchTransport:
    return CloudWatchTransport(options.pop("log_group", "app"), options.pop("log_stream", "s-{pid}"),
                               client=stub.client, **options)


def put_params(t: CloudWatchTransport, request: Request, token: Optional[str] = None) -> Dict[str, Any]:
    params: Dict[str, Any] = {"logGroupName": t.log_group, "logStreamName": f"s-{os.getpid()}",
                              "logEvents": call_of(request).events}
    if token is not None:
        params["sequenceToken"] = token
    return params


def not_found(stub: Any, method: str, message: str = "The specified log stream does not exist.") -> None:
    stub.add_client_error(method, service_error_code="ResourceNotFoundException", service_message=message,
                          http_status_code=400)


class TestOptions:
    def test_retention_days_must_be_a_value_the_api_accepts(self) -> None:
        """retention_days outside PutRetentionPolicy's list is a ValueError naming the option."""
        with pytest.raises(ValueError, match="retention_days must be None or one of 1, 3, 5"):
            CloudWatchTransport("app", retention_days=10)
        with pytest.raises(ValueError, match="retention_days"):
            CloudWatchTransport("app", retention_days=True)
        assert CloudWatchTransport("app", retention_days="30").retention_days == 30

    def test_names_and_templates_are_checked(self) -> None:
        """A bad group name, an unknown or forbidden stream field, a bad format are ValueErrors."""
        with pytest.raises(ValueError, match="log_group must be"):
            CloudWatchTransport("my group!")
        with pytest.raises(ValueError, match=r"log_stream field \{thread\} is unknown"):
            CloudWatchTransport("app", "{host}-{thread}")
        with pytest.raises(ValueError, match="may not contain ':' or '\\*'"):
            CloudWatchTransport("app", "a:{pid}")
        with pytest.raises(ValueError, match="not a valid template"):
            CloudWatchTransport("app", "{host")
        with pytest.raises(ValueError, match="format must be 'json' or 'text'"):
            CloudWatchTransport("app", format="xml")
        with pytest.raises(ValueError, match="max_event_bytes must be"):
            CloudWatchTransport("app", max_event_bytes=2_000_000)
        with pytest.raises(ValueError, match="create_group must be True or False"):
            CloudWatchTransport("app", create_group="maybe")
        assert CloudWatchTransport("app", create_group="false").create_group is False

    def test_unknown_client_argument_is_a_type_error(self) -> None:
        """A misspelt boto3 client argument fails at construction, not on the timer thread."""
        with pytest.raises(TypeError, match="unknown boto3 client argument.*regoin_name"):
            CloudWatchTransport("app", client_kwargs={"regoin_name": "x"})

    def test_dry_run_builds_no_boto3_session(self) -> None:
        """While check-config builds handlers, nothing AWS-related is made."""
        with DRY_RUN:
            t = CloudWatchTransport("app", region_name="us-east-1")
        assert t._session is None and t._client is None

    def test_describe_names_the_template_not_the_pid(self) -> None:
        """The spool identity stays the same across restarts (the rendered stream has the pid)."""
        t = CloudWatchTransport("app", "{host}-{pid}", region_name="us-east-1")
        assert t.describe() == "CloudWatch Logs app:{host}-{pid}"
        assert t.stream_name().endswith(f"-{os.getpid()}")


class TestStreamName:
    def test_template_fields(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """{host}, {pid}, {process_name} and {date} render; ':' and '*' in values become '_'."""
        import multiprocessing

        monkeypatch.setattr(events, "HOST", "web-1")
        monkeypatch.setattr(multiprocessing.current_process(), "name", "Worker:1*")
        name = render_stream("{host}/{pid}/{process_name}/{date}", "2026-01-02")
        assert name == f"web-1/{os.getpid()}/Worker_1_/2026-01-02"

    def test_a_new_pid_renders_a_new_stream(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """After a fork the same template names the child's own stream."""
        before = render_stream("{host}-{pid}", None)
        monkeypatch.setattr(os, "getpid", lambda: 424242)
        assert render_stream("{host}-{pid}", None) != before
        assert render_stream("{host}-{pid}", None).endswith("-424242")


class TestEncode:
    def test_events_sorted_by_time_records_kept_in_logged_order(self) -> None:
        """A call's events are in time order (ties in logged order); its records stay in logged order."""
        batch = items(["a", "b", "c", "d"], [T0 + 0.003, T0 + 0.001, T0 + 0.003, T0 + 0.001])
        (request,) = encode(batch)
        call = call_of(request)
        assert request.items == batch
        assert [json.loads(e["message"])["message"] for e in call.events] == ["b", "d", "a", "c"]
        assert [e["timestamp"] for e in call.events] == sorted(e["timestamp"] for e in call.events)
        assert list(call.order) == [1, 3, 0, 2]

    def test_ten_thousand_events_per_call_at_most(self) -> None:
        """12,000 short text records make calls of 10,000 and 2,000 events."""
        requests = encode(items(["x"] * 12_000), text=True)
        assert [len(r) for r in requests] == [10_000, 2_000]
        assert [len(call_of(r).events) for r in requests] == [10_000, 2_000]

    def test_a_call_is_at_most_one_mebibyte_counting_26_bytes_per_event(self) -> None:
        """JSON records fill calls up to 1,048,576 bytes as the API counts them, and no further."""
        batch = items([f"record {i} " + "é" * 300 for i in range(12_000)])
        requests = encode(batch)
        sizes = [api_size(r) for r in requests]
        assert max(sizes) <= MAX_CALL_BYTES
        assert min(sizes[:-1]) > MAX_CALL_BYTES - 1000  # full, not timid
        assert [call_of(r).size for r in requests] == sizes
        assert [i for r in requests for i in r.items] == batch

    def test_a_call_spans_at_most_24_hours(self) -> None:
        """A record more than 24 h after the call's first starts a new call."""
        day = 24 * 3600
        batch = items(["a", "b", "c", "d"], [T0, T0 + day - 1, T0 + day + 0.5, T0 - 1])
        assert [[i[2] for i in r.items] for r in encode(batch)] == [["a", "b"], ["c"], ["d"]]

    def test_date_in_the_stream_splits_calls_at_midnight_utc(self) -> None:
        """With {date} in the template each call holds one UTC day, named in its body."""
        midnight = float(calendar.timegm((2026, 11, 18, 0, 0, 0)))
        batch = items(["a", "b", "c"], [midnight - 1, midnight - 0.5, midnight + 0.5])
        requests = encode(batch, by_day=True)
        assert [(len(r), call_of(r).day) for r in requests] == [(2, "2026-11-17"), (1, "2026-11-18")]

    def test_a_300_kib_json_record_is_cut_with_the_marker(self) -> None:
        """A 300 KiB message is cut so the event fits max_event_bytes; the JSON says so."""
        big = "y" * (300 * 1024)
        (request,) = encode(items(["before", big, "after"]))
        messages = [e["message"] for e in call_of(request).events]
        assert all(len(m.encode()) + 26 <= 262_144 for m in messages)
        cut = json.loads(messages[1])
        assert cut["message"].endswith(MARKER) and cut["truncated"] == len(big)
        assert [json.loads(m)["message"] for m in (messages[0], messages[2])] == ["before", "after"]

    def test_text_messages_are_the_formatter_output_cut_to_fit(self) -> None:
        """format='text': the formatter's line (record_id available), cut with the marker when too large."""
        fmt = logging.Formatter("%(levelname)s %(record_id)s %(message)s").format
        (request,) = encode(items(["hello", "z" * 5000]), text=True, max_event_bytes=2048, render=fmt)
        first, second = (e["message"] for e in call_of(request).events)
        assert first.startswith("INFO ") and first.endswith(" hello") and "-1 " in first
        assert second.endswith(MARKER) and len(second.encode()) == 2048 - 26

    def test_text_edge_cases_never_break_a_call(self) -> None:
        """An empty line becomes one space, lone surrogates U+FFFD, a failing formatter keeps the message."""
        (request,) = encode(items(["", "bad \ud800 text"]), text=True, render=lambda r: r.getMessage())
        assert [e["message"] for e in call_of(request).events] == [" ", "bad \ufffd text"]

        def broken(rec: logging.LogRecord) -> str:
            raise KeyError("nope")

        (request,) = encode(items(["kept"]), text=True, render=broken)
        assert call_of(request).events[0]["message"] == "kept [formatter failed: KeyError]"


class TestReadRejected:
    def test_each_kind_maps_back_through_the_time_order(self) -> None:
        """Too new (inclusive start), too old and expired (exclusive ends) fail those records; the rest are delivered."""
        order = [4, 2, 0, 1, 3, 5]  # sorted position -> record
        answer = read_rejected({"expiredLogEventEndIndex": 1, "tooOldLogEventEndIndex": 2,
                                "tooNewLogEventStartIndex": 5}, order)
        assert answer.failed == {4: TOO_OLD, 2: TOO_OLD, 5: TOO_NEW}
        assert sorted(answer.delivered) == [0, 1, 3]
        answer = read_rejected({"expiredLogEventEndIndex": 2}, order)
        assert answer.failed == {4: EXPIRED, 2: EXPIRED}
        assert "2 of 6 event(s)" in str(answer.error)

    def test_no_rejection_is_all_delivered(self) -> None:
        """Without rejectedLogEventsInfo, or with an empty one, every record is delivered."""
        assert list(read_rejected(None, range(3)).delivered) == [0, 1, 2]
        assert read_rejected({}, range(2)).all_delivered


class TestSend:
    def test_missing_stream_is_created_and_the_call_sent_again(self, stubbed: Any) -> None:
        """ResourceNotFoundException: CreateLogStream, then the same call once more."""
        t = transport(stubbed)
        (request,) = t.encode(items(["a", "b"]))
        not_found(stubbed, "put_log_events")
        stubbed.add_response("create_log_stream", {}, {"logGroupName": "app", "logStreamName": f"s-{os.getpid()}"})
        stubbed.add_response("put_log_events", {"nextSequenceToken": "1"}, put_params(t, request))
        assert t.send(request, None).all_delivered

    def test_missing_group_is_created_with_its_retention(self, stubbed: Any) -> None:
        """The group too: CreateLogGroup, PutRetentionPolicy once, CreateLogStream, PutLogEvents."""
        t = transport(stubbed, retention_days=14)
        (request,) = t.encode(items(["a"]))
        not_found(stubbed, "put_log_events")
        not_found(stubbed, "create_log_stream", "The specified log group does not exist.")
        stubbed.add_response("create_log_group", {}, {"logGroupName": "app"})
        stubbed.add_response("put_retention_policy", {}, {"logGroupName": "app", "retentionInDays": 14})
        stubbed.add_response("create_log_stream", {})
        stubbed.add_response("put_log_events", {}, put_params(t, request))
        assert t.send(request, None).all_delivered

    def test_missing_group_without_create_group_fails_the_batch(self, stubbed: Any) -> None:
        """create_group=False: every record failed with a clear reason; no CreateLogGroup call."""
        t = transport(stubbed, create_group=False)
        (request,) = t.encode(items(["a", "b"]))
        not_found(stubbed, "put_log_events")
        not_found(stubbed, "create_log_stream", "The specified log group does not exist.")
        answer = t.send(request, None)
        assert set(answer.failed) == {0, 1} and not answer.delivered and not answer.retry
        assert "log group 'app' does not exist and create_group is False" in str(answer.error)

    def test_a_group_made_meanwhile_keeps_its_retention(self, stubbed: Any) -> None:
        """ResourceAlreadyExistsException from CreateLogGroup: fine, and its retention is left alone."""
        t = transport(stubbed, retention_days=14)
        (request,) = t.encode(items(["a"]))
        not_found(stubbed, "put_log_events")
        not_found(stubbed, "create_log_stream", "The specified log group does not exist.")
        stubbed.add_client_error("create_log_group", service_error_code="ResourceAlreadyExistsException")
        stubbed.add_client_error("create_log_stream", service_error_code="ResourceAlreadyExistsException")
        stubbed.add_response("put_log_events", {})
        assert t.send(request, None).all_delivered

    def test_retention_refused_still_delivers_and_says_so(self, stubbed: Any, capsys: pytest.CaptureFixture[str]) -> None:
        """PutRetentionPolicy denied: the records are delivered, one stderr line explains."""
        t = transport(stubbed, retention_days=7)
        (request,) = t.encode(items(["a"]))
        not_found(stubbed, "put_log_events")
        not_found(stubbed, "create_log_stream")
        stubbed.add_response("create_log_group", {})
        stubbed.add_client_error("put_retention_policy", service_error_code="AccessDeniedException",
                                 service_message="not allowed", http_status_code=400)
        stubbed.add_response("create_log_stream", {})
        stubbed.add_response("put_log_events", {})
        assert t.send(request, None).all_delivered
        assert "could not set its retention to 7 days: access denied" in capsys.readouterr().err

    def test_rejected_events_fail_alone(self, stubbed: Any) -> None:
        """rejectedLogEventsInfo fails the named events (mapped to records); the rest are delivered."""
        t = transport(stubbed)
        (request,) = t.encode(items(["late", "old", "ok"], [T0 + 9000, T0 - 9000, T0]))
        stubbed.add_response("put_log_events", {"rejectedLogEventsInfo": {
            "tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}})
        answer = t.send(request, None)
        assert answer.failed == {1: TOO_OLD, 0: TOO_NEW}
        assert list(answer.delivered) == [2]

    def test_legacy_sequence_token_is_taken_and_followed(self, stubbed: Any) -> None:
        """InvalidSequenceTokenException: sent again at once with the expected token; later calls carry the next one."""
        t = transport(stubbed)
        first, = t.encode(items(["a"]))
        second, = t.encode(items(["b"]))
        stubbed.add_client_error("put_log_events", service_error_code="InvalidSequenceTokenException",
                                 service_message="The given sequenceToken is invalid. The next expected sequenceToken is: 4955",
                                 http_status_code=400)
        stubbed.add_response("put_log_events", {"nextSequenceToken": "4956"}, put_params(t, first, "4955"))
        stubbed.add_response("put_log_events", {"nextSequenceToken": "4957"}, put_params(t, second, "4956"))
        assert t.send(first, None).all_delivered
        assert t.send(second, None).all_delivered

    def test_data_already_accepted_counts_as_duplicates(self, stubbed: Any) -> None:
        """DataAlreadyAcceptedException: the call was stored before; its records are duplicates, not resent."""
        t = transport(stubbed)
        (request,) = t.encode(items(["a", "b"]))
        stubbed.add_client_error("put_log_events", service_error_code="DataAlreadyAcceptedException",
                                 service_message="The given batch of log events has already been accepted. "
                                                 "The next batch can be sent with sequenceToken: 77",
                                 http_status_code=400)
        answer = t.send(request, None)
        assert list(answer.duplicates) == [0, 1] and not answer.retry and not answer.failed
        assert t._tokens[f"s-{os.getpid()}"] == "77"

    def test_past_the_shutdown_deadline_nothing_is_created(self, stubbed: Any) -> None:
        """With no time left, a missing stream retries the batch instead of calling on."""
        t = transport(stubbed)
        (request,) = t.encode(items(["a"]))
        not_found(stubbed, "put_log_events")
        answer = t.send(request, 0.0)
        assert list(answer.retry) == [0] and "shutdown deadline" in str(answer.error)

    def test_a_fix_up_is_tried_once(self, stubbed: Any) -> None:
        """A stream still missing after it was created raises; the send loop backs off."""
        t = transport(stubbed)
        (request,) = t.encode(items(["a"]))
        not_found(stubbed, "put_log_events")
        stubbed.add_response("create_log_stream", {})
        not_found(stubbed, "put_log_events")
        with pytest.raises(Exception) as caught:
            t.send(request, None)
        assert t.classify_exception(caught.value) is Outcome.RETRY


class TestClassify:
    def client_error(self, code: str, status: int = 400) -> Exception:
        from botocore.exceptions import ClientError

        return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                           "PutLogEvents")

    @pytest.mark.parametrize(("code", "status", "outcome"), [
        ("ThrottlingException", 400, Outcome.RETRY),
        ("ServiceUnavailableException", 503, Outcome.RETRY),
        ("ResourceNotFoundException", 400, Outcome.RETRY),
        ("UnrecognizedClientException", 400, Outcome.RETRY),
        ("InvalidParameterException", 400, Outcome.SPLIT),
        ("LimitExceededException", 400, Outcome.FINAL),
        ("SomethingNew", 500, Outcome.RETRY),
        ("SomethingNew", 400, Outcome.FINAL),
    ])
    def test_error_codes(self, code: str, status: int, outcome: Outcome) -> None:
        """Throttling, 5xx and fixable conditions retry; a malformed call splits; the rest are final."""
        assert CloudWatchTransport("app").classify_exception(self.client_error(code, status)) is outcome

    def test_connection_errors_retry(self) -> None:
        """An unreachable endpoint or a timeout is retried; a bad parameter splits."""
        from botocore.exceptions import EndpointConnectionError, ParamValidationError, ReadTimeoutError

        t = CloudWatchTransport("app")
        assert t.classify_exception(EndpointConnectionError(endpoint_url="http://x")) is Outcome.RETRY
        assert t.classify_exception(ReadTimeoutError(endpoint_url="http://x")) is Outcome.RETRY
        assert t.classify_exception(ParamValidationError(report="bad")) is Outcome.SPLIT

    def test_failures_are_described_without_secrets(self) -> None:
        """Missing resources, refused credentials and denied access each get a plain sentence."""
        t = CloudWatchTransport("app", client_kwargs={"aws_secret_access_key": "s3cr3tvalue"})
        assert "log group 'app' or its stream does not exist" in t.describe_failure(self.client_error("ResourceNotFoundException"))
        assert "credentials were refused" in t.describe_failure(self.client_error("UnrecognizedClientException"))
        assert "logs:PutLogEvents" in t.describe_failure(self.client_error("AccessDeniedException"))
        assert "s3cr3tvalue" not in t.describe_failure(self.client_error("UnrecognizedClientException"))


class TestLifecycle:
    def test_a_given_client_is_never_closed_an_own_one_is(self, stubbed: Any, aws: None) -> None:
        """close() closes the client it made, never the one it was given."""
        given = transport(stubbed)
        closed: List[str] = []
        stubbed.client.close = lambda: closed.append("given")
        given.close()
        own = CloudWatchTransport("app", region_name="us-east-1")
        client = own._get_client()
        client.close = lambda: closed.append("own")  # type: ignore[method-assign]
        own.close()
        assert closed == ["own"] and own._client is None

    def test_after_fork_drops_the_parents_client_and_tokens(self, stubbed: Any, aws: None) -> None:
        """In a forked child the own client, session and legacy tokens go; a given client stays."""
        own = CloudWatchTransport("app", region_name="us-east-1")
        own._get_client()
        own._tokens["s"] = "1"
        own.after_fork()
        assert own._client is None and own._session is None and not own._tokens
        given = transport(stubbed)
        given.after_fork()
        assert given._client is stubbed.client

    def test_stderr_is_untouched_by_a_plain_send(self, stubbed: Any, capsys: pytest.CaptureFixture[str]) -> None:
        """A delivered call prints nothing."""
        t = transport(stubbed)
        (request,) = t.encode(items(["a"]))
        stubbed.add_response("put_log_events", {})
        assert t.send(request, None).all_delivered
        assert capsys.readouterr().err == ""


class TestHandlerOptions:
    def test_bad_options_fail_at_construction(self) -> None:
        """The handler validates its own options before anything else is built."""
        from threaded_logging import ThreadedCloudWatchHandler

        with pytest.raises(ValueError, match="retention_days must be None or one of"):
            ThreadedCloudWatchHandler("app", retention_days=10)
        with pytest.raises(ValueError, match="log_group must be"):
            ThreadedCloudWatchHandler("")


class TestCheckConfig:
    def ini(self, tmp_path: Any, section: str) -> str:
        path = tmp_path / "logging.ini"
        path.write_text("[loggers]\nkeys=root\n[handlers]\nkeys=cw\n[formatters]\nkeys=\n"
                        f"[logger_root]\nhandlers=cw\n[handler_cw]\n{section}\n")
        return str(path)

    @pytest.mark.parametrize(("section", "expected"), [
        ("class=threaded_logging.ThreadedCloudwatchHandler\nargs=('app',)",
         "did you mean 'threaded_logging.ThreadedCloudWatchHandler'?"),
        ("class=threaded_logging.ThreadedCloudWatchHandler\nargs=('app',)\nkwargs={'retention_day': 7}",
         "unknown option 'retention_day' -- did you mean 'retention_days'?"),
        ("class=threaded_logging.ThreadedCloudWatchHandler\nargs=('app',)\nkwargs={'retention_days': 10}",
         "ValueError: retention_days must be None or one of 1, 3, 5"),
        ("class=threaded_logging.ThreadedCloudWatchHandler\nargs=('app', 'web:{pid}')",
         "log_stream may not contain ':' or '*'"),
        ("class=threaded_logging.ThreadedCloudWatchHandler\nargs=('app',)\nkwargs={'endpoint_url': 'htp://127.0.0.1:4566'}",
         "endpoint_url: URL scheme 'htp' looks wrong"),
    ])
    def test_mistakes_are_named_with_their_section(self, tmp_path: Any, section: str, expected: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
        """check-config reports each CloudWatch mistake under [handler_cw], exit code 1."""
        from threaded_logging.cli.main import main

        assert main(["check-config", self.ini(tmp_path, section)]) == 1
        out = capsys.readouterr().out
        assert "[handler_cw]" in out and expected in out

    def test_nested_secrets_are_remembered(self) -> None:
        """A secret inside client_kwargs is redacted like a top-level one."""
        from threaded_logging.cli.check_config import Checker

        checker = Checker()
        checker.remember_secrets({"client_kwargs": {"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG"}, "log_group": "app"})
        assert checker.redact("key wJalrXUtnFEMI/K7MDENG here, group app") == "key *** here, group app"
