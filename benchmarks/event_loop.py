"""Event-loop lag while coroutines log to a collector that stalls.

One command: ``python benchmarks/event_loop.py`` (``--quick`` for a smoke
run). A ticker coroutine asks to wake every millisecond and records how late
it wakes; meanwhile coroutines log at a steady rate (default 5,000 records/s
for 5 s) through one of:

- ``NullHandler``: the cost of the logging calls alone;
- ``ThreadedHttpHandler`` POSTing to the project's collector run with
  ``--delay`` (every request answered only after that many seconds);
- the stdlib's ``HTTPHandler`` POSTing to the same stalled collector, which
  sends on the caller's thread: each call holds the loop for the stall.

Each run is a fresh process; runs are interleaved (NullHandler, threaded,
stdlib, then again) and the table gives the median over the repeats of the
ticker's p99 and max lateness, and the p99 as a multiple of NullHandler's.
Every loop is bounded by a deadline; a run is killed after ``--seconds`` +
``--delay`` + 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.handlers
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ["null", "threaded", "stdlib"]
LABELS = {
    "null": "NullHandler",
    "threaded": "ThreadedHttpHandler (POST, stalled collector)",
    "stdlib": "logging.handlers.HTTPHandler (POST, stalled collector)",
}
TICK_S = 0.001


def make_handler(kind: str, address: str) -> logging.Handler:
    if kind == "null":
        return logging.NullHandler()
    if kind == "threaded":
        sys.path.insert(0, str(ROOT))
        from threaded_logging import ThreadedHttpHandler

        return ThreadedHttpHandler(address, "/logs", "POST", shutdown_timeout=1.0)
    return logging.handlers.HTTPHandler(address, "/logs", "POST")


async def ticker(deadline: float, lateness: List[float]) -> None:
    """Sleep 1 ms at a time until the deadline; record how late each wake-up is."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        asked = loop.time()
        await asyncio.sleep(TICK_S)
        lateness.append(loop.time() - asked - TICK_S)


async def producer(logger: logging.Logger, name: int, rate: float, deadline: float) -> int:
    """Log at ``rate`` records/s on an absolute schedule until the deadline."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    due = loop.time()
    sent = 0
    while loop.time() < deadline:
        logger.info("coroutine %d record %d", name, sent, extra={"payload": "x" * 64})
        sent += 1
        due += interval
        await asyncio.sleep(max(0.0, due - loop.time()))
    return sent


async def measure(logger: logging.Logger, rate: float, seconds: float, coroutines: int) -> Dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    lateness: List[float] = []
    results = await asyncio.gather(
        ticker(deadline, lateness),
        *(producer(logger, n, rate / coroutines, deadline) for n in range(coroutines)),
    )
    ordered = sorted(lateness)
    return {
        "logged": sum(results[1:]),
        "ticks": len(ordered),
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def run_one(kind: str, address: str, rate: float, seconds: float, coroutines: int) -> None:
    """In a child process: measure one handler and print the result as JSON."""
    handler = make_handler(kind, address)
    logger = logging.getLogger("bench.event_loop")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    result = asyncio.run(measure(logger, rate, seconds, coroutines))
    stats = getattr(handler, "stats", None)
    if stats is not None:
        counts = stats()
        result["dropped"] = counts["dropped"]
    print(json.dumps(result), flush=True)
    os._exit(0)  # the stalled collector must not hold this process: the numbers are out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_collector(delay: float) -> "tuple[subprocess.Popen[bytes], str]":
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "threaded_logging", "collect", "--host", "127.0.0.1", "--port", str(port),
         "--output", "none", "--delay", str(delay)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # GET without a query is answered at once
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):  # noqa: S310 - loopback
                return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the collector did not start within 30 s")


def run_child(kind: str, address: str, args: argparse.Namespace) -> Dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--address", address, "--rate", str(args.rate),
               "--seconds", str(args.seconds), "--coroutines", str(args.coroutines)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + args.delay + 60)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed ({proc.returncode}):\n{proc.stderr}")
    result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(runs: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace) -> str:
    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    base = median("null", "p99_ms")
    lines = [
        f"Event-loop lag: a 1 ms ticker while {args.coroutines} coroutines log {args.rate:,.0f} records/s "
        f"for {args.seconds:g} s; the collector answers each POST after {args.delay:g} s. "
        f"Median of {args.repeats} interleaved run(s) each.",
        "",
        "| handler | records logged | dropped | lag p99 (ms) | lag max (ms) | p99 vs NullHandler |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in HANDLERS:
        dropped = [r["dropped"] for r in runs[kind] if "dropped" in r]
        lines.append(
            f"| {LABELS[kind]} | {median(kind, 'logged'):,.0f} | "
            f"{statistics.median(dropped) if dropped else 0:,.0f} | {median(kind, 'p99_ms'):.2f} | "
            f"{median(kind, 'max_ms'):.2f} | {median(kind, 'p99_ms') / base:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: "List[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="records per second in all (default 5000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run (default 5)")
    parser.add_argument("--coroutines", type=int, default=10, help="logging coroutines (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per handler, interleaved (default 3)")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds the collector holds each POST (default 2)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 s runs, one repeat")
    parser.add_argument("--child", choices=HANDLERS, help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_one(args.child, args.address, args.rate, args.seconds, args.coroutines)
        return 0
    if args.quick:
        args.seconds, args.repeats = 1.0, 1
    collector, address = start_collector(args.delay)
    runs: Dict[str, List[Dict[str, Any]]] = {kind: [] for kind in HANDLERS}
    try:
        for repeat in range(args.repeats):
            for kind in HANDLERS:
                runs[kind].append(run_child(kind, address, args))
                print(f"run {repeat + 1}/{args.repeats} {kind}: {runs[kind][-1]}", file=sys.stderr, flush=True)
    finally:
        collector.send_signal(signal.SIGTERM)
        try:
            collector.wait(10)
        except subprocess.TimeoutExpired:
            collector.kill()
            collector.wait(10)
    print(table(runs, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
