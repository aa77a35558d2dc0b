"""CloudWatch Logs: ThreadedCloudWatchHandler against watchtower, side by side, in one command.

    python benchmarks/cloudwatch.py            # the full run
    python benchmarks/cloudwatch.py --quick    # a smoke run
    python benchmarks/cloudwatch.py --json results.json

moto's server is the endpoint, in its own process. Every measurement runs
in a fresh process (this file with ``--child``); repeats are interleaved
across contenders and medians taken; ratios are within this run. The logged
call is ``logger.info("request %s done", i, extra={"user": "u"})`` on a
logger with ``propagate=False``. Each contender runs as it is configured by
default; ``watchtower send_interval=1`` is watchtower tuned to send every
second, as ours does (its default holds records up to 60 s). Every loop is
bounded in count and time.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _common import EXTRA, MSG, finish, interleaved, make_logger, rss_kb, run_json, timed_loop  # noqa: E402

NULL = "NullHandler"
OURS = ["threaded json", "threaded text"]
THEIRS = ["watchtower", "watchtower send_interval=1"]
ALL = [NULL] + OURS + THEIRS
ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "PYTHONPATH": ROOT}


# -- the contenders (child side) ----------------------------------------------------


def build(name: str, endpoint: str, group: str, stream: str, dead: bool, **options: Any) -> logging.Handler:
    """One contender's handler, as a user would configure it (``options``: ours only)."""
    if name == NULL:
        return logging.NullHandler()
    if name in OURS:
        from threaded_logging import ThreadedCloudWatchHandler

        return ThreadedCloudWatchHandler(group, stream, endpoint_url=endpoint, region_name="us-east-1",
                                         format="text" if name.endswith("text") else "json", **options)
    import boto3
    import watchtower

    client = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1")
    # watchtower creates the group in its constructor, which fails outright
    # when the endpoint is down: there, only the caller's side is measured
    return watchtower.CloudWatchLogHandler(
        log_group_name=group, log_stream_name=stream, boto3_client=client, create_log_group=not dead,
        send_interval=1 if name.endswith("=1") else 60)


def warm_up(logger: logging.Logger, handler: logging.Handler) -> None:
    """Reach the steady state before the measured window: watchtower made its
    client in its constructor; ours makes it on the timer thread at the
    first send (a tenth of a second of GIL), which must happen before too."""
    for i in range(200):
        logger.info(MSG, i, extra=EXTRA)
    stats = getattr(handler, "stats", None)
    deadline = time.monotonic() + 10
    while stats is not None and time.monotonic() < deadline:
        s = stats()
        if s["sent"] or s["failed"] or s["last_error"]:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    gc.collect()


def last_message(client: Any, group: str, stream: str) -> Optional[str]:
    try:
        events = client.get_log_events(logGroupName=group, logStreamName=stream, limit=1)["events"]
    except Exception:  # group or stream not created yet
        return None
    return str(events[-1]["message"]) if events else None


def read_stream(client: Any, group: str, stream: str) -> Tuple[int, float]:
    """How many events a stream holds, and when (epoch seconds) the last one was stored."""
    total, last, token = 0, 0.0, None
    for _ in range(1000):
        kwargs: Dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        try:
            page = client.get_log_events(**kwargs)
        except Exception:  # nothing arrived: no stream
            break
        total += len(page["events"])
        last = max([last] + [e["ingestionTime"] / 1000 for e in page["events"]])
        if not page["events"] or page.get("nextForwardToken") == token:
            break
        token = page["nextForwardToken"]
    return total, last


def child_caller(name: str, endpoint: str, p: Dict[str, Any]) -> Dict[str, Any]:
    """idle and shipping: the caller's ns per call (the endpoint is dead or live)."""
    handler = build(name, endpoint, p["group"], p["stream"], dead=p["dead"])
    logger = make_logger(handler)
    warm_up(logger, handler)
    result = timed_loop(logger, p["n"], 20.0)
    stats = getattr(handler, "stats", None)
    if stats is not None:
        result["dropped"] = stats()["dropped"]
    return result


def child_e2e(name: str, endpoint: str, p: Dict[str, Any]) -> Dict[str, Any]:
    """Records stored per second, from the first call to the last record's arrival.

    Ours gets ``capacity`` for the whole burst, so what is measured is
    delivery, not the drop policy (with the default 10,000 part of the burst
    would be dropped, and counted). Ours is done when its counters say every
    record is settled; watchtower when its last record is stored, or at the
    deadline (it can lose records, the last one too). The span ends at the
    last event's ingestion time as moto recorded it.
    """
    import boto3

    count = p["n"]
    handler = build(name, endpoint, p["group"], p["stream"], dead=False, capacity=count)
    ours = getattr(handler, "stats", None)
    stream = handler.stream_name() if hasattr(handler, "stream_name") else p["stream"]
    client = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1")
    logger = make_logger(handler)
    started = time.time()
    count = timed_loop(logger, count, 60.0)["calls"]
    last = MSG % (count - 1)
    hold = 60 if name == THEIRS[0] else 0  # watchtower's default send_interval
    deadline = time.monotonic() + hold + p["wait"]
    done = False
    while not done and time.monotonic() < deadline:
        if ours is not None:
            s = ours()
            done = s["sent"] + s["dropped"] + s["failed"] >= count
        else:
            done = last_message(client, p["group"], stream) == last
        time.sleep(0.02)
    stored, arrived = read_stream(client, p["group"], stream)
    span = arrived - started
    return {"logged": count, "stored": stored, "lost": count - stored, "seconds": span,
            "records_per_s": stored / span if stored and span > 0 else 0.0, "last_seen": done}


def child_outage(name: str, endpoint: str, p: Dict[str, Any]) -> Dict[str, Any]:
    """RSS growth while the endpoint is down and ``n`` records are logged."""
    handler = build(name, endpoint, p["group"], p["stream"], dead=True)
    logger = make_logger(handler)
    warm_up(logger, handler)
    before = rss_kb()
    timed_loop(logger, p["n"], 120.0)
    gc.collect()
    result: Dict[str, Any] = {"rss_growth_mb": (rss_kb() - before) / 1024}
    stats = getattr(handler, "stats", None)
    if stats is not None:
        s = stats()
        result.update({k: s[k] for k in ("emitted", "dropped", "queued")})
    return result


def child_exit(name: str, endpoint: str, p: Dict[str, Any], out: Callable[[str], None]) -> None:
    """Log, say so, and let the interpreter exit as it does (the parent times it)."""
    handler = build(name, endpoint, p["group"], p["stream"], dead=True)
    logging.root.addHandler(handler)
    logging.root.setLevel(logging.INFO)
    for i in range(p["n"]):
        logging.info(MSG, i, extra=EXTRA)
    out("logged\n")


def child(scenario: str, name: str, endpoint: str, params: Dict[str, Any]) -> NoReturn:
    # Results go to a private copy of stdout; whatever a contender prints
    # goes to stderr and can never split a result line.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.raiseExceptions = False

    def out(text: str) -> None:
        os.write(result_fd, text.encode())

    if scenario == "exit":
        child_exit(name, endpoint, params, out)
        sys.exit(0)  # a normal exit: logging.shutdown() closes the handler, as in an application
    result = {"idle": child_caller, "shipping": child_caller, "e2e": child_e2e, "outage": child_outage}[scenario](
        name, endpoint, params)
    out(json.dumps(result) + "\n")
    os._exit(0)  # the measurement is over: do not time anyone's shutdown


# -- the run (parent side) --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> Tuple["subprocess.Popen[bytes]", str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto's server did not come up")


def run_child(scenario: str, name: str, endpoint: str, params: Dict[str, Any], timeout: float = 300) -> Optional[Dict[str, Any]]:
    params = {"group": f"/bench/{uuid.uuid4().hex[:10]}", "stream": f"bench-{uuid.uuid4().hex[:6]}", **params}
    args = [sys.executable, os.path.abspath(__file__), "--child", scenario, name, endpoint, json.dumps(params)]
    return run_json(args, f"{scenario} / {name}", {**os.environ, **ENV}, timeout)

def time_exit(name: str, endpoint: str, n: int, timeout: float = 150) -> Optional[Dict[str, Any]]:
    """Seconds from the last logging call to the end of the process."""
    params = {"group": "/bench/exit", "stream": "exit", "n": n}
    args = [sys.executable, os.path.abspath(__file__), "--child", "exit", name, endpoint, json.dumps(params)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **ENV})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        started = time.monotonic()
        proc.wait(timeout)
        seconds = time.monotonic() - started
    except subprocess.TimeoutExpired:
        print(f"  ! exit / {name} still running after {timeout:.0f} s; killed", file=sys.stderr)
        return {"exit_s": None, "killed": True}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    if line.strip() != "logged":
        print(f"  ! exit / {name} failed before logging", file=sys.stderr)
        return None
    return {"exit_s": seconds, "killed": False}


def measure_all(endpoint: str, quick: bool) -> Dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}"
    fine = 1 if quick else 5
    repeats = 1 if quick else 3
    r: Dict[str, Any] = {}
    print("idle caller cost (endpoint down)", file=sys.stderr)
    r["idle"] = interleaved(lambda name: run_child("idle", name, dead, {"n": 20_000 if quick else 200_000, "dead": True}),
                            ALL, fine, "idle", "ns_per_call")
    print("caller cost while shipping", file=sys.stderr)
    r["shipping"] = interleaved(lambda name: run_child("shipping", name, endpoint, {"n": 20_000 if quick else 100_000, "dead": False}),
                                ALL, fine, "shipping", "ns_per_call")
    print("end to end", file=sys.stderr)
    n_e2e = 5_000 if quick else 20_000
    r["e2e"] = interleaved(lambda name: run_child("e2e", name, endpoint, {"n": n_e2e, "wait": 20}), OURS + THEIRS,
                           repeats, "e2e", "records_per_s")
    print("exit with the endpoint down", file=sys.stderr)
    r["exit"] = interleaved(lambda name: time_exit(name, dead, 1000), [NULL] + OURS + THEIRS[:1], repeats, "exit", "exit_s")
    print("memory during an outage", file=sys.stderr)
    r["outage"] = interleaved(lambda name: run_child("outage", name, dead, {"n": 50_000 if quick else 200_000}),
                              [NULL] + OURS[:1] + THEIRS[:1], 1, "outage", "rss_growth_mb")
    return r


# -- the report -------------------------------------------------------------------


def fmt(value: Optional[float], unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if not a or not b else a / b


def table(header: List[str], rows: List[List[Any]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def tables(r: Dict[str, Any]) -> None:
    """The three markdown tables of a :func:`measure_all` result."""
    idle, ship, e2e, ex, out = (r.get(k, {}) for k in ("idle", "shipping", "e2e", "exit", "outage"))
    null_idle, null_ship = idle.get(NULL, {}).get("ns_per_call"), ship.get(NULL, {}).get("ns_per_call")
    rows = []
    for name in ALL:
        a, b = idle.get(name, {}).get("ns_per_call"), ship.get(name, {}).get("ns_per_call")
        rows.append([name, fmt(a), fmt(ratio(a, null_idle), "×", 2), fmt(b), fmt(ratio(b, null_ship), "×", 2)])
    table(["CloudWatch contender", "idle ns/call", "idle × Null", "shipping ns/call", "shipping × Null"], rows)
    print()
    theirs = [e2e.get(n, {}).get("records_per_s") for n in THEIRS]
    table(["CloudWatch end to end (moto)", "records/s", "lost", "seconds", "× watchtower", "× watchtower send_interval=1"],
          [[name, fmt(v.get("records_per_s")), fmt(v.get("lost")), fmt(v.get("seconds"), "", 2)]
           + [fmt(ratio(v.get("records_per_s"), t), "×", 1) for t in theirs] for name, v in e2e.items()])
    print()
    table(["CloudWatch endpoint down", "exit after last call, s", "RSS growth MB", "dropped (counted)"],
          [[name, fmt(ex.get(name, {}).get("exit_s"), "", 2) + (" (killed)" if ex.get(name, {}).get("killed") else ""),
            fmt(out.get(name, {}).get("rss_growth_mb"), "", 1), fmt(out.get(name, {}).get("dropped"))]
           for name in [NULL] + OURS + THEIRS[:1]])


def target_rows(r: Dict[str, Any]) -> List[Tuple[str, Optional[float], float, str]]:
    """``(label, measured, bound, "≤" or "≥")`` for each CloudWatch target."""
    idle, e2e, ex = r.get("idle", {}), r.get("e2e", {}), r.get("exit", {})
    ours = e2e.get("threaded json", {}).get("records_per_s")
    return [
        ("CloudWatch end to end ≥ 5× watchtower (its defaults)", ratio(ours, e2e.get(THEIRS[0], {}).get("records_per_s")), 5.0, "≥"),
        ("CloudWatch idle caller ≤ 1.35× NullHandler", ratio(idle.get("threaded json", {}).get("ns_per_call"),
                                                             idle.get(NULL, {}).get("ns_per_call")), 1.35, "≤"),
        ("CloudWatch exit ≤ shutdown_timeout (5 s) + 1 s", ex.get("threaded json", {}).get("exit_s"), 6.0, "≤"),
    ]


def report(r: Dict[str, Any]) -> None:
    print(f"# CloudWatch Logs: threaded-logging and watchtower ({r['date']}, {r['machine']}"
          f"{', quick' if r['quick'] else ''})\n")
    tables(r)
    print("\n## Targets\n")
    rows = []
    for label, value, bound, op in target_rows(r):
        met = "n/a" if value is None else ("yes" if (value >= bound if op == "≥" else value <= bound) else "NO")
        rows.append([label, fmt(value, "", 2), met])
    table(["target", "measured", "met"], rows)
    print(f"\nRun took {r['seconds']:.0f} s: `python benchmarks/cloudwatch.py{' --quick' if r['quick'] else ''}`.")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5]))
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts and one repeat (smoke run)")
    parser.add_argument("--json", default=None, help="write all results to this file")
    args = parser.parse_args()
    started = time.monotonic()
    results: Dict[str, Any] = {"date": datetime.date.today().isoformat(), "quick": args.quick,
                               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    server, endpoint = start_moto()
    try:
        results.update(measure_all(endpoint, args.quick))
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return finish(results, started, report, args.json)


if __name__ == "__main__":
    sys.exit(main())
