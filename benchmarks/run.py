"""Benchmarks: threaded-logging against the stdlib and the handlers users pick today.

    python benchmarks/run.py            # the full run (about 15 minutes here)
    python benchmarks/run.py --quick    # a smoke run, under 5 minutes

Every measurement runs in a fresh process (benchmarks/measure.py); the
collector and the SQS endpoint run in their own processes; repeats are
interleaved across contenders and medians taken; ratios are within this run.
The logged call is ``logger.info("request %s done", i, extra={"user": "u"})``
on a logger with ``propagate=False``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import _common  # noqa: E402
import cloudwatch  # noqa: E402
import contenders  # noqa: E402

USERS_PICK = ["stdlib Queue+Listener+HTTP", "logstash-async memory", "logstash-async sqlite", "logzio"]
HTTP_SET = ["NullHandler", "deque.append", "stdlib HTTPHandler GET", "stdlib HTTPHandler POST",
            "stdlib Queue+Listener+HTTP", "logstash-async memory", "logstash-async sqlite", "logzio",
            "Threaded GET", "Threaded POST ndjson", "Threaded POST gzip", "Threaded POST spool",
            "Threaded(FileHandler)"]

#: Each destination format against ndjson, in the same run.
FORMAT_SET = ["NullHandler", "Threaded POST ndjson", "Threaded POST otlp", "Threaded POST elasticsearch",
              "Threaded POST loki", "Threaded POST splunk_hec"]
#: The journal's caller cost: the spool without and with it, the destination down.
JOURNAL_SET = ["NullHandler", "Threaded POST spool", "Threaded POST journal"]
PACED_SET = ["NullHandler", "stdlib Queue+Listener+HTTP", "Threaded POST ndjson", "Threaded POST spool"]
PACED_RATES = [5_000, 20_000]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Service:
    """A server in its own process, stopped by its PID."""

    def __init__(self, args: List[str], probe: str) -> None:
        env = {**os.environ, "PYTHONPATH": ROOT}
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        wait_http(probe, 30)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def collector(delay: float = 0.0) -> Tuple[Service, str]:
    port = free_port()
    args = [sys.executable, "-m", "threaded_logging", "collect", "--port", str(port), "--output", "none"]
    if delay:
        args += ["--delay", str(delay)]
    return Service(args, f"http://127.0.0.1:{port}/"), f"127.0.0.1:{port}"


def moto() -> Tuple[Service, str]:
    port = free_port()
    return Service([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                   f"http://127.0.0.1:{port}/moto-api/"), f"127.0.0.1:{port}"


def measure(scenario: str, name: str, addr: str, params: Dict[str, Any], timeout: float = 300) -> Optional[Dict[str, Any]]:
    args = [sys.executable, os.path.join(HERE, "measure.py"), scenario, name, addr, json.dumps(params)]
    return _common.run_json(args, f"{scenario} / {name}", {**os.environ, "PYTHONPATH": ROOT}, timeout)

def available(names: List[str]) -> List[str]:
    out = []
    for name in names:
        module = contenders.OPTIONAL.get(name)
        if module is None or importlib.util.find_spec(module) is not None:
            out.append(name)
        else:
            print(f"  (skipping {name}: install the [bench] extra)", file=sys.stderr)
    return out


def interleaved(scenario: str, names: List[str], addr: str, params: Dict[str, Any], repeats: int,
                key: str) -> Dict[str, Dict[str, Any]]:
    return _common.interleaved(lambda name: measure(scenario, name, addr, params), names, repeats, scenario, key)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if not a or not b else a / b


def percent(counts: Dict[str, Any]) -> Optional[float]:
    """Dropped records as a percentage of those emitted."""
    return None if not counts.get("emitted") else 100 * counts.get("dropped", 0) / counts["emitted"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--quick", action="store_true", help="smaller counts and one repeat (smoke run)")
    parser.add_argument("--json", default=None, help="write all results to this file")
    args = parser.parse_args()
    quick = args.quick
    repeats = 1 if quick else 3
    started = time.monotonic()
    results: Dict[str, Any] = {"date": datetime.date.today().isoformat(), "quick": quick,
                               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    names = available(HTTP_SET)
    live, addr = collector()
    stalled, stalled_addr = collector(delay=10)
    dead = f"127.0.0.1:{free_port()}"
    try:
        print("idle caller cost (destination unreachable)", file=sys.stderr)
        idle_names = [n for n in names if n != "Threaded POST spool"]
        fine = 1 if quick else 5  # caller costs are small numbers on a noisy machine: more repeats
        results["idle"] = interleaved("idle", idle_names, dead, {"n": 20_000 if quick else 200_000}, fine, "ns_per_call")
        print("caller cost while shipping", file=sys.stderr)
        ship_names = [n for n in names if n not in ("Threaded GET",)]
        results["shipping"] = interleaved("shipping", ship_names, addr, {"n": 20_000 if quick else 100_000}, fine, "ns_per_call")
        print("paced: the app logs at a steady rate", file=sys.stderr)
        results["paced"] = {}
        for rate in PACED_RATES:
            results["paced"][str(rate)] = interleaved(
                "paced", [n for n in PACED_SET if n in names], addr,
                {"rate": rate, "seconds": 1 if quick else 5}, repeats, "ns_per_call")
        print("end-to-end throughput (20,000 records)", file=sys.stderr)
        e2e_names = [n for n in names if n not in ("NullHandler", "deque.append", "Threaded(FileHandler)")]
        if quick:  # one request per record: seconds each, left to the full run
            e2e_names = [n for n in e2e_names if "GET" not in n]
        results["e2e"] = interleaved("e2e", e2e_names, addr, {"n": 3_000 if quick else 20_000}, repeats, "records_per_s")
        print("destination formats: caller cost while shipping, and end to end", file=sys.stderr)
        results["formats_shipping"] = interleaved("shipping", FORMAT_SET, addr,
                                                  {"n": 20_000 if quick else 100_000}, fine, "ns_per_call")
        # capacity = n: every format delivers the whole burst, so the rate is the time
        # to deliver it (with the default capacity the slower formats drop more, and
        # dropping shortens the run)
        burst = 3_000 if quick else 20_000
        results["formats_e2e"] = interleaved("e2e", FORMAT_SET[1:], addr, {"n": burst, "options": {"capacity": burst}},
                                             repeats, "records_per_s")
        print("journal: caller cost with every record journaled (destination down, records spooled)", file=sys.stderr)
        results["journal"] = interleaved("idle", JOURNAL_SET, dead, {"n": 20_000 if quick else 100_000}, fine,
                                         "ns_per_call")
        print("stalled collector (replies held 10 s)", file=sys.stderr)
        stall_names = ["NullHandler", "stdlib HTTPHandler POST", "stdlib Queue+Listener+HTTP"] + [
            n for n in names if n in USERS_PICK[1:]] + ["Threaded POST ndjson", "Threaded POST gzip"]
        results["stall"] = interleaved("stall", stall_names, stalled_addr,
                                       {"n": 500 if quick else 2000, "sync_calls": 1 if quick else 3}, repeats, "p99_us")
        print("outage memory (collector down)", file=sys.stderr)
        n_out = 50_000 if quick else 200_000
        results["need"] = interleaved("need", ["NullHandler"], dead, {"capacity": 10_000}, 1, "rss_growth_mb")
        results["outage"] = interleaved("outage", ["Threaded POST ndjson", "Threaded POST spool"], dead,
                                        {"n": n_out, "capacity": 10_000}, 1, "rss_growth_mb")
    finally:
        live.stop()
        stalled.stop()
    print("SQS against a local moto server", file=sys.stderr)
    server, moto_addr = moto()
    try:
        results["sqs"] = {}
        for name, n in (("ThreadedSqs", 500 if quick else 2000), ("ThreadedSqs pack", 5000 if quick else 50_000)):
            drained = Drainer(moto_addr, f"bench-{name.replace(' ', '-')}")
            got = measure("sqs", name, moto_addr, {"n": n, "queue": drained.queue})
            drained.stop()
            if got:
                results["sqs"][name] = got
                print(f"  sqs       {name:28} records_per_s={got['records_per_s']:.0f}", file=sys.stderr)
        print("CloudWatch Logs against the same moto server, with watchtower", file=sys.stderr)
        results["cloudwatch"] = cloudwatch.measure_all(f"http://{moto_addr}", quick)
    finally:
        server.stop()
    return _common.finish(results, started, report, args.json)


class Drainer:
    """Deletes what arrives on a moto queue while the benchmark sends, so moto stays fast."""

    def __init__(self, addr: str, queue: str) -> None:
        import boto3

        self.queue = queue
        self.client = boto3.client("sqs", endpoint_url=f"http://{addr}", region_name="us-east-1",
                                   aws_access_key_id="x", aws_secret_access_key="x")
        self.url = self.client.create_queue(QueueName=queue)["QueueUrl"]
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(2)]
        for thread in self.threads:
            thread.start()

    def run(self) -> None:
        deadline = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                got = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
                if got:
                    self.client.delete_message_batch(QueueUrl=self.url, Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
                else:
                    self._stop.wait(0.05)
            except Exception:
                self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(10)


def fmt(value: Optional[float], unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def table(header: List[str], rows: List[List[Any]], text_last: bool = False) -> None:
    """Print a markdown table: names left, numbers right (and a last text column left)."""
    aligns = ["---"] + ["---:"] * (len(header) - 1)
    if text_last:
        aligns[-1] = "---"
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(aligns) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def formats_table(r: Dict[str, Any]) -> None:
    """Each destination format's caller cost and end-to-end rate, against ndjson; and the journal."""
    ship, e2e = r.get("formats_shipping", {}), r.get("formats_e2e", {})
    null = ship.get("NullHandler", {}).get("ns_per_call")
    base = e2e.get("Threaded POST ndjson", {}).get("records_per_s")
    rows = []
    for name in FORMAT_SET[1:]:
        a, b = ship.get(name, {}).get("ns_per_call"), e2e.get(name, {})
        rows.append([name, fmt(a), fmt(ratio(a, null), "×", 2), fmt(b.get("records_per_s")),
                     fmt(ratio(b.get("records_per_s"), base), "×", 2), fmt(b.get("lost")),
                     fmt(b.get("logging_s"), "", 2), fmt(b.get("closing_s"), "", 2)])
    print()
    table(["format", "shipping ns/call", "× Null", "end to end records/s", "× ndjson", "lost",
           "logging s", "closing s"], rows)
    journal = r.get("journal", {})
    null_j = journal.get("NullHandler", {}).get("ns_per_call")
    print()
    table(["journal (destination down, records spooled)", "caller ns/call", "× Null"],
          [[name, fmt(v.get("ns_per_call")), fmt(ratio(v.get("ns_per_call"), null_j), "×", 2)] for name, v in journal.items()])


def format_target_rows(r: Dict[str, Any]) -> List[Tuple[str, Optional[float], float, str]]:
    e2e = r.get("formats_e2e", {})
    base = e2e.get("Threaded POST ndjson", {}).get("records_per_s")
    return [(f"{name[len('Threaded POST '):]}: end to end ≥ 0.75× ndjson", ratio(e2e.get(name, {}).get("records_per_s"), base),
             0.75, "≥") for name in FORMAT_SET[2:]]


def report(r: Dict[str, Any]) -> None:
    out = sys.stdout
    print(f"# threaded-logging benchmarks ({r['date']}, {r['machine']}{', quick' if r['quick'] else ''})\n", file=out)
    idle, ship = r.get("idle", {}), r.get("shipping", {})
    null_idle = idle.get("NullHandler", {}).get("ns_per_call")
    null_ship = ship.get("NullHandler", {}).get("ns_per_call")
    rows = []
    for name in HTTP_SET:
        a, b = idle.get(name, {}).get("ns_per_call"), ship.get(name, {}).get("ns_per_call")
        if a is not None or b is not None:
            rows.append([name, fmt(a), fmt(ratio(a, null_idle), "×", 2), fmt(b), fmt(ratio(b, null_ship), "×", 2)])
    table(["contender", "idle ns/call", "idle × Null", "shipping ns/call", "shipping × Null"], rows)
    paced = r.get("paced", {})
    print()
    rows = []
    for rate, runs in paced.items():
        null = runs.get("NullHandler", {}).get("ns_per_call")
        for name, v in runs.items():
            rows.append([f"{name} @ {int(rate):,}/s", fmt(v.get("ns_per_call")), fmt(ratio(v.get("ns_per_call"), null), "×", 2),
                         fmt(v.get("achieved_per_s")), fmt(100 * v.get("worker_core_share", 0), " %", 1)])
    table(["contender (paced)", "caller ns/call", "× Null", "achieved records/s", "worker share of a core"], rows)
    e2e = r.get("e2e", {})
    print()
    table(["contender (end to end)", "records/s", "lost", "seconds"],
          [[name, fmt(v.get("records_per_s")), fmt(v.get("lost")), fmt(v.get("seconds"), "", 2)] for name, v in e2e.items()])
    best_pick = max((e2e[n]["records_per_s"] for n in USERS_PICK if n in e2e), default=None)
    ours = e2e.get("Threaded POST ndjson", {}).get("records_per_s")
    stall = r.get("stall", {})
    null_p99 = stall.get("NullHandler", {}).get("p99_us")
    print()
    table(["contender (collector stalled)", "calls", "p99 µs", "p99 × Null", "max µs"],
          [[name, v.get("calls"), fmt(v.get("p99_us"), "", 1), fmt(ratio(v.get("p99_us"), null_p99), "×", 2),
            fmt(v.get("max_us"), "", 1)] for name, v in stall.items()])
    need = r.get("need", {}).get("NullHandler", {}).get("rss_growth_mb")
    print(f"\nOutage memory: holding 10,000 records takes {fmt(need, ' MB', 1)}.\n", file=out)
    table(["contender (collector down)", "RSS growth MB", "emitted", "dropped", "queued", "spooled", "counters exact"],
          [[name, fmt(v.get("rss_growth_mb"), "", 1), fmt(v.get("emitted")), fmt(v.get("dropped")), fmt(v.get("queued")),
            fmt(v.get("spooled")), v.get("exact")] for name, v in r.get("outage", {}).items()], text_last=True)
    sqs = r.get("sqs", {})
    print()
    table(["SQS (moto)", "records", "records/s", "SendMessageBatch per 1,000", "API calls per 1,000"],
          [[name, v["records"], fmt(v["records_per_s"]), fmt(v["send_calls_per_1000"], "", 1),
            fmt(v["api_calls_per_1000"], "", 1)] for name, v in sqs.items()])
    formats_table(r)
    print()
    cloudwatch.tables(r.get("cloudwatch", {}))
    print("\n## Targets\n", file=out)
    rows = [
        ("idle: ThreadedHttpHandler ≤ 1.2× NullHandler", ratio(idle.get("Threaded POST ndjson", {}).get("ns_per_call"), null_idle), 1.2, "≤"),
        ("shipping: ≤ 2× NullHandler", ratio(ship.get("Threaded POST ndjson", {}).get("ns_per_call"), null_ship), 2.0, "≤"),
        ("paced 20,000/s: caller ≤ 1.3× NullHandler", ratio(paced.get("20000", {}).get("Threaded POST ndjson", {}).get("ns_per_call"),
                                                           paced.get("20000", {}).get("NullHandler", {}).get("ns_per_call")), 1.3, "≤"),
        ("end to end: ≥ 65,000 records/s (POST ndjson)", ours, 65_000, "≥"),
        ("end to end: ≥ 10× the best users' pick", ratio(ours, best_pick), 10, "≥"),
        ("end to end: 0 lost", e2e.get("Threaded POST ndjson", {}).get("lost"), 0, "="),
        ("stall: p99 ≤ 2× paced NullHandler p99", ratio(stall.get("Threaded POST ndjson", {}).get("p99_us"), null_p99), 2.0, "≤"),
        ("stall: max < 5 ms (µs)", stall.get("Threaded POST ndjson", {}).get("max_us"), 5000, "<"),
        ("outage: RSS growth ≤ need + 10 MB", r.get("outage", {}).get("Threaded POST ndjson", {}).get("rss_growth_mb"), (need or 0) + 10, "≤"),
        ("end to end with spool: ≥ 40,000 records/s", e2e.get("Threaded POST spool", {}).get("records_per_s"), 40_000, "≥"),
        ("outage with spool: ≤ 1% of the burst dropped (%)", percent(r.get("outage", {}).get("Threaded POST spool", {})), 1.0, "≤"),
        ("SQS: pack ≥ 10× records/s", ratio(sqs.get("ThreadedSqs pack", {}).get("records_per_s"), sqs.get("ThreadedSqs", {}).get("records_per_s")), 10, "≥"),
        ("journal: caller ≤ 1.45× NullHandler (destination down)", ratio(
            r.get("journal", {}).get("Threaded POST journal", {}).get("ns_per_call"),
            r.get("journal", {}).get("NullHandler", {}).get("ns_per_call")), 1.45, "≤"),
    ] + format_target_rows(r) + cloudwatch.target_rows(r.get("cloudwatch", {}))
    results = []
    for label, value, bound, op in rows:
        if value is None:
            met = "n/a"
        else:
            met = "yes" if {"≤": value <= bound, "≥": value >= bound, "<": value < bound, "=": value == bound}[op] else "NO"
        results.append([label, fmt(value, "", 2) if isinstance(value, float) else fmt(value), met])
    table(["target", "measured", "met"], results, text_last=True)
    print(f"\nRun took {r['seconds']:.0f} s: `python benchmarks/run.py{' --quick' if r['quick'] else ''}`.", file=out)


if __name__ == "__main__":
    sys.exit(main())
