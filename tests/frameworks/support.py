"""Real servers as subprocesses, driven over loopback HTTP; checks on what the collector got."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
HERE = Path(__file__).resolve().parent


def run_to_end(args: List[str], cwd: Path, env: Dict[str, str], timeout: float = 120) -> Tuple[int, int, str]:
    """Run a script to its end: ``(exit status, pid, stderr)``; killed if it outlives ``timeout``."""
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    return proc.returncode, proc.pid, stderr


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server started as a subprocess; stopped by its own PID only.

    Output goes to files under ``directory`` so a long run cannot fill a pipe.
    """

    def __init__(self, args: Sequence[str], directory: Path, env: Dict[str, str], port: int) -> None:
        self.port = port
        self._out = open(directory / "server.out", "wb")  # noqa: SIM115 - closed in stop()
        self._err_path = directory / "server.err"
        self._err = open(self._err_path, "wb")  # noqa: SIM115
        # HOME too: gunicorn puts its control socket under ~/.gunicorn
        environment = {**os.environ, "HOME": str(directory),
                       "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]), **env}
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=str(directory), env=environment,
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stderr(self) -> str:
        return self._err_path.read_text(errors="replace")

    def url(self, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/?{query}"

    def get(self, query: str, timeout: float = 10.0) -> Tuple[int, str]:
        """One GET request: the status and the body."""
        with urllib.request.urlopen(self.url(query), timeout=timeout) as response:  # noqa: S310 - loopback
            return int(response.status), response.read().decode()

    def wait_ready(self, timeout: float = 30.0) -> List[Tuple[str, int]]:
        """Poll with requests ``ready-N`` until one is answered; return (id, pid) of the answered one."""
        answered: List[Tuple[str, int]] = []
        attempt = [0]

        def probe() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.stderr}")
            attempt[0] += 1
            rid = f"ready-{attempt[0]}"
            try:
                _, body = self.get(rid, timeout=2)
            except OSError:
                return False
            answered.append((rid, int(body)))
            return True

        assert wait_for(probe, timeout, interval=0.1), f"server not ready in {timeout} s:\n{self.stderr}"
        return answered

    def hit(self, ids: Iterable[str], concurrency: int = 6) -> List[Tuple[str, int]]:
        """GET each id concurrently; return (id, pid of the worker that answered)."""

        def one(rid: str) -> Tuple[str, int]:
            status, body = self.get(rid)
            assert status == 200
            return rid, int(body)

        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(one, ids))

    def send(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``signum`` to the server's PID and wait for its exit status."""
        if self.proc.poll() is None:
            self.send(signum)
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        """Kill the server by PID if it still runs (a failed test), close its files."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self._out.close()
        self._err.close()


def messages(records: Iterable[Dict[str, Any]], logger: str) -> List[str]:
    return [r["message"] for r in records if r["logger"] == logger]


def duplicates(records: Sequence[Dict[str, Any]]) -> List[Any]:
    """Records that arrived more than once (same process, time, logger, thread and message)."""
    keys = collections.Counter(
        (r["process"], r["created"], r["logger"], r["thread"], r["message"]) for r in records
    )
    return [key for key, count in keys.items() if count > 1]


def app_requests(records: Iterable[Dict[str, Any]], logger: str = "app") -> Dict[str, List[int]]:
    """Request id -> the pids of the ``request <id>`` records that arrived for it."""
    seen: Dict[str, List[int]] = collections.defaultdict(list)
    for record in records:
        if record["logger"] == logger and record["message"].startswith("request "):
            seen[record["message"][len("request "):]].append(record["process"])
    return seen


def wait_records(collector: Any, predicate: Any, timeout: float = 30.0) -> bool:
    """Wait until ``predicate(records)`` holds for what the collector received."""
    return wait_for(lambda: predicate(list(collector.records)), timeout, interval=0.05)


def pid_of(message: str, prefix: str) -> Optional[int]:
    """The pid in a message such as ``Booting worker with pid: 123``."""
    if not message.startswith(prefix):
        return None
    return int(message[len(prefix):].strip(" )"))


def report(name: str, **facts: Any) -> None:
    """One line of what a framework run did; shown by ``pytest -rP``."""
    print(f"{name}: " + ", ".join(f"{key}={value}" for key, value in facts.items()))


def hit_until_all_answer(server: Server, prefix: str, workers: int, timeout: float = 60.0) -> List[Tuple[str, int]]:
    """Rounds of 6 concurrent requests until ``workers`` distinct pids have answered."""
    answered: List[Tuple[str, int]] = []
    rounds = iter(range(10_000))

    def all_answered() -> bool:
        answered.extend(server.hit(f"{prefix}{next(rounds)}-{i}" for i in range(6)))
        return len({pid for _, pid in answered}) >= workers

    assert wait_for(all_answered, timeout, interval=0.05), f"pids seen: {sorted({p for _, p in answered})}"
    return answered
