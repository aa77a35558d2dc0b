"""Pieces every benchmark script shares: the measured logger and interleaved medians."""

from __future__ import annotations

import logging
import statistics
import sys
from typing import Any, Callable, Dict, List, Optional


def make_logger(handler: logging.Handler) -> logging.Logger:
    """The logger the benchmarks call: one handler, INFO, not propagating."""
    logger = logging.getLogger("bench")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


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
