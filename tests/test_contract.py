"""The same behaviours over every transport: FIFO, overflow, flush, close, fork, stats, partial answers.

A transport joins by registering one destination factory with ``@destination``:
it builds a handler for a live destination and reads back what arrived. The
tests hold a destination up, or make it answer partly, by wrapping the
handler's transport (:class:`Gate`, :class:`Partial`), so each runs the
transport's real encoding and sending.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import pytest

from threaded_logging import ThreadedFileHandler, ThreadedHandler, ThreadedHttpHandler
from threaded_logging._snapshot import Item
from threaded_logging._transport import Answer, Request, Transport

from .helpers import SLACK_S, make_logger, wait_for

class Destination:
    """A live destination and a way to read back what it stored, in order."""

    def __init__(self, build: Callable[..., ThreadedHandler], messages: Callable[[], List[str]],
                 cleanup: Callable[[], None] = lambda: None) -> None:
        self.build = build
        self.messages = messages
        self.cleanup = cleanup


Factory = Callable[[pytest.FixtureRequest, Path], Destination]
DESTINATIONS: Dict[str, Factory] = {}


def destination(name: str) -> Callable[[Factory], Factory]:
    """Register a destination factory under ``name``."""

    def register(factory: Factory) -> Factory:
        DESTINATIONS[name] = factory
        return factory

    return register


def _lines(path: Path) -> List[str]:
    return path.read_text().splitlines() if path.exists() else []


@destination("wrapped")
def _wrapped(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    path = tmp_path / "wrapped.log"

    def build(**options: Any) -> ThreadedHandler:
        target = logging.FileHandler(path)
        target.setFormatter(logging.Formatter("%(message)s"))
        return ThreadedHandler(target, **options)

    return Destination(build, lambda: _lines(path))


@destination("file")
def _file(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    path = tmp_path / "threaded.log"

    def build(**options: Any) -> ThreadedHandler:
        handler = ThreadedFileHandler(str(path), **options)
        handler.setFormatter(logging.Formatter("%(message)s"))
        return handler

    return Destination(build, lambda: _lines(path))


def _collector_destination(request: pytest.FixtureRequest, path: str = "", **http: Any) -> Destination:
    from threaded_logging.cli.collector import Collector

    server = Collector("127.0.0.1", 0, keep=True).start()
    path = path or f"/contract-{uuid.uuid4().hex[:8]}"

    def build(**options: Any) -> ThreadedHandler:
        return ThreadedHttpHandler(server.address, path, **http, **options)

    def messages() -> List[str]:
        return [str(r.get("message")) for r in list(server.records or [])]

    return Destination(build, messages, server.stop)


@destination("http_get")
def _http_get(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    return _collector_destination(request, method="GET")


@destination("http_post")
def _http_post(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    return _collector_destination(request, method="POST")


#: The destination formats, each sent where its destination listens.
FORMAT_DESTINATIONS = {
    "otlp": ("/v1/logs", {}),
    "elasticsearch": ("/contract/_bulk", {}),
    "loki": ("/loki/api/v1/push", {}),
    "splunk_hec": ("/services/collector/event", {"token": "contract"}),
}


def _format_destination(name: str) -> Factory:
    path, options = FORMAT_DESTINATIONS[name]

    def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
        return _collector_destination(request, path, method="POST", format=name, **options)

    return factory


for _name in FORMAT_DESTINATIONS:
    destination(f"http_{_name}")(_format_destination(_name))


def _sqs_destination(request: pytest.FixtureRequest, pack: bool) -> Destination:
    import boto3

    from threaded_logging import ThreadedSqsHandler

    from .integration.sqs_helpers import Consumer

    endpoint = request.getfixturevalue("moto_endpoint")
    request.getfixturevalue("aws_env")
    client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    name = f"contract-{uuid.uuid4().hex[:10]}.fifo"
    url = client.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    consumer = Consumer(client, url)

    def build(**options: Any) -> ThreadedHandler:
        return ThreadedSqsHandler(queue_url=url, endpoint_url=endpoint, region_name="us-east-1", pack=pack, **options)

    def messages() -> List[str]:
        while consumer.poll():
            pass
        return [str(r["message"]) for r in consumer.records]

    return Destination(build, messages, lambda: client.delete_queue(QueueUrl=url))


@destination("sqs")
def _sqs(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    return _sqs_destination(request, pack=False)


@destination("sqs_pack")
def _sqs_pack(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    return _sqs_destination(request, pack=True)


@destination("cloudwatch")
def _cloudwatch(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    import boto3

    from threaded_logging import ThreadedCloudWatchHandler

    endpoint = request.getfixturevalue("moto_endpoint")
    request.getfixturevalue("aws_env")
    client = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1")
    group = f"/contract/{uuid.uuid4().hex[:10]}"

    def build(**options: Any) -> ThreadedHandler:
        return ThreadedCloudWatchHandler(group, endpoint_url=endpoint, region_name="us-east-1", **options)

    def messages() -> List[str]:
        try:
            streams = client.describe_log_streams(logGroupName=group)["logStreams"]
        except client.exceptions.ResourceNotFoundException:
            return []
        events = []
        for stream in streams:
            got = client.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
            # the order stored: by arrival, then (as the service returns them) by time
            events += [(e["ingestionTime"], e["timestamp"], i, json.loads(e["message"])["message"])
                       for i, e in enumerate(got["events"])]
        return [message for _, _, _, message in sorted(events)]

    def cleanup() -> None:
        try:
            client.delete_log_group(logGroupName=group)
        except client.exceptions.ResourceNotFoundException:
            pass

    return Destination(build, messages, cleanup)


@pytest.fixture(params=sorted(DESTINATIONS))
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    """Every registered destination in turn."""
    made = DESTINATIONS[request.param](request, tmp_path)
    try:
        yield made
    finally:
        made.cleanup()


class Wrapper(Transport):
    """A transport around the handler's own, which it calls for the real work."""

    def __init__(self, inner: Transport) -> None:
        super().__init__()
        self.inner = inner
        self.schema = inner.schema

    def encode(self, items: Sequence[Item]) -> List[Request]:
        return list(self.inner.encode(items))

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        self.inner.deadline = self.deadline
        return self.inner.send(request, timeout_s)

    def classify_exception(self, exc: BaseException) -> Any:
        return self.inner.classify_exception(exc)

    def close(self) -> None:
        self.inner.close()

    def after_fork(self) -> None:
        self.inner.after_fork()

    def describe(self) -> str:
        return self.inner.describe()


class Gate(Wrapper):
    """Holds every send until :attr:`opened` is set (a stuck destination)."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.closed = threading.Event()

    def close(self) -> None:
        super().close()
        self.closed.set()

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        self.entered.set()
        self.opened.wait(60)
        return super().send(request, timeout_s)


class Partial(Wrapper):
    """Answers as a destination that accepts part of a request: ``n=1`` is
    rejected for good, ``n=2`` to ``n=5`` must be sent twice; the rest (and
    their second sending) are stored for real."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self.retried: set = set()

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        delivered, failed, retry = [], {}, []
        for index, item in enumerate(request.items):
            message = item[2]
            if message == "n=1":
                failed[index] = "rejected by the test"
            elif message in ("n=2", "n=3", "n=4", "n=5") and message not in self.retried:
                self.retried.add(message)
                retry.append(index)
            else:
                delivered.append(index)
        if delivered:
            for part in self.inner.encode([request.items[i] for i in delivered]):
                self.inner.send(part, timeout_s)
        return Answer(delivered=delivered, failed=failed, retry=retry, error="partial" if retry or failed else None)


def wrap(handler: ThreadedHandler, kind: Callable[[Transport], Wrapper]) -> Any:
    """Put ``kind`` around the handler's transport (before anything is sent)."""
    wrapper = kind(handler.transport)
    handler.transport = wrapper
    handler._pipeline.transport = wrapper
    return wrapper


@pytest.fixture
def gated(dest: Destination) -> Iterator[Callable[..., Any]]:
    """Build handlers whose destination is held until the test opens the gate."""
    gates: List[Gate] = []

    def build(**options: Any) -> Any:
        handler = dest.build(**options)
        gate = wrap(handler, Gate)
        gates.append(gate)
        return handler, gate

    try:
        yield build
    finally:
        for gate in gates:
            gate.opened.set()


def record_messages(count: int, prefix: str = "n") -> List[str]:
    return [f"{prefix}={i}" for i in range(count)]


def hold(handler: ThreadedHandler, gate: Gate, name: str, count: int) -> logging.Logger:
    """Log "first", wait until the destination holds it, then log ``count`` more records."""
    logger = make_logger(name, handler)
    logger.info("first")
    assert gate.entered.wait(10)
    for i in range(count):
        logger.info("n=%d", i)
    return logger


class TestContract:
    def test_fifo_across_batches(self, dest: Destination) -> None:
        """Records arrive in the order they were logged, across many batches, each once."""
        handler = dest.build(batch_size=10, flush_interval=10)
        logger = make_logger("contract.fifo", handler)
        for i in range(60):
            logger.info("n=%d", i)
        assert handler.flush(timeout=30)
        assert dest.messages() == record_messages(60)
        stats = handler.stats()
        assert (stats["emitted"], stats["sent"], stats["dropped"], stats["failed"]) == (60, 60, 0, 0)
        assert stats["batches"] >= 6

    def test_drop_newest_counts_exactly_and_ships_a_gap_record(self, dest: Destination, gated: Any) -> None:
        """A full buffer drops new records, counts each, and a gap record stands where they were."""
        handler, gate = gated(capacity=10, flush_interval=10)
        logger = hold(handler, gate, "contract.newest", 25)
        gate.opened.set()
        assert handler.flush(timeout=30) is False, "records emitted before the call were dropped"
        logger.info("after")
        assert handler.flush(timeout=30)
        got = dest.messages()
        assert got[:11] == ["first"] + record_messages(10)
        assert "dropped 15 record(s)" in got[11] and got[12:] == ["after"]
        stats = handler.stats()
        assert (stats["emitted"], stats["sent"], stats["dropped"]) == (27, 12, 15)

    def test_drop_oldest_keeps_the_newest(self, dest: Destination, gated: Any) -> None:
        """drop_oldest discards the oldest waiting records; the gap record leads the next batch."""
        handler, gate = gated(capacity=5, flush_interval=10, overflow="drop_oldest")
        hold(handler, gate, "contract.oldest", 12)
        gate.opened.set()
        assert handler.flush(timeout=30) is False
        got = dest.messages()
        assert got[0] == "first" and "dropped 7 record(s)" in got[1]
        assert got[2:] == [f"n={i}" for i in range(7, 12)]
        assert handler.stats()["dropped"] == 7

    def test_block_waits_for_room_and_loses_nothing(self, dest: Destination, gated: Any) -> None:
        """With overflow="block" the caller waits while the destination is held, and nothing is lost."""
        handler, gate = gated(capacity=5, batch_size=5, flush_interval=10, overflow="block", block_timeout=30)
        logger = make_logger("contract.block", handler)
        logger.info("first")
        assert gate.entered.wait(10)
        done = threading.Event()

        def produce() -> None:
            for i in range(8):
                logger.info("n=%d", i)
            done.set()

        producer = threading.Thread(target=produce)
        producer.start()
        assert wait_for(lambda: handler.stats()["queued"] == 5, timeout=10)
        assert not done.is_set(), "the caller waits for room"
        gate.opened.set()
        producer.join(30)
        assert done.is_set() and handler.flush(timeout=30)
        assert dest.messages() == ["first"] + record_messages(8)
        assert handler.stats()["dropped"] == 0

    def test_flush_false_at_its_timeout_true_once_delivered(self, dest: Destination, gated: Any) -> None:
        """flush() returns False when its timeout passes first, True once the records are delivered."""
        handler, gate = gated(flush_interval=10)
        logger = make_logger("contract.flush", handler)
        logger.info("held")
        assert gate.entered.wait(10)
        assert handler.flush(timeout=0.2) is False
        gate.opened.set()
        assert handler.flush(timeout=30) is True
        assert dest.messages() == ["held"]

    def test_close_returns_within_shutdown_timeout_when_stuck(
            self, dest: Destination, gated: Any, capsys: pytest.CaptureFixture[str]) -> None:
        """A destination that never answers: close() returns by shutdown_timeout, the records counted
        as dropped and reported; once the destination recovers, the worker releases it and counts nothing more."""
        handler, gate = gated(flush_interval=10, shutdown_timeout=0.5)
        hold(handler, gate, "contract.close", 4)
        started = time.monotonic()
        handler.close()
        assert time.monotonic() - started < 0.5 + SLACK_S
        stats = handler.stats()
        assert (stats["dropped"], stats["queued"], stats["sent"]) == (5, 0, 0)
        assert "5 record(s) not delivered" in capsys.readouterr().err
        assert not gate.closed.is_set(), "the worker is still inside the destination"
        gate.opened.set()
        assert gate.closed.wait(10), "the worker released the destination once it ended"
        assert handler.stats()["sent"] == 0

    def test_stats_balance_after_drops(self, dest: Destination, gated: Any) -> None:
        """At a quiet moment emitted == sent + dropped + failed + queued + spooled."""
        handler, gate = gated(capacity=20, flush_interval=10)
        hold(handler, gate, "contract.balance", 100)
        gate.opened.set()
        handler.flush(timeout=30)
        s = handler.stats()
        assert s["emitted"] == 101 and s["dropped"] == 80
        assert s["emitted"] == s["sent"] + s["dropped"] + s["failed"] + s["queued"] + s["spooled"]

    def test_partial_answer_settles_each_record_once(self, dest: Destination) -> None:
        """One record rejected, four retried, the rest stored: each record is counted once and stored once."""
        handler = dest.build(flush_interval=10)
        wrap(handler, Partial)
        logger = make_logger("contract.partial", handler)
        for i in range(8):
            logger.info("n=%d", i)
        assert handler.flush(timeout=30) is False, "one record was rejected"
        got = dest.messages()
        assert got == ["n=0", "n=6", "n=7", "n=2", "n=3", "n=4", "n=5"], "the retried records go again, once"
        stats = handler.stats()
        assert (stats["sent"], stats["failed"], stats["dropped"]) == (7, 1, 0) and stats["retried"] >= 1

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
    def test_forked_child_ships_its_own_records_once(self, dest: Destination) -> None:
        """Records queued before fork are the parent's; a forked child ships its own, under new ids; none twice."""
        handler = dest.build(flush_interval=60_000)
        logger = make_logger("contract.fork", handler)
        for i in range(20):
            logger.info("parent %d", i)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                for i in range(10):
                    logger.info("child %d", i)
                ok = handler.flush(timeout=20)
                report = {"ok": ok, "stats": handler.stats(), "prefix": handler._schema.id_prefix}
                os.write(write, json.dumps(report).encode())
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        child = json.loads(os.read(read, 65536) or b"{}")
        os.close(read)
        assert status == 0 and child["ok"] and child["stats"]["sent"] == 10 and child["stats"]["emitted"] == 10
        assert child["prefix"] != handler._schema.id_prefix
        assert handler.flush(timeout=30)
        got = dest.messages()
        assert [m for m in got if m.startswith("parent")] == [f"parent {i}" for i in range(20)]
        assert [m for m in got if m.startswith("child")] == [f"child {i}" for i in range(10)]
