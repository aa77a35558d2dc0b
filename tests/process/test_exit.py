"""Interpreter exit with a threaded handler attached, in real subprocesses."""

from __future__ import annotations

import json


class TestExit:
    def test_slow_target_exits_within_shutdown_timeout(self, run_script) -> None:  # type: ignore[no-untyped-def]
        """10,000 records to a slow target: exit within shutdown_timeout + 1 s,
        every record delivered or counted as dropped and reported."""
        result = run_script(
            """
            import json, logging, sys, time, atexit
            from threaded_logging import ThreadedHandler

            class Slow(logging.Handler):
                delivered = 0
                def emit(self, record):
                    time.sleep(0.001)
                    Slow.delivered += 1

            target = Slow()
            handler = ThreadedHandler(target, shutdown_timeout=2, capacity=20000)
            logging.root.addHandler(handler)
            logging.root.setLevel(logging.INFO)
            for i in range(10000):
                logging.info("n=%d", i)
            def report():
                s = handler.stats()
                s["delivered"] = Slow.delivered
                print(json.dumps(s), flush=True)
            # atexit runs last-registered first: report after the handlers closed
            import threaded_logging._handler
            atexit.register(report)
            atexit.unregister(threaded_logging._handler.close_all)
            atexit.register(threaded_logging._handler.close_all)
            print("exit-starts", time.time(), flush=True)
            """
        )
        assert result.returncode == 0, result.stderr
        exit_started = float(next(l for l in result.stdout.splitlines() if l.startswith("exit-starts")).split()[1])
        assert result.ended - exit_started < 2 + 1, "exit within shutdown_timeout + 1 s"
        stats = json.loads(result.stdout.splitlines()[-1])
        assert stats["emitted"] == 10_000
        # the one record inside the target at the deadline may still land
        assert stats["sent"] <= stats["delivered"] <= stats["sent"] + 1
        assert stats["sent"] + stats["dropped"] == 10_000
        assert stats["dropped"] > 0
        assert f"{stats['dropped']} record(s) not delivered" in result.stderr

    def test_fast_target_delivers_everything_at_exit(self, run_script) -> None:  # type: ignore[no-untyped-def]
        """Without an explicit close, exit delivers every queued record."""
        result = run_script(
            """
            import logging, sys
            from threaded_logging import ThreadedHandler
            target = logging.StreamHandler(sys.stdout)
            handler = ThreadedHandler(target, flush_interval=60000)
            logging.root.addHandler(handler)
            logging.root.setLevel(logging.INFO)
            for i in range(500):
                logging.info("n=%d", i)
            """
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"n={i}" for i in range(500)]
        assert result.stderr == ""

    def test_logging_shutdown_takes_one_timeout_not_two(self, run_script) -> None:  # type: ignore[no-untyped-def]
        """logging.shutdown() (flush then close) on a stuck handler takes about one shutdown_timeout."""
        result = run_script(
            """
            import logging, threading, time
            from threaded_logging import ThreadedHandler
            class Stuck(logging.Handler):
                def emit(self, record):
                    threading.Event().wait(60)
            handler = ThreadedHandler(Stuck(), shutdown_timeout=1.5)
            logging.root.addHandler(handler)
            logging.warning("stuck")
            started = time.monotonic()
            logging.shutdown()
            print(round(time.monotonic() - started, 2), handler.stats()["dropped"])
            """
        )
        assert result.returncode == 0, result.stderr
        seconds, dropped = result.stdout.split()
        assert 1.5 <= float(seconds) < 2 * 1.5, "one shutdown_timeout, not one for flush and one for close"
        assert dropped == "1"
