"""The journal: records whose logging call returned survive kill -9, abort, a segfault and os._exit."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from threaded_logging.cli.collector import Collector

from ..integration.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX processes and signals")

#: Logs COUNT records with the destination down and a one-minute flush
#: interval: every record is only in memory (and the journal) when it dies.
CRASH = """
import ctypes, json, logging, os, signal, sys, time
from threaded_logging import ThreadedHttpHandler
port, spool, count, how = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
options = json.loads(sys.argv[5])
handler = ThreadedHttpHandler(f"127.0.0.1:{port}", "/", method="POST", spool_dir=spool, name="crashy",
                              flush_interval=60000, **options)
log = logging.getLogger("crashy"); log.addHandler(handler); log.propagate = False; log.setLevel(logging.INFO)
for i in range(count):
    log.info("last words %d", i, extra={"n": i})
print(json.dumps({"prefix": handler._schema.id_prefix, **handler.stats()}), flush=True)
if how == "kill9":
    time.sleep(60)  # the test sends SIGKILL
elif how == "abort":
    os.abort()
elif how == "segfault":
    ctypes.string_at(0)
elif how == "exit3":
    os._exit(3)
"""

#: A later start of the same identity with the destination up: it replays.
RESTART = """
import json, logging, sys
from threaded_logging import ThreadedHttpHandler
port, spool = int(sys.argv[1]), sys.argv[2]
handler = ThreadedHttpHandler(f"127.0.0.1:{port}", "/", method="POST", spool_dir=spool, name="crashy",
                              flush_interval=20)
ok = handler.flush(timeout=60)
handler.close()
print(json.dumps({"ok": ok, **handler.stats()}), flush=True)
"""


def crash(tmp_path: Path, spool: Path, how: str, count: int = 500, **options: object) -> Tuple[int, Dict]:
    script = tmp_path / "crash.py"
    script.write_text(CRASH)
    proc = subprocess.Popen([sys.executable, str(script), str(free_port()), str(spool), str(count), how,
                             json.dumps(options)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    before = json.loads(proc.stdout.readline())
    if how == "kill9":
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode, before


def restart(tmp_path: Path, spool: Path, collector: Collector) -> Tuple[Dict, str]:
    script = tmp_path / "restart.py"
    script.write_text(RESTART)
    proc = subprocess.run([sys.executable, str(script), collector.address.split(":")[1], str(spool)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def words(collector: Collector) -> List[dict]:
    return [r for r in collector.records if r["logger"] == "crashy"]


class TestJournal:
    @pytest.mark.parametrize(("how", "status"), [("kill9", -signal.SIGKILL), ("abort", -signal.SIGABRT),
                                                 ("segfault", -signal.SIGSEGV), ("exit3", 3)])
    def test_every_returned_record_is_replayed_once_in_order(self, tmp_path: Path, how: str, status: int) -> None:
        """After the crash, the next start sends every record whose logging call returned, once, in
        logged order, under the record_ids the crashed process gave them."""
        spool = tmp_path / "spool"
        code, before = crash(tmp_path, spool, how, journal=True)
        assert code == status and before["unjournaled"] == 0
        with Collector("127.0.0.1", 0, keep=True) as collector:
            after, _ = restart(tmp_path, spool, collector)
            got = words(collector)
        assert [r["n"] for r in got] == list(range(500)), "each once, in order"
        assert [r["record_id"] for r in got] == [f"{before['prefix']}{i + 1}" for i in range(500)]
        assert after["ok"] and after["sent"] == 500 and after["resent"] == 0
        assert not glob.glob(str(spool / "*.journal")), "a replayed journal is removed"
        print(f"{how}: {len(got)} of 500 replayed")

    def test_without_the_journal_a_kill_loses_what_was_in_memory(self, tmp_path: Path) -> None:
        """The contrast: without journal=True, kill -9 loses the records still in memory."""
        spool = tmp_path / "spool"
        crash(tmp_path, spool, "kill9")
        with Collector("127.0.0.1", 0, keep=True) as collector:
            after, _ = restart(tmp_path, spool, collector)
            assert words(collector) == [] and after["sent"] == 0

    def test_a_full_journal_counts_what_it_could_not_hold_and_the_rest_is_recovered(self, tmp_path: Path) -> None:
        """A 64 KiB journal holds the first records; the others are counted unjournaled; the journaled ones come back."""
        spool = tmp_path / "spool"
        _, before = crash(tmp_path, spool, "kill9", count=2000, journal=True, journal_bytes=64 * 1024)
        kept = 2000 - before["unjournaled"]
        assert 0 < kept < 2000
        with Collector("127.0.0.1", 0, keep=True) as collector:
            restart(tmp_path, spool, collector)
            assert [r["n"] for r in words(collector)] == list(range(kept))

    def test_a_corrupt_tail_entry_is_skipped_and_reported(self, tmp_path: Path) -> None:
        """A torn last entry fails its checksum: it is skipped and reported; the entries before it arrive."""
        spool = tmp_path / "spool"
        crash(tmp_path, spool, "kill9", count=100, journal=True)
        (journal,) = glob.glob(str(spool / "*.journal"))
        data = bytearray(Path(journal).read_bytes())
        end = len(data.rstrip(b"\0"))
        data[end - 3] ^= 0xFF  # inside the last entry's payload
        Path(journal).write_bytes(bytes(data))
        with Collector("127.0.0.1", 0, keep=True) as collector:
            _, err = restart(tmp_path, spool, collector)
            assert [r["n"] for r in words(collector)] == list(range(99))
        assert "1 torn or corrupt journal entry was skipped" in err

    def test_records_already_spooled_are_not_replayed_twice(self, tmp_path: Path) -> None:
        """Records moved to the spool before the crash come back from the spool, the rest from the
        journal: every record once."""
        spool = tmp_path / "spool"
        script = tmp_path / "partly.py"
        script.write_text(CRASH.replace("flush_interval=60000", "flush_interval=10").replace(
            "for i in range(count):", "for i in range(count):\n    time.sleep(0.0005) if i % 50 == 0 else None"))
        proc = subprocess.Popen([sys.executable, str(script), str(free_port()), str(spool), "3000", "kill9",
                                 json.dumps({"journal": True})], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout is not None
        before = json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert before["spooled"] > 0, "some records reached the spool before the kill"
        with Collector("127.0.0.1", 0, keep=True) as collector:
            restart(tmp_path, spool, collector)
            got = [r["n"] for r in words(collector)]
        assert sorted(got) == list(range(3000)) and len(got) == 3000

    def test_two_processes_each_replay_only_orphans(self, tmp_path: Path) -> None:
        """Two crashed processes' journals, two restarts side by side: every record arrives once."""
        spool = tmp_path / "spool"
        for _ in range(2):
            crash(tmp_path, spool, "kill9", count=300, journal=True)
        assert len(glob.glob(str(spool / "*.journal"))) == 2
        script = tmp_path / "restart.py"
        script.write_text(RESTART)
        with Collector("127.0.0.1", 0, keep=True) as collector:
            procs = [subprocess.Popen([sys.executable, str(script), collector.address.split(":")[1], str(spool)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(2)]
            for proc in procs:
                proc.communicate(timeout=120)
                assert proc.returncode == 0
            got = words(collector)
        ids = [r["record_id"] for r in got]
        assert len(ids) == 600 == len(set(ids))

    def test_a_clean_exit_leaves_no_journal(self, tmp_path: Path) -> None:
        """A process that exits normally with everything delivered removes its journal."""
        spool = tmp_path / "spool"
        script = tmp_path / "clean.py"
        script.write_text(
            "import logging, sys\n"
            "from threaded_logging import ThreadedHttpHandler\n"
            "handler = ThreadedHttpHandler(f'127.0.0.1:{sys.argv[1]}', '/', method='POST', spool_dir=sys.argv[2],\n"
            "                              name='crashy', journal=True, flush_interval=20)\n"
            "log = logging.getLogger('crashy'); log.addHandler(handler); log.propagate = False\n"
            "for i in range(200):\n"
            "    log.warning('n %d', i)\n"
        )
        with Collector("127.0.0.1", 0, keep=True) as collector:
            proc = subprocess.run([sys.executable, str(script), collector.address.split(":")[1], str(spool)],
                                  capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert proc.returncode == 0, proc.stderr
            assert len(words(collector)) == 200
        assert not glob.glob(str(spool / "*.journal")) and not glob.glob(str(spool / "*.spool"))

    def test_a_forked_child_journals_to_its_own_file(self, tmp_path: Path) -> None:
        """A forked child never writes to its parent's journal: its own records, lost with
        os._exit, come back from its own journal, under its own ids."""
        spool = tmp_path / "spool"
        script = tmp_path / "forked.py"
        script.write_text(
            "import json, logging, os, sys\n"
            "from threaded_logging import ThreadedHttpHandler\n"
            "handler = ThreadedHttpHandler(f'127.0.0.1:{sys.argv[1]}', '/', method='POST', spool_dir=sys.argv[2],\n"
            "                              name='crashy', journal=True, flush_interval=60000)\n"
            "log = logging.getLogger('crashy'); log.addHandler(handler); log.propagate = False\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    for i in range(50):\n"
            "        log.warning('child %d', i, extra={'n': i})\n"
            "    print(handler._schema.id_prefix, flush=True)\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "os._exit(0)\n"
        )
        proc = subprocess.run([sys.executable, str(script), str(free_port()), str(spool)], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
        child_prefix = proc.stdout.strip()
        assert len(glob.glob(str(spool / "*.journal"))) == 2, "the parent's and the child's"
        with Collector("127.0.0.1", 0, keep=True) as collector:
            restart(tmp_path, spool, collector)
            got = words(collector)
        assert [r["n"] for r in got] == list(range(50))
        assert all(r["record_id"].startswith(child_prefix) for r in got)
