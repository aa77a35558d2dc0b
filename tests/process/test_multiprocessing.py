"""multiprocessing workers drain their handlers on their way out (they end through os._exit)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from threaded_logging.cli.collector import Collector

from ..helpers import SLACK_S

ROOT = Path(__file__).resolve().parents[2]
METHODS = [m for m in ("fork", "spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]

POOL = """
import logging, multiprocessing as mp, os, sys, time
from concurrent.futures import ProcessPoolExecutor
port, method, where, ending, rounds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])

def configure():
    from threaded_logging import ThreadedHttpHandler
    handler = ThreadedHttpHandler(f"127.0.0.1:{port}", "/", method="POST", flush_interval=60000, shutdown_timeout=5)
    log = logging.getLogger("pool"); log.handlers[:] = [handler]; log.propagate = False; log.setLevel(logging.INFO)

def work(task):
    log = logging.getLogger("pool")
    for i in range(250):
        log.info("task %d record %d", task, i)
    return os.getpid()

if __name__ == "__main__":
    ctx = mp.get_context(method)
    if where == "parent":
        configure()
    init = configure if where == "initializer" else None
    for _ in range(rounds):
        if ending == "close":
            pool = ctx.Pool(4, initializer=init)
            pids = pool.map(work, range(4), chunksize=1)
            pool.close(); pool.join()
        elif ending == "with":
            with ctx.Pool(4, initializer=init) as pool:
                pids = pool.map(work, range(4), chunksize=1)
        else:
            executor = ProcessPoolExecutor(4, mp_context=ctx, initializer=init)
            pids = list(executor.map(work, range(4)))
            executor.shutdown(wait=True)
    print("done", len(set(pids)), flush=True)
"""


def run_pool(tmp_path: Path, port: int, method: str, where: str, ending: str, rounds: int = 1,
             timeout: float = 120) -> subprocess.CompletedProcess:
    script = tmp_path / "pool.py"
    script.write_text(POOL)
    return subprocess.run([sys.executable, str(script), str(port), method, where, ending, str(rounds)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path),
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def expected() -> List[str]:
    return sorted(f"task {t} record {i}" for t in range(4) for i in range(250))


class TestPools:
    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("ending", ["close", "executor"])
    def test_pool_configured_in_its_initializer_delivers_everything_once(
            self, tmp_path: Path, method: str, ending: str) -> None:
        """Pool(4) (close/join) or ProcessPoolExecutor (shutdown(wait=True)), handlers built in the
        initializer: all 1,000 records arrive exactly once."""
        with Collector("127.0.0.1", 0, keep=True) as collector:
            proc = run_pool(tmp_path, int(collector.address.split(":")[1]), method, "initializer", ending)
            assert proc.returncode == 0, proc.stderr
            assert sorted(r["message"] for r in collector.records) == expected()

    def test_forked_pool_configured_in_the_parent_delivers_everything_once(self, tmp_path: Path) -> None:
        """Handlers built in the parent before a fork pool: each worker ships its own records, once."""
        if "fork" not in METHODS:
            pytest.skip("no fork start method")
        with Collector("127.0.0.1", 0, keep=True) as collector:
            proc = run_pool(tmp_path, int(collector.address.split(":")[1]), "fork", "parent", "close")
            assert proc.returncode == 0, proc.stderr
            records = collector.records
            assert sorted(r["message"] for r in records) == expected()
            assert len({r["process"] for r in records}) >= 2, "shipped by the workers themselves"

    def test_with_block_terminate_never_hangs(self, tmp_path: Path) -> None:
        """A pool ended by its with-block (terminate()) 50 times in a row never hangs; its workers'
        last records may be lost (documented), never duplicated."""
        if "fork" not in METHODS:
            pytest.skip("no fork start method")
        with Collector("127.0.0.1", 0, keep=True) as collector:
            started = time.monotonic()
            proc = run_pool(tmp_path, int(collector.address.split(":")[1]), "fork", "parent", "with", rounds=50,
                            timeout=240)
            assert proc.returncode == 0, proc.stderr
            assert time.monotonic() - started < 60 * SLACK_S
            ids = [r["record_id"] for r in collector.records]
            assert len(ids) == len(set(ids))
