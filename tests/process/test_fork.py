"""Fork safety, in a real forked child."""

from __future__ import annotations

import pytest


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="os.fork is POSIX only")
class TestFork:
    def test_parent_and_child_ship_their_own_records_once(self, run_script, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """Records queued before the fork are the parent's; the child ships its own, under ids of its own; none twice."""
        out = tmp_path / "out.log"
        result = run_script(
            f"""
            import logging, os, sys
            from threaded_logging import ThreadedHandler
            class Append(logging.Handler):
                def emit(self, record):
                    with open({str(out)!r}, "a") as f:
                        f.write(f"{{os.getpid()}} {{record.record_id}} {{record.getMessage()}}\\n")
            handler = ThreadedHandler(Append(), flush_interval=60000)
            log = logging.getLogger("fork")
            log.addHandler(handler); log.propagate = False; log.setLevel(logging.INFO)
            for i in range(100):
                log.info("parent-before %d", i)      # still queued at fork time
            pid = os.fork()
            if pid == 0:
                for i in range(50):
                    log.info("child %d", i)
                ok = handler.flush(timeout=10)
                s = handler.stats()
                print("child", ok, s["emitted"], s["sent"], flush=True)
                os._exit(0)
            for i in range(20):
                log.info("parent-after %d", i)
            _, status = os.waitpid(pid, 0)
            print("parent", handler.flush(timeout=10), handler.stats()["sent"], status, flush=True)
            print("childpid", pid)
            """
        )
        assert result.returncode == 0, result.stderr
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
        assert lines["child"] == "True 50 50"
        assert lines["parent"] == "True 120 0"
        child_pid = lines["childpid"].strip()
        written = [w.split(" ", 2) for w in out.read_text().splitlines()]
        child = [(rid, text) for pid_, rid, text in written if pid_ == child_pid]
        parent = [(rid, text) for pid_, rid, text in written if pid_ != child_pid]
        assert [text for _, text in child] == [f"child {i}" for i in range(50)]
        assert [text for _, text in parent] == [f"parent-before {i}" for i in range(100)] + [f"parent-after {i}" for i in range(20)]
        prefixes = {rid.rsplit("-", 1)[0] for rid, _ in child}, {rid.rsplit("-", 1)[0] for rid, _ in parent}
        assert len(prefixes[0]) == len(prefixes[1]) == 1 and prefixes[0] != prefixes[1], "a forked child mints ids of its own"
        assert len({rid for rid, _ in child + parent}) == 170
