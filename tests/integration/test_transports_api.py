"""Writing a destination: a Transport class (the new way) and the 0.1 subclass hooks (kept working)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from threaded_logging import ThreadedHandler
from threaded_logging._legacy import Attempt, Chunk
from threaded_logging._retry import Outcome
from threaded_logging._transport import Answer, Request, Transport

from ..helpers import make_logger


class TestLegacyHooks:
    def test_a_subclass_with_prepare_and_send_still_ships(self) -> None:
        """A subclass written against prepare/send/close_transport delivers, retries per its Attempt, and is closed."""
        calls: List[List[str]] = []

        class Old(ThreadedHandler):
            closed = False

            def prepare(self, items: List[tuple]) -> List[Chunk]:
                return [Chunk(items[i:i + 2]) for i in range(0, len(items), 2)]

            def send(self, chunk: Chunk, timeout_s: Optional[float]) -> Attempt:
                calls.append([item[2] for item in chunk.items])
                if len(calls) == 1:
                    return Attempt(Outcome.RETRY, error="busy", sent=[0], pending=[1])
                return Attempt(Outcome.DELIVERED)

            def close_transport(self) -> None:
                Old.closed = True

            def describe(self) -> str:
                return "Old(test)"

        handler = Old(flush_interval=10)
        logger = make_logger("legacy.hooks", handler)
        for i in range(3):
            logger.info("r%d", i)
        assert handler.flush(timeout=10)
        assert calls[0] == ["r0", "r1"] and ["r1"] in calls and sum(len(c) for c in calls) == 4
        assert handler.stats()["sent"] == 3 and handler.describe() == "Old(test)"
        handler.close()
        assert Old.closed


class TestTransportExample:
    def test_the_documented_transport_runs(self, tmp_path: "Path") -> None:
        """docs/examples/transport.py, run as a user would, prints the record as schema JSON and counts it sent."""
        import json
        import os
        import subprocess
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parents[2]
        proc = subprocess.run([sys.executable, str(root / "docs" / "examples" / "transport.py")], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(root)}, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr
        record = json.loads(proc.stdout.splitlines()[0])
        assert (record["message"], record["user"], record["app"]) == ("hello world", "alice", "example")
        assert record["record_id"] and proc.stderr.strip() == "1 sent"


class TestTransportProtocol:
    def test_a_minimal_transport_gets_the_handlers_schema(self) -> None:
        """A transport given to ThreadedHandler renders records with the handler's static fields and ids."""
        seen: List[dict] = []

        class Keep(Transport):
            def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
                seen.extend(self.schema.fields(item) for item in request.items)
                return Answer.ok(len(request.items))

        handler = ThreadedHandler(transport=Keep(), static_fields={"svc": "s"}, flush_interval=10)
        make_logger("transport.minimal", handler).info("x")
        assert handler.flush(timeout=5)
        assert seen[0]["svc"] == "s" and seen[0]["record_id"].startswith(handler._schema.id_prefix)
        assert handler.describe() == "Keep"
