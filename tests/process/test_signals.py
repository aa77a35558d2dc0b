"""SIGTERM (docker stop, Kubernetes, systemd) drains every threaded handler, in real processes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from threaded_logging.cli.collector import Collector

from ..helpers import SLACK_S, wait_for
from ..integration.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")

APP = """
import logging, os, signal, sys, threading, time
mode = sys.argv[2]
if mode == "own-handler":
    def mine(signum, frame):
        print("own handler ran", flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, mine)
if mode == "opt-out-call":
    import threaded_logging
    threaded_logging.handle_sigterm(False)
from threaded_logging import ThreadedHttpHandler
log = logging.getLogger("app"); log.propagate = False; log.setLevel(logging.INFO)
def build():
    handler = ThreadedHttpHandler(f"127.0.0.1:{sys.argv[1]}", "/", method="POST", flush_interval=60000,
                                  shutdown_timeout=float(os.environ.get("SHUTDOWN_TIMEOUT", "2")))
    log.addHandler(handler)
if mode == "worker-thread":
    worker = threading.Thread(target=build); worker.start(); worker.join()
else:
    build()
    if mode == "two-handlers":
        build()
print("installed", signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None), flush=True)
if mode == "busy":
    print("ready", flush=True)
    i = 0
    while True:
        log.info("r %d", i)
        i += 1
for i in range(500):
    log.info("r %d", i)
print("ready", flush=True)
time.sleep(60)
"""


def run_until_sigterm(tmp_path: Path, port: int, mode: str = "plain", env: Optional[Dict[str, str]] = None,
                      after_s: float = 0.3) -> tuple:
    script = tmp_path / "app.py"
    script.write_text(APP)
    proc = subprocess.Popen([sys.executable, str(script), str(port), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    lines: List[str] = []
    assert proc.stdout is not None
    for _ in range(3):
        line = proc.stdout.readline().strip()
        lines.append(line)
        if line == "ready":
            break
    time.sleep(after_s)  # the records wait in memory (flush_interval is a minute)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, time.monotonic() - started, lines + out.splitlines(), err


class TestSigterm:
    def test_records_in_memory_are_delivered_and_the_status_says_sigterm(self, tmp_path: Path) -> None:
        """500 records waiting in memory all arrive; the process still dies of SIGTERM, within shutdown_timeout + 1 s."""
        with Collector("127.0.0.1", 0, keep=True) as collector:
            code, seconds, lines, err = run_until_sigterm(tmp_path, int(collector.address.split(":")[1]))
            assert code == -signal.SIGTERM, err
            assert "installed True" in lines
            assert wait_for(lambda: collector.received >= 500, timeout=5)
            assert [r["message"] for r in collector.records] == [f"r {i}" for i in range(500)]
        assert seconds < 2 + 1 + SLACK_S

    def test_collector_down_exits_within_the_bound_and_reports(self, tmp_path: Path) -> None:
        """With the destination down, SIGTERM still ends the process within shutdown_timeout + 1 s, the loss reported."""
        code, seconds, lines, err = run_until_sigterm(tmp_path, free_port())
        assert code == -signal.SIGTERM
        assert seconds < 2 + 1 + SLACK_S
        assert "500 record(s) not delivered" in err

    def test_two_handlers_close_together_not_one_after_the_other(self, tmp_path: Path) -> None:
        """Two handlers to a destination that never answers take one shutdown_timeout (4 s), not their sum (8 s)."""
        with socket.socket() as silent:  # accepts connections (the kernel does), never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            code, seconds, lines, err = run_until_sigterm(tmp_path, silent.getsockname()[1], "two-handlers",
                                                          {"SHUTDOWN_TIMEOUT": "4"})
        assert code == -signal.SIGTERM and err.count("not delivered") == 2
        assert 3.5 <= seconds < 4 + SLACK_S < 2 * 4

    def test_an_applications_own_handler_is_kept(self, tmp_path: Path) -> None:
        """A SIGTERM handler the application installed first is never replaced."""
        code, _, lines, _ = run_until_sigterm(tmp_path, free_port(), "own-handler")
        assert "installed True" in lines and "own handler ran" in lines
        assert code == 7

    @pytest.mark.parametrize("how", ["env", "call"])
    def test_opt_out_leaves_the_default(self, tmp_path: Path, how: str) -> None:
        """THREADED_LOGGING_SIGTERM=0 or handle_sigterm(False): SIGTERM kills at once, nothing is delivered."""
        with Collector("127.0.0.1", 0, keep=True) as collector:
            env = {"THREADED_LOGGING_SIGTERM": "0"} if how == "env" else None
            mode = "plain" if how == "env" else "opt-out-call"
            code, _, lines, _ = run_until_sigterm(tmp_path, int(collector.address.split(":")[1]), mode, env)
            assert "installed False" in lines and code == -signal.SIGTERM
            assert collector.received == 0

    def test_a_handler_created_on_a_worker_thread_installs_nothing(self, tmp_path: Path) -> None:
        """signal.signal works on the main thread only: a handler built elsewhere leaves SIGTERM's default."""
        code, _, lines, _ = run_until_sigterm(tmp_path, free_port(), "worker-thread")
        assert "installed False" in lines and code == -signal.SIGTERM

    def test_sigterm_landing_inside_a_logging_call_never_hangs(self, tmp_path: Path) -> None:
        """The main thread logs flat out when SIGTERM lands (often inside the library, holding its lock):
        the process ends within the bound; records arrive in order, each once, and every hole is told
        (a gap record, or the drops reported at close)."""
        for attempt in range(5):
            with Collector("127.0.0.1", 0, keep=True) as collector:
                code, seconds, _, err = run_until_sigterm(tmp_path, int(collector.address.split(":")[1]), "busy",
                                                          after_s=0.2)
                assert code == -signal.SIGTERM, err
                assert seconds < 2 + 1 + SLACK_S
                assert wait_for(lambda: collector.records, timeout=5)
                got = [int(r["message"].split()[1]) for r in collector.records if r["logger"] == "app"]
                told = sum(r["dropped"] for r in collector.records if r["logger"] == "threaded_logging")
                earlier = re.search(r"(\d+) record\(s\) dropped earlier", err)
                told += int(earlier.group(1)) if earlier else 0
                assert got == sorted(set(got)) and got[0] == 0, attempt
                assert got[-1] + 1 - len(got) <= told, attempt
