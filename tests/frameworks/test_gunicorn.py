"""docs/examples/gunicorn_conf.py under real gunicorn: sync workers, forked from the master."""

from __future__ import annotations

import signal
from typing import Any, Callable, Dict, List, Sequence, Set

import pytest

from threaded_logging.cli.collector import Collector

from ..helpers import wait_for
from .support import (
    EXAMPLES, Server, app_requests, duplicates, hit_until_all_answer, messages, pid_of, report, wait_records,
)

pytest.importorskip("gunicorn")

WORKERS = 3
REQUESTS = 300


def start_gunicorn(start_server: Callable[..., Server], collector: Collector, *extra: str) -> Server:
    server = start_server(
        ["-m", "gunicorn", "-c", str(EXAMPLES / "gunicorn_conf.py"), "--worker-class", "sync",
         "--workers", str(WORKERS), "--bind", "127.0.0.1:{port}", "--graceful-timeout", "20",
         *extra, "wsgi_app:app"],
        env={"THREADED_LOGGING_COLLECTOR": collector.address},
    )
    return server


def workers_seen(records: Sequence[Dict[str, Any]], prefix: str) -> Set[int]:
    found = {pid_of(m, prefix) for m in messages(records, "gunicorn.error")}
    return {pid for pid in found if pid is not None}


def check_every_record_once(records: List[Dict[str, Any]], served: Dict[str, int], master: int) -> Set[int]:
    """Assert each request gave one app record and one access record, from the pid that
    answered it, that every worker said goodbye, and that nothing came twice; return the
    worker pids."""
    assert duplicates(records) == []
    arrived = app_requests(records)
    assert {rid: pids for rid, pids in arrived.items()} == {rid: [pid] for rid, pid in served.items()}
    access = [m for m in messages(records, "gunicorn.access") if '"GET /?' in m]
    assert len(access) == len(served)
    assert sorted(m.split('"GET /?', 1)[1].split(" ", 1)[0] for m in access) == sorted(served)
    booted = workers_seen(records, "Booting worker with pid:")
    assert workers_seen(records, "Worker exiting (pid:") == booted
    assert set(served.values()) <= booted and master not in booted
    master_lines = {r["message"] for r in records if r["process"] == master}
    assert "Shutting down: Master" in master_lines
    assert {r["server"] for r in records} == {"gunicorn"}
    return booted


@pytest.mark.slow
class TestGunicorn:
    @pytest.mark.parametrize("preload", [False, True], ids=["fork-then-load", "preload"])
    def test_every_request_record_arrives_once_from_every_worker(
        self, start_server: Callable[..., Server], collector: Collector, preload: bool
    ) -> None:
        """Under real gunicorn with 3 sync workers, every request (300 after a warm-up that reached
        all 3 workers) gives one app and one access record, once each, from the pid that answered,
        and SIGTERM ends the master with status 0."""
        server = start_gunicorn(start_server, collector, *(["--preload"] if preload else []))
        served = dict(server.wait_ready())
        served.update(hit_until_all_answer(server, "warm", WORKERS))
        served.update(server.hit(f"r{i}" for i in range(REQUESTS)))
        assert server.stop(signal.SIGTERM) == 0, server.stderr
        assert wait_records(collector, lambda rs: "Shutting down: Master" in messages(rs, "gunicorn.error"))
        records = list(collector.records)
        booted = check_every_record_once(records, served, server.pid)
        assert len(booted) == WORKERS
        assert "threaded_logging" not in server.stderr
        report(f"gunicorn preload={preload}", requests=len(served), records=len(records),
               app=len(app_requests(records)), worker_pids=sorted(booted), master=server.pid, exit=0)

    def test_reload_with_sighup_loses_and_repeats_nothing(
        self, start_server: Callable[..., Server], collector: Collector
    ) -> None:
        """SIGHUP replaces the 3 workers with 3 new ones: the records of old and new workers
        each arrive once, and SIGTERM then ends the master with status 0."""
        server = start_gunicorn(start_server, collector)
        served = dict(server.wait_ready())
        served.update(hit_until_all_answer(server, "warm", WORKERS))
        served.update(server.hit(f"old{i}" for i in range(REQUESTS // 2)))
        old = set(served.values())
        assert len(old) == WORKERS
        server.send(signal.SIGHUP)
        new: Set[int] = set()
        rounds = iter(range(1000))

        def new_workers_answer() -> bool:  # one round of 6 requests per poll
            answered = server.hit(f"new{next(rounds)}-{i}" for i in range(6))
            served.update(answered)
            new.update(pid for _, pid in answered if pid not in old)
            return len(new) == WORKERS

        assert wait_for(new_workers_answer, 60, interval=0.1), f"new workers seen: {new}"
        served.update(server.hit(f"after{i}" for i in range(REQUESTS // 2)))
        assert server.stop(signal.SIGTERM) == 0, server.stderr
        assert wait_records(collector, lambda rs: "Shutting down: Master" in messages(rs, "gunicorn.error"))
        records = list(collector.records)
        booted = check_every_record_once(records, served, server.pid)
        assert booted == old | new
        assert "Handling signal: hup" in messages(records, "gunicorn.error")
        report("gunicorn SIGHUP", requests=len(served), records=len(records),
               app=len(app_requests(records)), old_pids=sorted(old), new_pids=sorted(new),
               master=server.pid, exit=0)


class TestReconfigure:
    def test_dictconfig_again_after_setlevel_is_prompt_and_counts_right(self, collector: Collector) -> None:
        """What gunicorn's reload does (setLevel, then dictConfig again) does not wait out the old
        handler's shutdown_timeout, and counts its pending records as sent, not dropped."""
        import logging
        import logging.config
        import runpy
        import time

        conf = runpy.run_path(str(EXAMPLES / "gunicorn_conf.py"))["logconfig_dict"]
        conf["handlers"]["collector"].update(host=collector.address, shutdown_timeout=1)
        logging.config.dictConfig(conf)
        log = logging.getLogger("gunicorn.error")
        log.info("first")
        (old,) = logging.getLogger().handlers
        assert old.flush(timeout=10)
        log.info("pending 1")
        log.info("pending 2")
        log.setLevel(logging.INFO)  # empties every logger's isEnabledFor cache
        started = time.monotonic()
        logging.config.dictConfig(conf)
        took = time.monotonic() - started
        assert wait_records(collector, lambda rs: len(rs) == 3)
        assert (old.stats()["sent"], old.stats()["dropped"]) == (3, 0)
        assert took < 1, "dictConfig did not wait out the old handler's shutdown_timeout (1 s)"
