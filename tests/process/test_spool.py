"""The durable spool across outages, exits, kill -9 and restarts, in real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


from threaded_logging.cli.collector import Collector

from ..helpers import wait_for
from ..integration.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

APP = """
import json, logging, sys, time
from threaded_logging import ThreadedHttpHandler
port, spool, count, tag = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {{}}
options = dict(method="POST", spool_dir=spool, name="app", flush_interval=20, capacity=60000,
               shutdown_timeout=3, max_retry_time=None)
options.update({{k: v for k, v in extra.items() if k not in ("pace", "burst")}})
handler = ThreadedHttpHandler(f"127.0.0.1:{{port}}", "/", **options)
log = logging.getLogger("app"); log.addHandler(handler); log.propagate = False; log.setLevel(logging.INFO)
for i in range(count):
    log.info("%s %d", tag, i)
    if extra.get("pace") and i % 50 == 49 and i >= extra.get("burst", 0):
        time.sleep(extra["pace"])
wait = float({wait})
if wait:
    ok = handler.flush(timeout=wait)
handler.close()
print(json.dumps(handler.stats()), flush=True)
"""


def app(tmp_path: Path, port: int, spool: Path, count: int, tag: str, wait: float = 0, **extra: object) -> subprocess.CompletedProcess:
    script = tmp_path / f"app_{tag}.py"
    script.write_text(APP.format(wait=wait))
    return subprocess.run(
        [sys.executable, str(script), str(port), str(spool), str(count), tag, json.dumps(extra)],
        capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def stats_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


class TestSpool:
    def test_outage_then_next_run_delivers_everything_in_order(self, tmp_path: Path) -> None:
        """Collector down: 50,000 records go to the spool; the next run delivers them once, in order."""
        port, spool = free_port(), tmp_path / "spool"
        first = app(tmp_path, port, spool, 50_000, "a")
        stats = stats_of(first)
        assert (stats["emitted"], stats["sent"], stats["dropped"]) == (50_000, 0, 0)
        assert "stay in the spool" in first.stderr
        with Collector("127.0.0.1", port, keep=True) as collector:
            second = stats_of(app(tmp_path, port, spool, 0, "b", wait=60))
            assert second["sent"] == 50_000 and second["spooled"] == 0
            assert [r["message"] for r in collector.records] == [f"a {i}" for i in range(50_000)]
            prefixes = {r["record_id"].rsplit("-", 1)[0] for r in collector.records}
            assert len(prefixes) == 1, "records resent by the next run keep the ids the first run gave them"
            assert [r["record_id"].rsplit("-", 1)[1] for r in collector.records[:3]] == ["1", "2", "3"]
        assert not list(spool.glob("*.spool")), "delivered segments are removed"

    def test_kill_9_mid_shipment_loses_nothing_spooled(self, tmp_path: Path) -> None:
        """kill -9 while sending; the restart delivers every spooled record; duplicates only from the batch in flight, counted."""
        port, spool = free_port(), tmp_path / "spool"
        script = tmp_path / "victim.py"
        script.write_text(APP.format(wait=600))
        with Collector("127.0.0.1", port, keep=True) as collector:
            slow = collector.server.RequestHandlerClass.do_POST

            def delayed(handler):  # type: ignore[no-untyped-def]
                time.sleep(0.15)
                slow(handler)

            collector.server.RequestHandlerClass.do_POST = delayed  # type: ignore[method-assign]
            try:
                proc = subprocess.Popen(
                    [sys.executable, str(script), str(port), str(spool), "5000", "k", json.dumps({"batch_size": 250})],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                assert wait_for(lambda: collector.received >= 1000, timeout=60)
                os.kill(proc.pid, signal.SIGKILL)
                proc.communicate(timeout=10)
            finally:
                collector.server.RequestHandlerClass.do_POST = slow  # type: ignore[method-assign]
            before_restart = collector.received
            assert before_restart < 5000
            restart = stats_of(app(tmp_path, port, spool, 0, "r", wait=60))
        messages = [r["message"] for r in collector.records]
        assert set(messages) == {f"k {i}" for i in range(5000)}
        ids: dict = {}
        for record in collector.records:
            ids.setdefault(record["message"], set()).add(record["record_id"])
        assert all(len(found) == 1 for found in ids.values()), "a record sent twice keeps its record_id"
        assert len({rid for found in ids.values() for rid in found}) == 5000
        duplicates = len(messages) - 5000
        assert 0 <= duplicates <= 250
        assert restart["resent"] >= duplicates
        assert restart["sent"] == 5000 - before_restart + duplicates

    def test_outage_longer_than_the_bound_drops_and_reports_a_gap(self, tmp_path: Path) -> None:
        """The spool stops at spool_max_bytes; further records are dropped, counted, and a gap record arrives."""
        port, spool = free_port(), tmp_path / "spool"
        # the first 500 without a pause: memory overflows before the worker's first
        # cycle, so a gap record is due while the spool still has room for it
        run = app(tmp_path, port, spool, 3000, "o", spool_max_bytes=300_000, capacity=200, pace=0.002, burst=500)
        first = stats_of(run)
        at_close = re.search(r"(\d+) record\(s\) not delivered", run.stderr)
        dropped_at_close = int(at_close.group(1)) if at_close else 0
        untold = re.search(r"(\d+) record\(s\) dropped earlier", run.stderr)
        dropped_at_close += int(untold.group(1)) if untold else 0
        assert first["dropped"] > 0
        assert 250_000 <= first["spool_bytes"] <= 300_000, "the spool filled up to its bound"
        assert first["emitted"] == first["dropped"] + first["spooled"] + first["queued"]
        with Collector("127.0.0.1", port, keep=True) as collector:
            second = stats_of(app(tmp_path, port, spool, 0, "p", wait=60))
            got = collector.records
        gaps = [r for r in got if r["logger"] == "threaded_logging"]
        assert gaps and all("dropped" in gap["message"] for gap in gaps)
        # drops while running are told by gap records; what is still in memory at exit, by stderr
        assert sum(gap["dropped"] for gap in gaps) + dropped_at_close == first["dropped"]
        kept = [int(r["message"].split()[1]) for r in got if r["logger"] == "app"]
        assert kept == sorted(set(kept)), "in logged order, none twice"
        assert len(kept) + first["dropped"] == 3000
        assert second["sent"] == len(kept)

    def test_corrupt_spool_file_is_moved_aside(self, tmp_path: Path) -> None:
        """An unreadable spool file is set aside with a message; the handler keeps working."""
        from threaded_logging._spool import identity_filename

        port, spool = free_port(), tmp_path / "spool"
        spool.mkdir()
        (spool / f"{identity_filename('app')}.dead00000000.spool").write_bytes(b"this is not sqlite" * 100)
        with Collector("127.0.0.1", port, keep=True) as collector:
            run = app(tmp_path, port, spool, 10, "c", wait=30)
            stats = stats_of(run)
            assert stats["sent"] == 10
            assert [r["message"] for r in collector.records] == [f"c {i}" for i in range(10)]
        assert "unreadable" in run.stderr and "moved aside" in run.stderr
        assert list(spool.glob("*.corrupt-*"))

    def test_two_processes_share_a_spool_dir_without_double_sending(self, tmp_path: Path) -> None:
        """Two live processes with one identity and directory: each record arrives once."""
        port, spool = free_port(), tmp_path / "spool"
        script = tmp_path / "pair.py"
        script.write_text(APP.format(wait=60))
        with Collector("127.0.0.1", port, keep=True) as collector:
            procs = [
                subprocess.Popen([sys.executable, str(script), str(port), str(spool), "2000", tag],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
                for tag in ("x", "y")
            ]
            for proc in procs:
                out, err = proc.communicate(timeout=120)
                assert proc.returncode == 0, err
            messages = [r["message"] for r in collector.records]
        assert sorted(messages) == sorted([f"x {i}" for i in range(2000)] + [f"y {i}" for i in range(2000)])
        for tag in ("x", "y"):
            assert [m for m in messages if m[0] == tag] == [f"{tag} {i}" for i in range(2000)]

    def test_files_stay_within_the_bound_during_a_long_outage(self, tmp_path: Path) -> None:
        """50,000 records into a 2 MB spool with the destination down: its files, log included,
        never take more than 2 MB x 1.1 + 1 MiB, sampled throughout."""
        port, spool = free_port(), tmp_path / "spool"
        script = tmp_path / "bound.py"
        script.write_text(
            "import json, logging, os, sys, threading, time\n"
            "from threaded_logging import ThreadedHttpHandler\n"
            "spool = sys.argv[2]\n"
            "handler = ThreadedHttpHandler(f'127.0.0.1:{sys.argv[1]}', '/', method='POST', spool_dir=spool,\n"
            "    name='bound', flush_interval=20, spool_max_bytes=2_000_000, capacity=60_000, shutdown_timeout=1)\n"
            "log = logging.getLogger('bound'); log.addHandler(handler); log.propagate = False; log.setLevel(logging.INFO)\n"
            "worst, stop = [0], threading.Event()\n"
            "def sample():\n"
            "    while not stop.is_set():\n"
            "        total = 0\n"
            "        for entry in os.scandir(spool):\n"
            "            try: total += entry.stat().st_size\n"
            "            except OSError: pass\n"
            "        worst[0] = max(worst[0], total)\n"
            "        stop.wait(0.002)\n"
            "sampler = threading.Thread(target=sample); sampler.start()\n"
            "for i in range(50_000):\n"
            "    log.info('outage %d %s', i, 'x' * 200)\n"
            "    if i % 1000 == 999: time.sleep(0.02)\n"
            "deadline = time.monotonic() + 60\n"
            "while handler.stats()['queued'] and time.monotonic() < deadline and handler.stats()['spool_bytes'] < 1_800_000:\n"
            "    time.sleep(0.05)\n"
            "handler.close(); stop.set(); sampler.join()\n"
            "print(json.dumps({'worst': worst[0], **handler.stats()}))\n"
        )
        proc = subprocess.run([sys.executable, str(script), str(port), str(spool)], capture_output=True, text=True,
                              timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
        result = stats_of(proc)
        assert result["spool_bytes"] > 1_500_000, "the spool filled up"
        assert result["dropped"] > 0 and result["emitted"] == 50_000
        assert result["worst"] <= 2_000_000 * 1.1 + (1 << 20), result["worst"]
        print(f"worst on-disk spool bytes: {result['worst']:,}")
