"""ThreadedHandler wrapping stdlib handlers, with real threads (FIFO, overflow, flush, close and
stats are in tests/test_contract.py, over every transport)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from threaded_logging import ThreadedHandler, ThreadedTimer

from ..helpers import SLACK_S, GatedHandler, ListHandler, log_from_threads, make_logger, wait_for


class TestThreadedHandler:
    def test_target_runs_on_the_timer_thread(self) -> None:
        """The wrapped handler's emit runs on the named worker thread."""
        target = ListHandler()
        handler = ThreadedHandler(target, flush_interval=10)
        make_logger("thread", handler).info("x")
        assert handler.flush(timeout=5)
        assert target.threads == ["threaded_logging.ThreadedHandler"]

    def test_emit_returns_while_target_is_stuck(self, stuck_target: GatedHandler) -> None:
        """1,000 calls all return while the target is still stuck, and the records follow once it recovers."""
        handler = ThreadedHandler(stuck_target, flush_interval=10, capacity=2000)
        logger = make_logger("stuck", handler)
        logger.info("first")
        assert stuck_target.entered.wait(5)
        done = threading.Event()

        def log() -> None:
            for i in range(1000):
                logger.info("n=%d", i)
            done.set()

        threading.Thread(target=log).start()
        assert done.wait(SLACK_S * 5), "a call waited on the stuck target"
        assert not stuck_target.gate.is_set() and handler.stats()["queued"] == 1000
        stuck_target.gate.set()
        assert handler.flush(timeout=10)
        assert len(stuck_target.messages) == 1001

    def test_flush_false_when_records_were_dropped(self, stuck_target: GatedHandler) -> None:
        """flush() reports False when a record emitted before it was dropped."""
        handler = ThreadedHandler(stuck_target, flush_interval=10, capacity=1)
        logger = make_logger("flushdrop", handler)
        logger.info("a")
        assert stuck_target.entered.wait(5)
        logger.info("b")
        logger.info("c")  # dropped: buffer holds b
        stuck_target.gate.set()
        assert handler.flush(timeout=5) is False
        assert handler.flush(timeout=5) is True  # nothing new was lost

    def test_eight_threads_every_record_exactly_once(self) -> None:
        """8 threads logging concurrently: every record arrives once, per-thread order kept."""
        target = ListHandler()
        handler = ThreadedHandler(target, flush_interval=20, capacity=100_000)
        log_from_threads(make_logger("threads", handler), threads=8, per_thread=2000)
        assert handler.flush(timeout=20)
        assert len(target.messages) == 16_000 == len(set(target.messages))
        for t in range(8):
            mine = [m for m in target.messages if m.startswith(f"{t}:")]
            assert mine == [f"{t}:{i}" for i in range(2000)]
        assert handler.stats()["emitted"] == 16_000

    def test_feedback_loop_guard(self) -> None:
        """A record logged by the sending machinery on the worker is not fed back;
        the same logger used on an application thread is shipped."""
        lib = logging.getLogger("urllib3.fake")

        class Chatty(ListHandler):
            def emit(self, record: logging.LogRecord) -> None:
                lib.warning("connection pool is full")  # as urllib3 would, on the worker
                super().emit(record)

        target = Chatty()
        handler = ThreadedHandler(target, flush_interval=10)
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.getLogger("app").info("one")
        lib.info("app thread uses urllib3 logger")
        assert handler.flush(timeout=5)
        assert target.messages == ["one", "app thread uses urllib3 logger"]
        assert handler.stats()["emitted"] == 2

    def test_errors_never_reach_the_caller(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A target that raises, and unformattable records, never raise in logger calls."""

        class Broken(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                raise OSError("disk on fire")

            def handleError(self, record: logging.LogRecord) -> None:
                raise  # a target whose error policy re-raises

        handler = ThreadedHandler(Broken(), flush_interval=10, max_retry_time=0.3)
        logger = make_logger("broken", handler)
        logger.info("%d", "not a number")
        logger.info("plain")
        assert wait_for(lambda: handler.stats()["failed"] == 2, timeout=10)
        assert "disk on fire" in (handler.stats()["last_error"] or "")
        assert "disk on fire" in capsys.readouterr().err

    def test_args_mutated_after_the_call_are_not_shipped(self, stuck_target: GatedHandler) -> None:
        """The message is frozen at emit time even if the target runs later."""
        target = stuck_target
        handler = ThreadedHandler(target, flush_interval=10)
        logger = make_logger("mutate", handler)
        data = ["a"]
        logger.info("first")
        assert target.entered.wait(5)
        logger.info("data=%s", data)
        data.append("b")
        target.gate.set()
        assert handler.flush(timeout=5)
        assert target.messages == ["first", "data=['a']"]

    def test_close_is_idempotent_and_counts_later_records(self) -> None:
        """close() twice is fine; records after close are counted as dropped."""
        target = ListHandler()
        handler = ThreadedHandler(target, flush_interval=10)
        logger = make_logger("close", handler)
        logger.info("before")
        handler.close()
        handler.close()
        logger.info("after")
        assert target.messages == ["before"]
        stats = handler.stats()
        assert (stats["emitted"], stats["sent"], stats["dropped"]) == (2, 1, 1)

    def test_handler_needs_a_target(self) -> None:
        """The base class without a target or a transport is refused clearly."""
        with pytest.raises(TypeError, match="needs a handler to wrap"):
            ThreadedHandler()
        with pytest.raises(TypeError, match="must be a logging.Handler"):
            ThreadedHandler("file.log")  # type: ignore[arg-type]


class TestThreadedTimer:
    def test_calls_timeout_every_interval_and_on_wake(self) -> None:
        """The timer calls timeout() periodically and immediately when woken."""
        calls: list = []
        ticked = threading.Event()

        class Target:
            def timeout(self) -> None:
                calls.append(time.monotonic())
                ticked.set()

        timer = ThreadedTimer(60_000, Target())
        timer.start()
        try:
            assert not ticked.wait(0.2)
            timer.wake()
            assert ticked.wait(5)
        finally:
            assert timer.stop(5)
        assert len(calls) == 2  # the wake, then the final call on stop
        fast = ThreadedTimer(20, Target())
        fast.start()
        assert wait_for(lambda: len(calls) >= 6, timeout=5)
        assert fast.stop(5)

    def test_survives_exceptions_and_is_a_named_daemon(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An exception in timeout() is reported and the timer keeps running."""
        count = [0]

        class Flaky:
            def timeout(self) -> None:
                count[0] += 1
                raise ValueError("flaky")

        timer = ThreadedTimer(10, Flaky())
        assert timer.daemon and timer.name == "threaded_logging.ThreadedTimer"
        timer.start()
        assert wait_for(lambda: count[0] >= 3, timeout=5)
        assert timer.stop(5)
        assert "ValueError('flaky')" in capsys.readouterr().err

    def test_rejects_bad_interval(self) -> None:
        """The interval must be a positive number of milliseconds."""
        with pytest.raises(ValueError, match="interval"):
            ThreadedTimer(0, object())  # type: ignore[arg-type]
