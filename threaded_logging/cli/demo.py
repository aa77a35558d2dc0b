"""``threaded-logging demo``: the main job, end to end, on one machine.

Starts the collector in-process on a free loopback port, attaches a
ThreadedHttpHandler(method="POST") to the root logger, logs from several
threads while timing every call, makes a few real HTTP calls through a
requests session whose calls are logged too, flushes, and prints what
arrived.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, TYPE_CHECKING, TextIO, Tuple

from .collector import Collector

if TYPE_CHECKING:
    from ..transports.http import ThreadedHttpHandler


#: Per format: the path its destination listens on, and the options it needs.
FORMATS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "ndjson": ("/demo", {}),
    "json": ("/demo", {}),
    "otlp": ("/v1/logs", {"service_name": "threaded-logging-demo"}),
    "elasticsearch": ("/demo/_bulk", {"index": "threaded-logging-demo"}),
    "loki": ("/loki/api/v1/push", {}),
    "splunk_hec": ("/services/collector/event", {"token": "demo-token"}),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=100_000, help="records to log (default 100,000)")
    parser.add_argument("--threads", type=int, default=4, help="logging threads (default 4)")
    parser.add_argument("--output", default=None, help="collector output directory (default: a new temporary directory)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.add_argument("--format", choices=sorted(FORMATS), default="ndjson",
                        help="the body format, sent where its destination listens (default ndjson)")


class Progress:
    """A one-line progress bar on a terminal; a few plain lines otherwise."""

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total = max(1, total)
        self.stream = stream
        self.enabled = enabled
        self.tty = stream.isatty()
        self._shown = -1
        self._lock = threading.Lock()  # guards: _shown

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        step = done * (50 if self.tty else 4) // self.total
        with self._lock:
            if step <= self._shown:
                return
            self._shown = step
        percent = done * 100 // self.total
        if self.tty:
            bar = "#" * (percent // 2) + "-" * (50 - percent // 2)
            self.stream.write(f"\rlogging [{bar}] {percent:3d}%")
            if done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"logging: {percent}% ({done} records)\n")
        self.stream.flush()


def percentile(sorted_values: List[int], fraction: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def run(args: argparse.Namespace) -> int:
    from ..transports.http import ThreadedHttpHandler

    records, threads = max(0, args.records), max(1, args.threads)
    output = args.output or tempfile.mkdtemp(prefix="threaded-logging-demo-")
    collector = Collector("127.0.0.1", 0, output).start()
    path, options = FORMATS[args.format]
    # Sized to the whole run, so the figures show delivery, not overflow.
    handler = ThreadedHttpHandler(
        collector.address, path, method="POST", capacity=max(10_000, records + 100), format=args.format,
        static_fields={"app": "threaded-logging-demo"}, **options,
    )
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        return _run(args, records, threads, collector, handler)
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        handler.close()
        collector.stop()


def _request_calls(collector: Collector, logger: logging.Logger) -> int:
    """A few real API calls whose records come from the requests hook."""
    import requests

    session = requests.Session()
    try:
        from ..hooks.requests import log_requests
    except ImportError:  # pragma: no cover - the hook ships with the package
        return 0
    log_requests(session, logger="demo.api")
    base = f"http://{collector.address}"
    session.get(f"{base}/status", timeout=5)
    session.get(f"{base}/health", timeout=5)
    # a malformed body: the collector answers 400, and the hook records the error
    session.post(f"{base}/demo", data=b"{not json", headers={"Content-Type": "application/x-ndjson"}, timeout=5)
    session.close()
    return 3


def _run(args: argparse.Namespace, records: int, threads: int, collector: Collector,
         handler: "ThreadedHttpHandler") -> int:
    out = sys.stdout
    logger = logging.getLogger("demo")
    progress = Progress(records, sys.stderr, not args.no_progress)
    per_thread = [records // threads + (1 if t < records % threads else 0) for t in range(threads)]
    latencies: List[List[int]] = [[] for _ in range(threads)]
    done = [0] * threads
    clock = time.perf_counter_ns

    def work(index: int) -> None:
        mine = latencies[index]
        info = logger.info
        for i in range(per_thread[index]):
            started = clock()
            info("request %s done", i, extra={"user": f"u{index}", "worker": index})
            mine.append(clock() - started)
            if i % 500 == 0:
                done[index] = i
                progress.update(sum(done))
        done[index] = per_thread[index]

    print(f"threaded-logging demo: {records} records from {threads} threads to "
          f"http://{collector.address}{handler.url} as {handler.body_format} (collector in this process)",
          file=out, flush=True)
    started = time.monotonic()
    workers = [threading.Thread(target=work, args=(t,), name=f"demo-{t}") for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    progress.update(records)
    logged_s = time.monotonic() - started
    api_calls = _request_calls(collector, logger)
    expected = records + api_calls
    delivered = handler.flush(timeout=max(30.0, records / 2000))
    finished = time.monotonic()
    stats = handler.stats()
    received = collector.received
    lost = expected - received
    values = sorted(v for per in latencies for v in per)
    elapsed = finished - started
    rows = [
        ("logged", f"{expected}  ({records} records + {api_calls} request-hook records)"),
        ("received", f"{received}"),
        ("lost", f"{lost}"),
        ("dropped / failed", f"{stats['dropped']} / {stats['failed']}"),
        ("caller latency p50", f"{percentile(values, 0.50) / 1000:.1f} us"),
        ("caller latency p99", f"{percentile(values, 0.99) / 1000:.1f} us"),
        ("caller latency max", f"{(values[-1] if values else 0) / 1000:.1f} us"),
        ("logging took", f"{logged_s:.2f} s ({records / max(logged_s, 1e-9):,.0f} calls/s)"),
        ("end to end", f"{elapsed:.2f} s ({received / max(elapsed, 1e-9):,.0f} records/s)"),
        ("requests / batches", f"{collector.server.requests} / {stats['batches']}"),
        ("output", str(collector.sink.current_path)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}", file=out)
    out.flush()
    return 0 if lost == 0 and delivered else 1

