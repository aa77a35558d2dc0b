"""docs/examples/celery_app.py under a real Celery worker (prefork pool), on a broker in local folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from threaded_logging.cli.collector import Collector

from .support import EXAMPLES, ROOT, Server, duplicates, messages, report, wait_records

pytest.importorskip("celery")

TASKS = 40

# The example's app on kombu's filesystem transport: a real broker protocol
# with no broker server to run.
LOCAL_BROKER = """
import os

from celery_app import add, app  # noqa: F401 - the example, unchanged

app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={"data_folder_in": os.environ["TEST_BROKER_DIR"],
                              "data_folder_out": os.environ["TEST_BROKER_DIR"]},
)
"""


def task_records(records: List[Dict[str, object]]) -> Dict[int, List[object]]:
    seen: Dict[int, List[object]] = {}
    for record in records:
        if record["logger"] == "jobs":
            seen.setdefault(int(str(record["message"])[4:].split(",")[0]), []).append(record["process"])
    return seen


@pytest.mark.slow
class TestCelery:
    def test_worker_and_pool_processes_ship_every_record_once(
        self, start_server: Callable[..., Server], collector: Collector, tmp_path: Path
    ) -> None:
        """A prefork worker with 2 processes configured through setup_logging: each task's record
        and Celery's success line arrive once from a pool process, the worker's own lines from the
        worker, and SIGTERM (warm shutdown) ends it with status 0."""
        broker = tmp_path / "broker"
        broker.mkdir()
        (tmp_path / "celery_local.py").write_text(textwrap.dedent(LOCAL_BROKER))
        path = os.pathsep.join([str(ROOT), str(EXAMPLES), str(tmp_path)])
        env = {"THREADED_LOGGING_COLLECTOR": collector.address, "TEST_BROKER_DIR": str(broker),
               "PYTHONPATH": path}
        worker = start_server(
            ["-m", "celery", "-A", "celery_local", "worker", "--pool", "prefork", "--concurrency", "2",
             "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            env=env,
        )
        assert wait_records(collector, lambda rs: any(m.endswith(" ready.") for m in messages(rs, "celery.apps.worker")),
                            timeout=60), worker.stderr
        send = f"from celery_local import add\nfor i in range({TASKS}):\n    add.delay(i, i)\n"
        subprocess.run([sys.executable, "-c", send], env={**os.environ, **env}, cwd=tmp_path,
                       check=True, timeout=60, capture_output=True)
        assert wait_records(collector, lambda rs: len(task_records(rs)) == TASKS, timeout=60)
        assert worker.stop(signal.SIGTERM) == 0, worker.stderr
        records = list(collector.records)
        tasks = task_records(records)
        pool = {pid for pids in tasks.values() for pid in pids}
        assert duplicates(records) == []
        assert sorted(tasks) == list(range(TASKS)) and all(len(p) == 1 for p in tasks.values())
        assert worker.pid not in pool and 1 <= len(pool) <= 2
        succeeded = [r for r in records if r["logger"] == "celery.app.trace" and " succeeded in " in r["message"]]
        assert len(succeeded) == TASKS and {r["process"] for r in succeeded} <= pool
        received = [r for r in records if r["logger"] == "celery.worker.strategy"]
        assert len(received) == TASKS and {r["process"] for r in received} == {worker.pid}
        assert {r["framework"] for r in records} == {"celery"}
        report("celery prefork", records=len(records), tasks=len(tasks), pool_pids=sorted(pool),
               worker=worker.pid, exit=0)
