"""One measurement in a fresh process: ``measure.py SCENARIO CONTENDER ADDR PARAMS``.

Prints one JSON line with the result. Every loop is bounded in count and time.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
import urllib.request
from typing import Any, Dict, List, NoReturn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contenders  # noqa: E402
from _common import EXTRA, MSG, make_logger, rss_kb, timed_loop  # noqa: E402


# Results go to a private copy of stdout; fd 1 and sys.stdout point at stderr,
# so whatever a contender's own threads print (logzio's sender prints its
# errors) can never land in the middle of a result line.
RESULT_FD = os.dup(1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def report(result: Dict[str, Any]) -> NoReturn:
    """One JSON line, written with a single system call, then exit at once."""
    os.write(RESULT_FD, (json.dumps(result) + "\n").encode())
    os._exit(0)


def collector_status(addr: str) -> Dict[str, Any]:
    with urllib.request.urlopen(f"http://{addr}/", timeout=5) as reply:
        return json.loads(reply.read())


def warm_up(logger: logging.Logger, name: str) -> None:
    """Let every contender reach its steady state before the measured window:
    first connection or first failed attempt, lazy imports, threads started."""
    for i in range(20 if name in contenders.SYNCHRONOUS else 200):
        logger.info(MSG, i, extra=EXTRA)
    time.sleep(0.5)
    gc.collect()


def scenario_idle(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    built = contenders.ALL[name](addr)
    logger = make_logger(built.handler)
    warm_up(logger, name)
    count = min(p["n"], 2000) if name in contenders.SYNCHRONOUS else p["n"]
    result = timed_loop(logger, count, 20.0)
    # What is measured is the caller's cost; delivery is end-to-end's business.
    report(result)


def scenario_shipping(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    return scenario_idle(name, addr, p)


def scenario_e2e(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    before = collector_status(addr)["received"]
    built = contenders.ALL[name](addr, **p.get("options", {}))
    logger = make_logger(built.handler)
    count = p["n"]
    started = time.time()
    loop = timed_loop(logger, count, 60.0)
    count = loop["calls"]
    logged = time.time()
    built.finish(60.0)
    finished = time.time()
    deadline = time.monotonic() + 60
    last_seen, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        status = collector_status(addr)
        got = status["received"] - before
        if got >= count:
            break
        if got != last_seen:
            last_seen, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > 10:
            break
        time.sleep(0.05)
    status = collector_status(addr)
    received = status["received"] - before
    span = (status["last_arrival"] or time.time()) - started
    return {"logged": count, "received": received, "lost": count - received,
            "records_per_s": received / span if span > 0 else 0.0, "seconds": span,
            "logging_s": logged - started, "closing_s": finished - logged}


def scenario_stall(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    built = contenders.ALL[name](addr)
    logger = make_logger(built.handler)
    count = p["n"]
    if name in contenders.SYNCHRONOUS:
        count = p.get("sync_calls", 3)  # each call waits for the stalled reply: bounded
    latencies: List[int] = []
    clock = time.perf_counter_ns
    start = clock()
    for i in range(count):
        due = start + i * 1_000_000
        while clock() < due:
            time.sleep(0.0002)
        began = clock()
        logger.info(MSG, i, extra=EXTRA)
        latencies.append(clock() - began)
        if clock() - start > 40e9:
            break
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    result = {"calls": len(latencies), "p99_us": p99 / 1000, "max_us": latencies[-1] / 1000}
    report(result)  # the destination is stalled: do not wait for anyone's shutdown


def scenario_paced(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    """The app logs at a steady ``rate`` per second for ``seconds``: each call
    timed, and the CPU the process's other threads (the worker) used."""
    built = contenders.ALL[name](addr)
    logger = make_logger(built.handler)
    warm_up(logger, name)
    info, clock, rate = logger.info, time.perf_counter_ns, p["rate"]
    total = int(rate * p["seconds"])
    spent = 0
    cpu, mine, start = time.process_time(), time.thread_time(), clock()
    for i in range(total):
        due = start + i * 1_000_000_000 // rate
        if clock() < due:  # ahead of the pace: sleep in steps of at least a millisecond
            time.sleep(max(0.001, (due - clock()) / 1e9))
        began = clock()
        info(MSG, i, extra=EXTRA)
        spent += clock() - began
    wall = (clock() - start) / 1e9
    others = (time.process_time() - cpu) - (time.thread_time() - mine)
    result = {"rate": rate, "calls": total, "ns_per_call": spent / total, "achieved_per_s": total / wall,
              "worker_core_share": max(0.0, others) / wall}
    report(result)


def scenario_outage(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    options = {"capacity": p["capacity"]} if name.startswith("Threaded") else {}
    built = contenders.ALL[name](addr, **options)
    logger = make_logger(built.handler)
    warm_up(logger, name)
    before = rss_kb()
    timed_loop(logger, p["n"], 120.0)
    gc.collect()
    grown = (rss_kb() - before) / 1024
    result: Dict[str, Any] = {"rss_growth_mb": grown}
    stats = getattr(built.handler, "stats", None)
    if stats is not None:
        built.handler.options = built.handler.options.__class__(  # type: ignore[attr-defined]
            **{**built.handler.options.__dict__, "shutdown_timeout_s": 1.0})  # type: ignore[attr-defined]
        built.handler.close()
        s = stats()
        result.update({k: s[k] for k in ("emitted", "sent", "dropped", "failed", "queued", "spooled")})
        result["exact"] = s["emitted"] == s["sent"] + s["dropped"] + s["failed"] + s["queued"] + s["spooled"]
    return result


def scenario_need(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    """RSS that ``capacity`` records take when simply held (the reference)."""
    logger = logging.getLogger("need")
    gc.collect()
    before = rss_kb()
    held = [logger.makeRecord("bench", logging.INFO, __file__, 1, MSG, (i,), None, None, EXTRA) for i in range(p["capacity"])]
    for record in held:
        record.getMessage()
    gc.collect()
    return {"rss_growth_mb": (rss_kb() - before) / 1024, "held": len(held)}


def scenario_sqs(name: str, addr: str, p: Dict[str, Any]) -> Dict[str, Any]:
    built = contenders.ALL[name](addr, queue=p["queue"])
    logger = make_logger(built.handler)
    count = p["n"]
    started = time.monotonic()
    timed_loop(logger, count, 60.0)
    ok = built.handler.flush(timeout=240)  # type: ignore[call-arg]
    elapsed = time.monotonic() - started
    calls = built.handler.api_calls  # type: ignore[attr-defined]
    sent = built.handler.stats()["sent"]  # type: ignore[attr-defined]
    built.finish(1.0)
    return {"records": count, "sent": sent, "delivered": ok, "records_per_s": sent / elapsed,
            "send_calls_per_1000": 1000 * calls["SendMessageBatch"] / max(sent, 1),
            "api_calls_per_1000": 1000 * sum(calls.values()) / max(sent, 1)}


def main() -> None:
    scenario, name, addr, params = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    logging.raiseExceptions = False  # the stdlib handlers print a traceback per failed record otherwise
    result = globals()[f"scenario_{scenario}"](name, addr, params)
    report(result)  # skip interpreter teardown (our handlers already settled)


if __name__ == "__main__":
    main()
