"""The CloudWatch Logs transport against moto's server on a loopback port, through boto3.

moto checks what matters here as AWS does: a call's events must be in
chronological order, and the group and stream must exist.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, List

import pytest

from threaded_logging._retry import Outcome
from threaded_logging.transports._cloudwatch_events import MAX_CALL_BYTES, MAX_EVENTS_PER_CALL, TOO_NEW
from threaded_logging.transports._encode import MARKER
from threaded_logging.transports.cloudwatch import CloudWatchTransport

from .cloudwatch_helpers import CallLog, group_names, make_items, read_events, read_records, ship, stream_names
from .servers import free_port


def new_transport(logs_client: Any, log_group: str, **options: Any) -> CloudWatchTransport:
    return CloudWatchTransport(log_group, options.pop("log_stream", "{host}-{pid}"), client=logs_client, **options)


class TestDelivery:
    def test_records_arrive_in_logged_order_as_schema_json(self, logs_client: Any, log_group: str) -> None:
        """Each record is one event whose message is the schema JSON, in logged order, with its record_id."""
        t = new_transport(logs_client, log_group)
        answers = ship(t, make_items([f"n={i}" for i in range(50)]))
        assert all(a.all_delivered for a in answers)
        records = read_records(logs_client, log_group, t.stream_name())
        assert [r["message"] for r in records] == [f"n={i}" for i in range(50)]
        first = records[0]
        assert (first["level"], first["logger"], first["function"]) == ("INFO", "cw.test", "test")
        assert first["record_id"] == t.schema.record_id(make_items(["x"])[0])
        events = read_events(logs_client, log_group, t.stream_name())
        assert events[0]["timestamp"] == int(first["created"] * 1000)

    def test_text_format_ships_the_formatter_output(self, logs_client: Any, log_group: str) -> None:
        """format='text': each event is the line the handler's formatter makes."""
        t = new_transport(logs_client, log_group, format="text")
        t.render_text = logging.Formatter("%(levelname)s %(name)s: %(message)s").format
        assert all(a.all_delivered for a in ship(t, make_items(["hello", "world"])))
        messages = [e["message"] for e in read_events(logs_client, log_group, t.stream_name())]
        assert messages == ["INFO cw.test: hello", "INFO cw.test: world"]

    def test_12000_records_in_calls_within_both_limits(self, logs_client: Any, log_group: str) -> None:
        """12,000 records: every call within 10,000 events and 1 MiB; all stored once, in order."""
        calls = CallLog(logs_client)
        t = new_transport(logs_client, log_group)
        batch = make_items([f"n={i} " + "ü" * 40 for i in range(12_000)])
        assert all(a.all_delivered for a in ship(t, batch))
        assert len(calls.puts) >= 4  # about 450 bytes a record: the byte limit decides
        assert max(p["bytes"] for p in calls.puts) <= MAX_CALL_BYTES
        assert max(p["count"] for p in calls.puts) <= MAX_EVENTS_PER_CALL
        assert sum(p["count"] for p in calls.puts) == 12_000
        records = read_records(logs_client, log_group, t.stream_name())
        assert [r["message"] for r in records] == [f"n={i} " + "ü" * 40 for i in range(12_000)]

    def test_short_text_records_fill_calls_to_10000_events(self, logs_client: Any, log_group: str) -> None:
        """12,000 one-word text records go in a call of 10,000 events and one of 2,000."""
        calls = CallLog(logs_client)
        t = new_transport(logs_client, log_group, format="text")
        assert all(a.all_delivered for a in ship(t, make_items([str(i) for i in range(12_000)])))
        assert [p["count"] for p in calls.puts] == [10_000, 2_000]
        assert len(read_events(logs_client, log_group, t.stream_name())) == 12_000

    def test_a_300_kib_message_is_cut_with_the_marker(self, logs_client: Any, log_group: str) -> None:
        """A 300 KiB message arrives cut to 256 KiB with the marker, between its neighbours."""
        t = new_transport(logs_client, log_group)
        big = "y" * (300 * 1024)
        assert all(a.all_delivered for a in ship(t, make_items(["before", big, "after"])))
        events = read_events(logs_client, log_group, t.stream_name())
        assert max(len(e["message"].encode()) + 26 for e in events) <= 262_144
        records = [json.loads(e["message"]) for e in events]
        assert [r["message"][:6] for r in records] == ["before", "yyyyyy", "after"]
        assert records[1]["message"].endswith(MARKER) and records[1]["truncated"] == len(big)

    def test_records_from_threads_are_sent_in_time_order(self, logs_client: Any, log_group: str) -> None:
        """Records logged from several threads, queued out of time order, are accepted in one chronological call."""
        queued: List[logging.LogRecord] = []
        lock = threading.Lock()

        def work(t: int) -> None:
            for i in range(200):
                rec = logging.LogRecord("cw.threads", logging.INFO, __file__, 1, f"{t}:{i}", None, None)
                rec.created -= (i % 7) * 0.003  # as if the thread lost the CPU before queueing
                with lock:
                    queued.append(rec)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        calls = CallLog(logs_client)
        t = new_transport(logs_client, log_group)
        batch = [(i + 1, rec, rec.msg, None) for i, rec in enumerate(queued)]
        assert [a.all_delivered for a in ship(t, batch)] == [True]
        stamps = calls.puts[0]["stamps"]
        assert stamps == sorted(stamps) and stamps != [int(r.created * 1000) for r in queued]
        stored = [r["message"] for r in read_records(logs_client, log_group, t.stream_name())]
        assert sorted(stored) == sorted(r.msg for r in queued)


class TestCreation:
    def test_nothing_is_created_before_the_first_send(self, logs_client: Any, log_group: str) -> None:
        """Construction calls nothing; the first send creates the group (with its retention) and the stream."""
        calls = CallLog(logs_client)
        t = new_transport(logs_client, log_group, retention_days=7)
        assert calls.operations == []
        assert group_names(logs_client, log_group) == []
        calls.operations.clear()
        assert all(a.all_delivered for a in ship(t, make_items(["first"])))
        assert calls.operations == ["PutLogEvents", "CreateLogStream", "CreateLogGroup", "PutRetentionPolicy",
                                    "CreateLogStream", "PutLogEvents"]
        (group,) = logs_client.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
        assert group["retentionInDays"] == 7
        assert stream_names(logs_client, log_group) == [t.stream_name()]
        assert t.stream_name().endswith(f"-{os.getpid()}")
        calls.operations.clear()
        ship(t, make_items(["second"]))
        assert calls.operations == ["PutLogEvents"]  # created once

    def test_an_existing_group_keeps_its_retention(self, logs_client: Any, log_group: str) -> None:
        """A group made by someone else is used as it is: only the stream is created."""
        logs_client.create_log_group(logGroupName=log_group)
        logs_client.put_retention_policy(logGroupName=log_group, retentionInDays=30)
        t = new_transport(logs_client, log_group, retention_days=1)
        assert all(a.all_delivered for a in ship(t, make_items(["x"])))
        (group,) = logs_client.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
        assert group["retentionInDays"] == 30

    def test_missing_group_without_create_group_fails_the_batch(self, logs_client: Any, log_group: str) -> None:
        """create_group=False and no group: every record failed with one clear reason; nothing created."""
        t = new_transport(logs_client, log_group, create_group=False)
        (answer,) = ship(t, make_items(["a", "b", "c"]))
        assert sorted(answer.failed) == [0, 1, 2] and not answer.retry
        assert f"log group '{log_group}' does not exist and create_group is False" in str(answer.error)
        assert group_names(logs_client, log_group) == []

    def test_without_create_group_an_existing_group_gets_its_stream(self, logs_client: Any, log_group: str) -> None:
        """create_group=False still creates the stream in a group that exists."""
        logs_client.create_log_group(logGroupName=log_group)
        t = new_transport(logs_client, log_group, create_group=False)
        assert all(a.all_delivered for a in ship(t, make_items(["a"])))
        assert stream_names(logs_client, log_group) == [t.stream_name()]

    def test_a_group_deleted_while_running_is_made_again(self, logs_client: Any, log_group: str) -> None:
        """The group vanishes between two sends: the next send recreates group and stream."""
        t = new_transport(logs_client, log_group)
        ship(t, make_items(["before"]))
        logs_client.delete_log_group(logGroupName=log_group)
        assert all(a.all_delivered for a in ship(t, make_items(["after"])))
        assert [r["message"] for r in read_records(logs_client, log_group, t.stream_name())] == ["after"]

    def test_the_date_field_names_a_stream_per_day(self, logs_client: Any, log_group: str) -> None:
        """log_stream='{date}/{pid}': records of two UTC days land in two streams."""
        t = new_transport(logs_client, log_group, log_stream="{date}/{pid}")
        now = time.time()
        midnight = now - now % 86400
        batch = make_items(["yesterday", "today"], created=[midnight - 5, midnight + 5])
        if midnight + 5 > now:  # just after midnight: keep both in the past
            batch = make_items(["yesterday", "today"], created=[midnight - 86400 - 5, midnight - 86400 + 5])
        assert all(a.all_delivered for a in ship(t, batch))
        assert len(stream_names(logs_client, log_group)) == 2


class TestAnswers:
    def test_an_event_too_far_in_the_future_fails_alone(self, logs_client: Any, log_group: str) -> None:
        """An event 3 h ahead is failed as too new; the others of its call are stored."""
        t = new_transport(logs_client, log_group)
        now = time.time()
        # moto reports the last rejected index where AWS reports the first; one
        # too-new event reads the same under both
        (answer,) = ship(t, make_items(["late", "ok-1", "ok-2"], created=[now + 3 * 3600, now, now + 0.001]))
        assert answer.failed == {0: TOO_NEW}
        assert sorted(answer.delivered) == [1, 2]
        assert [r["message"] for r in read_records(logs_client, log_group, t.stream_name())] == ["ok-1", "ok-2"]


class TestFailures:
    def test_dead_endpoint_is_retried_and_quick(self, aws_env: None) -> None:
        """An unreachable endpoint raises a retryable error within seconds, with a plain description."""
        t = CloudWatchTransport("app", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1")
        (request,) = t.encode(make_items(["x"]))
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            t.send(request, None)
        assert time.monotonic() - started < 10
        assert t.classify_exception(caught.value) is Outcome.RETRY
        assert "Could not connect to the endpoint URL" in t.describe_failure(caught.value)
        t.close()

    def test_own_client_from_endpoint_and_region(self, moto_endpoint: str, aws_env: None, logs_client: Any,
                                                 log_group: str) -> None:
        """Without client=, the transport makes its own on the first send and closes it on close()."""
        t = CloudWatchTransport(log_group, endpoint_url=moto_endpoint, region_name="us-east-1")
        assert t._client is None
        assert all(a.all_delivered for a in ship(t, make_items(["own"])))
        assert [r["message"] for r in read_records(logs_client, log_group, t.stream_name())] == ["own"]
        t.close()
        assert t._client is None


class TestFork:
    def test_after_fork_the_same_transport_writes_a_new_stream(self, logs_client: Any, log_group: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """A new pid (as in a forked child) renders a new stream, created on its first send."""
        t = new_transport(logs_client, log_group)
        ship(t, make_items(["parent"]))
        parent_stream = t.stream_name()
        monkeypatch.setattr(os, "getpid", lambda: 999_999)
        t.after_fork()
        assert all(a.all_delivered for a in ship(t, make_items(["child"])))
        child_stream = t.stream_name()
        assert child_stream != parent_stream and child_stream.endswith("-999999")
        assert [r["message"] for r in read_records(logs_client, log_group, child_stream)] == ["child"]
        assert [r["message"] for r in read_records(logs_client, log_group, parent_stream)] == ["parent"]
