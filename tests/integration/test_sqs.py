"""The SQS handlers against moto's server on a loopback port, through boto3."""

from __future__ import annotations

import getpass
import json
import uuid
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest

from threaded_logging import CloudLaunchHandler, ThreadedAwsHandler, ThreadedSqsHandler

from ..helpers import make_logger, wait_for
from .servers import free_port
from .sqs_helpers import Consumer


@pytest.fixture
def sqs(moto_endpoint: str, aws_env: None) -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")


def new_queue(sqs: Any, fifo: bool = False) -> tuple[str, str]:
    name = f"logs-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    return name, sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


class TestThreadedAwsHandler:
    def test_records_arrive_once_with_schema_user_and_revision(self, sqs: Any, moto_endpoint: str) -> None:
        """Camelot's handler: every record arrives once, in the schema, with user and revision."""
        name, url = new_queue(sqs)
        handler = ThreadedAwsHandler("AKIDEXAMPLE", "secret", name, revision=42,
                                     connection_kwargs={"endpoint_url": moto_endpoint, "region_name": "us-east-1"},
                                     flush_interval=20)
        logger = make_logger("sqs.camelot", handler)
        for i in range(30):
            logger.warning("n=%d", i, extra={"order": i})
        assert handler.flush(timeout=20)
        records = Consumer(sqs, url).collect(30)
        assert sorted(r["order"] for r in records) == list(range(30))
        assert len(records) == 30
        first = records[0]
        assert (first["user"], first["revision"]) == (getpass.getuser(), 42)
        assert first["level"] == "WARNING" and first["logger"] == "sqs.camelot" and first["timestamp"].endswith("Z")
        stats = handler.stats()
        assert (stats["sent"], stats["failed"], stats["batches"]) == (30, 0, 3)

    def test_message_attributes_carry_level_and_logger(self, sqs: Any, moto_endpoint: str) -> None:
        """Consumers can filter on the level and logger attributes."""
        name, url = new_queue(sqs)
        handler = ThreadedSqsHandler(queue_name=name, endpoint_url=moto_endpoint, region_name="us-east-1", flush_interval=10)
        make_logger("sqs.attrs", handler).error("bad")
        assert handler.flush(timeout=10)
        consumer = Consumer(sqs, url)
        consumer.collect(1)
        attributes = consumer.messages[0]["MessageAttributes"]
        assert attributes["level"]["StringValue"] == "ERROR"
        assert attributes["logger"]["StringValue"] == "sqs.attrs"


class TestThreadedSqsHandler:
    def test_fifo_queue_keeps_order(self, sqs: Any) -> None:
        """Records reach a FIFO queue in the order they were logged."""
        name, url = new_queue(sqs, fifo=True)
        handler = ThreadedSqsHandler(queue_url=url, client=sqs, flush_interval=10, batch_size=7)
        logger = make_logger("sqs.fifo", handler)
        for i in range(40):
            logger.info("n=%d", i)
        assert handler.flush(timeout=20)
        records = Consumer(sqs, url).collect(40)
        assert [r["message"] for r in records] == [f"n={i}" for i in range(40)]

    def test_pack_mode_round_trips(self, sqs: Any) -> None:
        """pack=True puts many records in one NDJSON message; all come back in order."""
        name, url = new_queue(sqs)
        handler = ThreadedSqsHandler(queue_url=url, client=sqs, pack=True, flush_interval=1000)
        logger = make_logger("sqs.pack", handler)
        for i in range(500):
            logger.info("n=%d", i)
        assert handler.flush(timeout=20)
        consumer = Consumer(sqs, url)
        records = consumer.collect(500)
        assert [r["message"] for r in records] == [f"n={i}" for i in range(500)]
        assert len(consumer.messages) == 1
        assert consumer.messages[0]["MessageAttributes"]["records"]["StringValue"] == "500"

    def test_two_megabyte_record_is_truncated_with_marker(self, sqs: Any) -> None:
        """A 2 MB record arrives cut to the message limit, marked, between its neighbours."""
        name, url = new_queue(sqs)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "262144"})
        handler = ThreadedSqsHandler(queue_url=url, client=sqs, flush_interval=10)
        logger = make_logger("sqs.big", handler)
        logger.info("before")
        logger.info("y" * (2 * 1024 * 1024))
        logger.info("after")
        assert handler.flush(timeout=20)
        consumer = Consumer(sqs, url)
        records = consumer.collect(3)
        big = next(r for r in records if "truncated" in r)
        assert big["truncated"] == 2 * 1024 * 1024
        assert big["message"].endswith("...[truncated]")
        assert max(len(m["Body"].encode()) for m in consumer.messages) <= 262144
        assert sorted(r["message"] for r in records if "truncated" not in r) == ["after", "before"]
        assert handler.stats()["sent"] == 3

    def test_25_records_make_3_batch_calls(self, sqs: Any) -> None:
        """SendMessageBatch carries 10 entries: 25 records are 3 calls (counted by event hook)."""
        name, url = new_queue(sqs)
        calls: List[int] = []
        sqs.meta.events.register("before-call.sqs.SendMessageBatch",
                                 lambda params, **kw: calls.append(len(json.loads(params["body"])["Entries"])))
        handler = ThreadedSqsHandler(queue_url=url, client=sqs, flush_interval=60_000, batch_size=25)
        logger = make_logger("sqs.calls", handler)
        for i in range(25):
            logger.info("n=%d", i)
        assert handler.flush(timeout=20)
        assert calls == [10, 10, 5]
        assert len(Consumer(sqs, url).collect(25)) == 25

    def test_partial_failure_retries_only_the_retryable_entries(self, sqs: Any) -> None:
        """Entries failed by the server are retried; sender faults count as failed; nothing doubles."""
        name, url = new_queue(sqs)
        plan = {"retry": {"2", "5"}, "reject": {"7"}}
        withheld: List[str] = []

        def withhold(params: Dict[str, Any], **kwargs: Any) -> None:
            if plan["retry"] or plan["reject"]:
                keep = []
                for entry in params["Entries"]:
                    if entry["Id"] in plan["retry"] | plan["reject"]:
                        withheld.append(entry["Id"])
                    else:
                        keep.append(entry)
                params["Entries"] = keep

        def report(parsed: Dict[str, Any], **kwargs: Any) -> None:
            if withheld:
                parsed.setdefault("Failed", []).extend(
                    {"Id": i, "SenderFault": i in plan["reject"], "Code": "InternalError" if i not in plan["reject"] else "InvalidMessageContents", "Message": "injected"}
                    for i in withheld
                )
                withheld.clear()
                plan["retry"], plan["reject"] = set(), set()

        sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", withhold)
        sqs.meta.events.register("after-call.sqs.SendMessageBatch", report)
        handler = ThreadedSqsHandler(queue_url=url, client=sqs, flush_interval=10)
        logger = make_logger("sqs.partial", handler)
        for i in range(10):
            logger.info("n=%d", i)
        assert handler.flush(timeout=20) is False  # one was rejected for good
        records = Consumer(sqs, url).collect(9)
        assert sorted(r["message"] for r in records) == sorted(f"n={i}" for i in range(10) if i != 7)
        stats = handler.stats()
        assert (stats["sent"], stats["failed"], stats["retried"]) == (9, 1, 1)

    def test_five_thousand_records_arrive_complete(self, sqs: Any) -> None:
        """5,000 records with default options all arrive, once each."""
        name, url = new_queue(sqs)
        consumer = Consumer(sqs, url).start()
        handler = ThreadedSqsHandler(queue_url=url, client=sqs)
        logger = make_logger("sqs.bulk", handler)
        try:
            for i in range(5000):
                logger.info("n=%d", i)
            assert handler.flush(timeout=120)
            assert wait_for(lambda: len(consumer.records) >= 5000, timeout=60)
        finally:
            consumer.stop()
        ids = [m["MessageId"] for m in consumer.messages]
        messages = [r["message"] for r in consumer.records]
        assert len(set(ids)) == 5000, (len(ids), handler.stats())
        assert len(set(messages)) == 5000
        assert handler.stats()["sent"] == 5000


class TestFailures:
    def test_missing_queue_reports_and_counts_without_raising(self, moto_endpoint: str, aws_env: None,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
        """A queue that does not exist: a clear stderr line, failed and last_error, no exception."""
        handler = ThreadedSqsHandler(queue_name="no-such-queue", endpoint_url=moto_endpoint, region_name="us-east-1",
                                     flush_interval=10, max_retry_time=1)
        logger = make_logger("sqs.missing", handler)
        logger.info("lost")
        assert wait_for(lambda: handler.stats()["failed"] == 1, timeout=20)
        stats = handler.stats()
        assert "queue 'no-such-queue' does not exist" in stats["last_error"]
        assert stats["retried"] >= 1
        err = capsys.readouterr().err
        assert "queue 'no-such-queue' does not exist" in err

    def test_missing_queue_created_later_is_found(self, sqs: Any, moto_endpoint: str) -> None:
        """The handler keeps trying: once the queue exists, waiting records arrive."""
        name = f"late-{uuid.uuid4().hex[:8]}"
        handler = ThreadedSqsHandler(queue_name=name, endpoint_url=moto_endpoint, region_name="us-east-1", flush_interval=10)
        make_logger("sqs.late", handler).info("patience")
        assert wait_for(lambda: handler.stats()["retried"] >= 1, timeout=10)
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        assert handler.flush(timeout=30)
        assert [r["message"] for r in Consumer(sqs, url).collect(1)] == ["patience"]

    def test_endpoint_down_reports_and_counts_without_raising(self, aws_env: None,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
        """An unreachable endpoint: retried, then failed, reported; the caller never sees it."""
        handler = ThreadedSqsHandler(queue_name="q", endpoint_url=f"http://127.0.0.1:{free_port()}",
                                     region_name="us-east-1", flush_interval=10, max_retry_time=1)
        make_logger("sqs.down", handler).info("nowhere")
        assert wait_for(lambda: handler.stats()["failed"] == 1, timeout=30)
        assert "Could not connect to the endpoint URL" in handler.stats()["last_error"]
        assert "Could not connect" in capsys.readouterr().err

    def test_bad_arguments(self, aws_env: None) -> None:
        """Queue arguments and client keyword arguments are validated at construction."""
        with pytest.raises(TypeError, match="exactly one of queue_url and queue_name"):
            ThreadedSqsHandler()
        with pytest.raises(TypeError, match="unknown boto3 client argument"):
            ThreadedSqsHandler(queue_name="q", client_kwargs={"regoin_name": "x"})


class TestCloudLaunchHandler:
    def test_queue_name_and_keys_from_the_record(self, sqs: Any, moto_endpoint: str) -> None:
        """cloudlaunch-<author>-<name>-logging with underscores; records carry the revision."""
        record = SimpleNamespace(author="Jane Doe", name="My App", revision=7,
                                 public_access_key="AKIDEXAMPLE", public_secret_key="secret")
        url = sqs.create_queue(QueueName="cloudlaunch-Jane_Doe-My_App-logging")["QueueUrl"]
        handler = CloudLaunchHandler(record, connection_kwargs={"endpoint_url": moto_endpoint, "region_name": "us-east-1"},
                                     flush_interval=10)
        assert handler.queue_name == "cloudlaunch-Jane_Doe-My_App-logging"
        make_logger("sqs.cloudlaunch", handler).info("launched")
        assert handler.flush(timeout=10)
        (record_,) = Consumer(sqs, url).collect(1)
        assert (record_["message"], record_["revision"]) == ("launched", 7)
