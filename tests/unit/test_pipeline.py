"""The send loop against a scripted transport: per-record outcomes, splits, retries, the spool."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import pytest

from threaded_logging._buffer import Buffer
from threaded_logging._ledger import Ledger
from threaded_logging._options import parse_options
from threaded_logging._pipeline import Pipeline
from threaded_logging._report import Reporter
from threaded_logging._retry import Outcome
from threaded_logging._schema import Schema
from threaded_logging._snapshot import MESSAGE, Item
from threaded_logging._spool import Spool
from threaded_logging._transport import Answer, Request, Transport

Script = Callable[[Request], Answer]


class Scripted(Transport):
    """Answers each request with the next function of ``script`` (then: all delivered)."""

    def __init__(self, script: Sequence[Script] = (), per_request: int = 0) -> None:
        super().__init__()
        self.script: List[Script] = list(script)
        self.per_request = per_request
        self.sent: List[List[str]] = []

    def encode(self, items: Sequence[Item]) -> List[Request]:
        size = self.per_request or len(items) or 1
        return [Request(items[i:i + size]) for i in range(0, len(items), size)]

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        self.sent.append([item[MESSAGE] for item in request.items])
        if self.script:
            return self.script.pop(0)(request)
        return Answer.ok(len(request))


def build(transport: Transport, tmp_path: Optional[Path] = None, **options: object) -> Pipeline:
    opts = parse_options({"batch_size": 100, **options})
    ledger = Ledger()
    buffer = Buffer(opts.capacity, opts.overflow, opts.block_timeout_s, ledger)
    schema = Schema()
    transport.schema = schema
    spool = None
    if tmp_path is not None:
        spool = Spool(str(tmp_path), "unit", opts.spool_max_bytes, lambda *a, **k: True, schema.record_id)
    return Pipeline(transport, buffer, ledger, spool, opts, Reporter("test"), time.sleep)


def log(pipeline: Pipeline, count: int) -> None:
    for i in range(count):
        record = logging.LogRecord("unit", logging.INFO, __file__, 1, "n=%d", (i,), None)
        pipeline._buffer.offer(record, f"n={i}", None)


def counters(pipeline: Pipeline) -> dict:
    return pipeline._ledger.counters()


class TestPipeline:
    def test_partial_answer_settles_each_record_once(self) -> None:
        """Delivered, duplicate, failed and retried records are each counted once; only the retried go again."""
        transport = Scripted([lambda r: Answer(delivered=[0], duplicates=[1], failed={2: "bad"}, retry=[3, 4],
                                               error="partly")])
        pipeline = build(transport)
        log(pipeline, 5)
        pipeline.cycle()
        assert transport.sent == [["n=0", "n=1", "n=2", "n=3", "n=4"], ["n=3", "n=4"]]
        c = counters(pipeline)
        assert (c["sent"], c["duplicates"], c["failed"], c["retried"]) == (4, 1, 1, 1)
        assert pipeline._ledger.position() == (5, 5)
        assert pipeline._ledger.lost_between(2, 3) and not pipeline._ledger.lost_between(3, 5)

    def test_an_index_the_answer_forgets_is_sent_again(self) -> None:
        """A record the answer does not mention is retried, never lost."""
        transport = Scripted([lambda r: Answer(delivered=[0, 2])])
        pipeline = build(transport)
        log(pipeline, 3)
        pipeline.cycle()
        assert transport.sent[1] == ["n=1"] and counters(pipeline)["sent"] == 3

    def test_too_large_splits_in_halves_and_a_single_record_fails(self) -> None:
        """A too-large answer re-encodes the records in halves; a lone record that is still too large fails."""
        too_large: Script = lambda r: Answer.too_large(len(r), "413")  # noqa: E731
        transport = Scripted([too_large, too_large])
        pipeline = build(transport)
        log(pipeline, 3)
        pipeline.cycle()
        assert transport.sent == [["n=0", "n=1", "n=2"], ["n=0"], ["n=1", "n=2"]]
        c = counters(pipeline)
        assert (c["sent"], c["failed"]) == (2, 1)
        assert "too large even alone" in (pipeline.last_error or "")

    def test_an_unencodable_record_fails_alone(self) -> None:
        """When a batch cannot be encoded, only the records that cannot be encoded fail."""

        class Picky(Scripted):
            def encode(self, items: Sequence[Item]) -> List[Request]:
                if any(item[MESSAGE] == "n=1" for item in items):
                    raise ValueError("cannot encode n=1")
                return super().encode(items)

        transport = Picky()
        pipeline = build(transport)
        log(pipeline, 3)
        pipeline.cycle()
        assert transport.sent == [["n=0"], ["n=2"]]
        c = counters(pipeline)
        assert (c["sent"], c["failed"]) == (2, 1)
        assert "cannot encode n=1" in (pipeline.last_error or "")

    def test_exceptions_are_classified_by_the_transport(self) -> None:
        """An exception from send is retried or failed as the transport classifies it."""

        class Flaky(Scripted):
            def classify_exception(self, exc: BaseException) -> Outcome:
                return Outcome.RETRY if isinstance(exc, ConnectionError) else Outcome.FINAL

        def refused(request: Request) -> Answer:
            raise ConnectionError("refused")

        def broken(request: Request) -> Answer:
            raise RuntimeError("bug")

        transport = Flaky([refused, broken])
        pipeline = build(transport)
        log(pipeline, 2)
        pipeline.cycle()
        c = counters(pipeline)
        assert len(transport.sent) == 2 and (c["sent"], c["failed"], c["retried"]) == (0, 2, 1)
        assert pipeline.last_error == "RuntimeError: bug"

    def test_gives_up_after_max_retry_time(self) -> None:
        """Records retried for longer than max_retry_time are failed with the reason and the last error."""
        transport = Scripted([lambda r: Answer.retry_all(len(r), "HTTP 503")] * 50)
        pipeline = build(transport, max_retry_time=0.3)
        log(pipeline, 2)
        started = time.monotonic()
        pipeline.cycle()
        c = counters(pipeline)
        assert (c["failed"], c["sent"]) == (2, 0) and time.monotonic() - started < 10
        assert "gave up after" in (pipeline.last_error or "") and "HTTP 503" in (pipeline.last_error or "")


class TestPipelineSpool:
    def test_partial_answer_keeps_only_open_records_on_disk(self, tmp_path: Path) -> None:
        """With a spool, a partial answer leaves exactly the retried records on disk, and flush's watermark waits for them."""
        transport = Scripted([lambda r: Answer(delivered=[0, 2], failed={1: "no"}, retry=[3], error="x")])
        pipeline = build(transport, tmp_path)
        pipeline.adopted.set()
        log(pipeline, 4)
        pipeline.cycle()  # the retry waits on disk: spool mode never sleeps in the cycle
        spool = pipeline._spool
        assert spool is not None and spool.rows == 1
        assert pipeline._ledger.position() == (3, 4), "n=3 (seq 4) is still held"
        assert pipeline.current is not None and [i[MESSAGE] for i in pipeline.current.items] == ["n=3"]
        pipeline.current.retry = pipeline.current.retry.__class__()  # due now
        pipeline.cycle()
        assert spool.rows == 0 and transport.sent[-1] == ["n=3"]
        c = counters(pipeline)
        assert (c["sent"], c["failed"]) == (3, 1) and pipeline._ledger.position() == (4, 4)

    def test_records_requeued_behind_a_gap_keep_flush_waiting(self, tmp_path: Path) -> None:
        """When the spool takes only part of what memory holds, the records left in memory keep the watermark below them."""
        transport = Scripted()
        pipeline = build(transport, tmp_path, capacity=5, spool_max_bytes=4096)
        pipeline.adopted.set()
        log(pipeline, 40)  # 5 held, 35 dropped: a gap record waits
        spool = pipeline._spool
        assert spool is not None
        real_put = spool.put
        spool.put = lambda items, evict_oldest=False: real_put(items[:3], evict_oldest)  # type: ignore[method-assign]
        pipeline._spool_in()
        pipeline._publish()
        assert spool.rows == 3 and pipeline._buffer.queued() == 2
        assert pipeline._ledger.position()[0] == 0, "the spooled records are not delivered yet"
        pipeline.current = pipeline._next_batch()
        assert pipeline.current is not None
        pipeline.step(pipeline.current)
        pipeline.current = None
        pipeline._publish()
        assert pipeline._ledger.position()[0] == 3, "n=3 and n=4 still wait in memory"


@pytest.mark.parametrize("fates", [[0, 1, 1, 0], [1, 1, 1, 1], [2, 2, 2, 2]])
def test_fates_cover_every_record(fates: List[int]) -> None:
    """Every record of a request ends delivered, failed or open, exactly once."""
    answer = Answer(delivered=[i for i, f in enumerate(fates) if f == 1],
                    failed={i: "x" for i, f in enumerate(fates) if f == 2})
    transport = Scripted([lambda r: answer])
    pipeline = build(transport)
    log(pipeline, 4)
    pipeline.cycle()
    c = counters(pipeline)
    assert c["sent"] + c["failed"] == 4


class TestFullerRequests:
    def test_a_cycle_sends_full_batches_and_leaves_a_partial_one_for_the_next_wake(self) -> None:
        """With nobody waiting, a cycle sends every full batch and one more, not a trailing partial batch."""
        transport = Scripted()
        pipeline = build(transport, batch_size=10)
        log(pipeline, 25)
        pipeline.cycle()
        assert [len(sent) for sent in transport.sent] == [10, 10], "the last 5 wait for the next wake"
        pipeline.cycle()
        assert [len(sent) for sent in transport.sent] == [10, 10, 5]

    def test_a_waiting_flush_gets_everything_sent_at_once(self) -> None:
        """While a flush() waits, the cycle sends partial batches too."""
        import threading

        transport = Scripted()
        pipeline = build(transport, batch_size=10)
        log(pipeline, 25)
        waiter = threading.Thread(target=pipeline._ledger.wait_settled, args=(25, time.monotonic() + 10))
        waiter.start()
        assert wait_for_waiter(pipeline)
        pipeline.cycle()
        waiter.join(10)
        assert [len(sent) for sent in transport.sent] == [10, 10, 5]


def wait_for_waiter(pipeline: Pipeline) -> bool:
    deadline = time.monotonic() + 10
    while not pipeline._ledger.has_waiters():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True
