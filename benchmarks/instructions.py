"""Per-record cost of the hot paths, in instructions (callgrind) and µs.

    python benchmarks/instructions.py            # every path, ~3 minutes here
    python benchmarks/instructions.py --quick    # fewer repeats, ~1 minute
    python benchmarks/instructions.py ndjson spool-put   # some paths only

Instruction counts are repeatable on a loaded machine, where wall-clock
times are not: each path runs as a fixed loop in a fresh interpreter under
``valgrind --tool=callgrind``, once short and once long, and the difference
divided by the extra records removes start-up and set-up. The µs column
comes from timed loops outside valgrind (median of several) and moves with
the machine's load. Without valgrind only the µs column is printed.

The typical record is the benchmark's: ``logger.info("request %s done", i,
extra={"user": "u"})``. Not part of CI (valgrind is optional there); run it
by hand before and after a change to a hot path.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _common import make_logger  # noqa: E402

BATCH = 1000  # records per encoded batch (a third of the default batch_size)

#: path -> (what it measures, loops in the short and the long callgrind run)
PATHS: Dict[str, Tuple[str, int, int]] = {
    "ndjson": ("NdjsonFormat.encode with orjson: records -> body bytes", 1, 4),
    "ndjson-stdlib": ("NdjsonFormat.encode with the stdlib json", 1, 3),
    "json": ("JsonArrayFormat.encode with orjson", 1, 4),
    "spool-put": ("Spool.put: freeze + SQLite insert", 1, 4),
    "spool-peek": ("Spool.peek + settle of rows just put (still in memory)", 1, 4),
    "spool-thaw": ("Spool.peek + settle of rows read back: read, thaw, delete", 1, 4),
    "sqs-pack": ("SQS pack mode: records -> SendMessageBatch entries", 1, 4),
    "info-null": ("caller: logger.info with a NullHandler", 1, 4),
    "info-threaded": ("caller: logger.info with ThreadedHttpHandler (records queued, worker not started)", 1, 4),
    "info-spool": ("caller: the same with spool_dir (the spool is the worker's: no caller cost)", 1, 4),
    "info-journal": ("caller: the same with spool_dir and journal=True (each record journaled)", 1, 4),
}


# -- the measured loops (run in a child process) -----------------------------------


def typical_items(count: int) -> List[Any]:
    """``count`` snapshots of the benchmark's typical record, as ``emit`` takes them."""
    items: List[Any] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            items.append((len(items) + 1, record, record.getMessage(), None))

    logger = make_logger(Capture())
    for i in range(count):
        logger.info("request %s done", i, extra={"user": "u"})
    return items


def setup(path: str) -> Callable[[], int]:
    """The loop body for ``path``: one call handles :data:`BATCH` records."""
    from threaded_logging._schema import Schema

    items = typical_items(BATCH)
    if path in ("ndjson", "ndjson-stdlib", "json"):
        from threaded_logging.formats.jsonlines import JsonArrayFormat, NdjsonFormat

        if path == "ndjson-stdlib":
            import threaded_logging._schema as schema_module

            schema_module._orjson = None  # type: ignore[assignment]
        body = (JsonArrayFormat if path == "json" else NdjsonFormat)(Schema())
        return lambda: len(body.encode(items, 1 << 30, None))
    if path.startswith("spool-"):
        return _spool_loop(path, items, Schema())
    if path == "sqs-pack":
        from threaded_logging.transports._sqs import SqsTransport

        sqs = SqsTransport("http://127.0.0.1:9/q", None, object(), {}, True, "", False)  # type: ignore[arg-type]
        sqs.schema = Schema()
        sqs._max_message = 256 * 1024
        return lambda: len(sqs.encode(items))
    return _caller_loop(path)


def _spool_loop(path: str, items: List[Any], schema: Any) -> Callable[[], int]:
    from threaded_logging._spool import Spool

    spool = Spool(tempfile.mkdtemp(), "bench", 1 << 30, lambda *a, **k: True, schema.record_id)
    if path == "spool-put":
        return lambda: spool.put(items).stored

    def peek() -> int:
        spool._keeping = path == "spool-peek"  # spool-thaw: as after an outage or a restart
        spool.put(items)  # measured too: subtract the spool-put figure (see below)
        batch = spool.peek(len(items))
        assert batch is not None
        spool.settle(batch, [])
        return len(batch.items)
    return peek


def _caller_loop(path: str) -> Callable[[], int]:
    if path == "info-null":
        handler: logging.Handler = logging.NullHandler()
    else:
        from threaded_logging import ThreadedHttpHandler

        spool: Dict[str, Any] = {} if path == "info-threaded" else {"spool_dir": tempfile.mkdtemp()}
        threaded = ThreadedHttpHandler("127.0.0.1:9", "/bench", "POST", capacity=1 << 30,
                                       journal=path == "info-journal", journal_bytes=64 << 20, **spool)
        threaded._start = lambda: None  # type: ignore[method-assign]  # the caller's cost alone
        threaded._timer.stop(5.0)  # a spool starts its worker at construction: stopped before the loop
        handler = threaded
    info = make_logger(handler).info
    extra = {"user": "u"}

    def loop() -> int:
        for i in range(BATCH):
            info("request %s done", i, extra=extra)
        return BATCH
    return loop


def child(path: str, loops: int) -> None:
    body = setup(path)
    body()  # warm: first-call costs (imports, caches, the SQLite file) are start-up
    for _ in range(loops):
        body()
    # Ends here: a handler's close at exit would ship or spool what the loop
    # queued, work that grows with the loop and would count as the path's.
    sys.stdout.flush()
    os._exit(0)


def timed(path: str, repeats: int) -> float:
    """µs per record: median over ``repeats`` timed runs of the loop body."""
    body = setup(path)
    body()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        body()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) / BATCH * 1e6


# -- the driver ---------------------------------------------------------------------------


def callgrind(path: str, loops: int) -> int:
    """Instructions a fresh interpreter executes running ``loops`` loops of ``path``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
             os.path.abspath(__file__), "--child", path, str(loops)],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT, "PYTHONHASHSEED": "0"},
        )
        found = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
        if proc.returncode != 0 or found is None:
            raise RuntimeError(f"callgrind run of {path} failed: {proc.stderr[-500:]}")
        return int(found.group(1))


def per_record(path: str) -> float:
    _, short, long = PATHS[path]
    return (callgrind(path, long) - callgrind(path, short)) / ((long - short) * BATCH)


def timed_in_child(path: str, repeats: int) -> float:
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--timed", path, str(repeats)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    if proc.returncode != 0:
        raise RuntimeError(f"timed run of {path} failed: {proc.stderr[-500:]}")
    return float(proc.stdout.split()[-1])


def orjson_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("orjson") is None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help=f"some of: {', '.join(PATHS)} (default all)")
    parser.add_argument("--quick", action="store_true", help="fewer timed repeats")
    parser.add_argument("--no-valgrind", action="store_true", help="timed loops only")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "LOOPS"), help=argparse.SUPPRESS)
    parser.add_argument("--timed", nargs=2, metavar=("PATH", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if args.timed:
        print(timed(args.timed[0], int(args.timed[1])))
        return 0
    paths = args.paths or list(PATHS)
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        parser.error(f"unknown path(s) {', '.join(unknown)}; pick from {', '.join(PATHS)}")
    if orjson_missing():
        print("orjson is not installed: every path uses the stdlib json (install the [fast] extra)")
    use_valgrind = not args.no_valgrind and shutil.which("valgrind") is not None
    if not use_valgrind and not args.no_valgrind:
        print("valgrind not found: instruction counts skipped, timed loops only")
    repeats = 5 if args.quick else 15
    print("| path | instructions/record | µs/record | what |\n|---|---:|---:|---|")
    for path in paths:
        instructions = per_record(path) if use_valgrind else None
        micro = timed_in_child(path, repeats)
        shown = "-" if instructions is None else f"{instructions:,.0f}"
        print(f"| {path} | {shown} | {micro:.2f} | {PATHS[path][0]} |", flush=True)
    print("\nspool-peek and spool-thaw include a put of the same records: subtract the spool-put row.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
