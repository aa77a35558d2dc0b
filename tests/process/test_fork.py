"""Fork safety, in a real forked child."""

from __future__ import annotations

import sys

import pytest


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="os.fork is POSIX only")
class TestFork:
    def test_parent_and_child_ship_their_own_records_once(self, run_script, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """Records queued before the fork are the parent's; the child ships its own; none twice."""
        out = tmp_path / "out.log"
        result = run_script(
            f"""
            import logging, os, sys
            from threaded_logging import ThreadedHandler
            class Append(logging.Handler):
                def emit(self, record):
                    with open({str(out)!r}, "a") as f:
                        f.write(f"{{os.getpid()}} {{record.getMessage()}}\\n")
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
        written = out.read_text().splitlines()
        child = [w.split(" ", 1)[1] for w in written if w.startswith(child_pid + " ")]
        parent = [w.split(" ", 1)[1] for w in written if not w.startswith(child_pid + " ")]
        assert child == [f"child {i}" for i in range(50)]
        assert parent == [f"parent-before {i}" for i in range(100)] + [f"parent-after {i}" for i in range(20)]
        assert sys.platform != "win32"
