"""Pieces every benchmark script shares: the measured logger and interleaved medians."""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

#: The logged call every benchmark makes: ``logger.info(MSG, i, extra=EXTRA)``.
MSG = "request %s done"
EXTRA = {"user": "u"}


def make_logger(handler: logging.Handler) -> logging.Logger:
    """The logger the benchmarks call: one handler, INFO, not propagating."""
    logger = logging.getLogger("bench")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def rss_kb() -> int:
    """This process's resident memory, KiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed_loop(logger: logging.Logger, count: int, budget_s: float) -> Dict[str, Any]:
    """``count`` logging calls (fewer if ``budget_s`` runs out): calls made and ns per call."""
    info, clock = logger.info, time.perf_counter_ns
    deadline = clock() + int(budget_s * 1e9)
    done = 0
    started = clock()
    for i in range(count):
        info(MSG, i, extra=EXTRA)
        done += 1
        if (i & 255) == 0 and clock() > deadline:
            break
    return {"calls": done, "ns_per_call": (clock() - started) / max(done, 1)}


def run_json(args: List[str], label: str, env: Dict[str, str], timeout: float) -> Optional[Dict[str, Any]]:
    """Run a measuring child; its last JSON line, or None (said on stderr)
    when it fails or takes over ``timeout`` seconds."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        print(f"  ! {label} took over {timeout:.0f} s; left out", file=sys.stderr)
        return None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"  ! {label} failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return dict(json.loads(lines[-1]))


def interleaved(measure: Callable[[str], Optional[Dict[str, Any]]], names: List[str], repeats: int,
                label: str, key: str) -> Dict[str, Dict[str, Any]]:
    """Each contender measured ``repeats`` times, round-robin, so the
    machine's load falls on all of them alike; every numeric field is the
    median of the runs. Prints ``key`` of each as it goes."""
    runs: Dict[str, List[Dict[str, Any]]] = {n: [] for n in names}
    for _ in range(repeats):
        for name in names:
            result = measure(name)
            if result is not None:
                runs[name].append(result)
    summary: Dict[str, Dict[str, Any]] = {}
    for name, results in runs.items():
        if not results:
            continue
        best = dict(results[0])
        for field in results[0]:
            values = [r[field] for r in results if isinstance(r.get(field), (int, float)) and not isinstance(r.get(field), bool)]
            if values:
                best[field] = statistics.median(values)
        best["runs"] = len(results)
        summary[name] = best
        print(f"  {label:9} {name:28} {key}={best.get(key)!s:>12}", file=sys.stderr, flush=True)
    return summary


def finish(results: Dict[str, Any], started: float, report: Callable[[Dict[str, Any]], None],
           json_path: Optional[str]) -> int:
    """End a run: its duration, the report, and the results as JSON when asked."""
    results["seconds"] = time.monotonic() - started
    report(results)
    if json_path:
        with open(json_path, "w") as out:
            json.dump(results, out, indent=2)
    return 0
