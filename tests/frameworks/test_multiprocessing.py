"""docs/examples/mp_pool.py and process_pool.py, run as scripts under each start method."""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from threaded_logging.cli.collector import Collector

from .support import EXAMPLES, ROOT, duplicates, report, run_to_end, wait_records

TASKS = 60
EXAMPLE_FILES = ["mp_pool.py", "process_pool.py"]

# The example is run as its own __main__, as `python mp_pool.py` would; only
# the start method is chosen first, as an application's entry point does.
LAUNCHER = ("import multiprocessing, runpy, sys; multiprocessing.set_start_method(sys.argv[1]); "
            "runpy.run_path(sys.argv[2], run_name='__main__')")


def run_example(name: str, method: str, collector: Collector, tmp_path: Path) -> Tuple[int, int, str]:
    """Run the example under ``method``; return its exit status, pid and stderr."""
    env = {**os.environ, "THREADED_LOGGING_COLLECTOR": collector.address, "PYTHONPATH": str(ROOT)}
    return run_to_end([sys.executable, "-c", LAUNCHER, method, str(EXAMPLES / name)], tmp_path, env)


def task_records(records: List[Dict[str, Any]]) -> Dict[int, List[int]]:
    """Task number -> the pids of the records that arrived for it."""
    seen: Dict[int, List[int]] = collections.defaultdict(list)
    for record in records:
        if record["logger"] == "batch.worker":
            seen[int(record["message"].split()[1])].append(record["process"])
    return seen


def check_all_arrive_once(name: str, method: str, collector: Collector, tmp_path: Path) -> None:
    code, parent, stderr = run_example(name, method, collector, tmp_path)
    assert code == 0, stderr
    assert wait_records(collector, lambda rs: f"{TASKS} tasks done" in [r["message"] for r in rs], timeout=10)
    wait_records(collector, lambda rs: len(task_records(rs)) == TASKS, timeout=3)
    records = list(collector.records)
    tasks = task_records(records)
    workers = {pid for pids in tasks.values() for pid in pids}
    assert duplicates(records) == []
    assert sorted(tasks) == list(range(TASKS)), f"{TASKS - len(tasks)} task records lost"
    assert all(len(pids) == 1 for pids in tasks.values())
    assert parent not in workers and 1 <= len(workers) <= 3
    assert "threaded_logging" not in stderr
    report(f"{name} {method}", records=len(records), tasks=len(tasks), worker_pids=sorted(workers),
           parent=parent, exit=code)


@pytest.mark.slow
class TestPools:
    @pytest.mark.parametrize("name", EXAMPLE_FILES)
    @pytest.mark.parametrize("method", ["spawn", "fork", "forkserver"])
    def test_workers_ship_every_record_once(self, name: str, method: str, collector: Collector,
                                            tmp_path: Path) -> None:
        """Under every start method (fork and forkserver workers end through os._exit), every
        task's record arrives once from a worker and the script exits 0."""
        check_all_arrive_once(name, method, collector, tmp_path)
