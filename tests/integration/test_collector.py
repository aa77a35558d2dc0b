"""The collector: what it accepts, what it refuses, and that it keeps serving."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from threaded_logging import ThreadedHttpHandler
from threaded_logging.cli.collector import Collector

from ..helpers import make_logger, wait_for


def post(collector: Collector, body: bytes, content_type: str = "application/x-ndjson", **headers: str) -> requests.Response:
    return requests.post(
        f"http://{collector.address}/any/path", data=body,
        headers={"Content-Type": content_type, **headers}, timeout=5,
    )


class TestCollector:
    def test_accepts_every_body_kind(self, collector: Collector) -> None:
        """GET query, form, JSON object, JSON array, NDJSON and gzip all become records."""
        base = f"http://{collector.address}"
        assert requests.get(f"{base}/x?msg=get&levelname=INFO", timeout=5).status_code == 200
        assert post(collector, b"msg=form&x=1", "application/x-www-form-urlencoded").json() == {"accepted": 1}
        assert post(collector, b'{"message": "object"}', "application/json").status_code == 200
        assert post(collector, b'[{"message": "a1"}, {"message": "a2"}]', "application/json").json() == {"accepted": 2}
        assert post(collector, b'{"message": "n1"}\n\n{"message": "n2"}\n').json() == {"accepted": 2}
        gz = gzip.compress(b'{"message": "gz"}\n')
        assert post(collector, gz, **{"Content-Encoding": "gzip"}).status_code == 200
        names = [r.get("message") or r.get("msg") for r in collector.records]
        assert names == ["get", "form", "object", "a1", "a2", "n1", "n2", "gz"]

    def test_malformed_ndjson_gets_400_with_reason_and_server_keeps_serving(self, collector: Collector) -> None:
        """A bad line is refused with its line number; the next request is accepted."""
        bad = post(collector, b'{"message": "ok"}\n{not json\n')
        assert bad.status_code == 400 and "line 2" in bad.json()["error"]
        assert post(collector, b"[1, 2]", "application/json").status_code == 400
        assert post(collector, b"\x1f\x8bxx", **{"Content-Encoding": "gzip"}).status_code == 400
        assert post(collector, b'{"message": "after"}\n').status_code == 200
        assert [r["message"] for r in collector.records] == ["after"]
        assert collector.server.rejected == 3

    def test_oversize_bodies_get_413(self) -> None:
        """Bodies over --max-body, and gzip bodies that expand too far, get 413."""
        with Collector("127.0.0.1", 0, max_body=1000, keep=True) as small:
            assert post(small, b'{"m":"' + b"x" * 2000 + b'"}').status_code == 413
            bomb = gzip.compress(b'{"m":"' + b"x" * 20_000 + b'"}')
            assert len(bomb) < 1000
            assert post(small, bomb, **{"Content-Encoding": "gzip"}).status_code == 413
            assert post(small, b'{"m": "fits"}').status_code == 200
            assert small.records == [{"m": "fits"}]

    def test_token_is_required_when_set(self) -> None:
        """With a token, requests without the right bearer get 401."""
        with Collector("127.0.0.1", 0, token="s3cret", keep=True) as secured:
            assert post(secured, b'{"m": 1}').status_code == 401
            assert post(secured, b'{"m": 1}', Authorization="Bearer wrong").status_code == 401
            assert post(secured, b'{"m": 2}', Authorization="Bearer s3cret").status_code == 200
            handler = ThreadedHttpHandler(secured.address, "/", method="POST", flush_interval=10,
                                          headers={"Authorization": "Bearer s3cret"})
            make_logger("collector.token", handler).info("with token")
            assert handler.flush(timeout=5)
            assert [r.get("m") or r.get("message") for r in secured.records] == [2, "with token"]

    def test_writes_one_file_per_day(self, tmp_path: Path) -> None:
        """Output goes to logs-YYYY-MM-DD.jsonl in the output directory."""
        with Collector("127.0.0.1", 0, output=str(tmp_path)) as c:
            post(c, b'{"message": "to disk"}\n')
            path = c.sink.current_path
        assert path is not None and path.name.startswith("logs-") and path.suffix == ".jsonl"
        assert [json.loads(line) for line in path.read_text().splitlines()] == [{"message": "to disk"}]

    def test_command_runs_and_stops_on_sigterm(self, tmp_path: Path) -> None:
        """`threaded-logging collect` serves, reports status, and exits 0 on SIGTERM."""
        with __import__("socket").socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "threaded_logging", "collect", "--port", str(port), "--output", str(tmp_path),
             "--status-interval", "0.5"],
            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        lines: list = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        try:
            def up() -> bool:
                try:
                    return requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
                except requests.ConnectionError:
                    return False

            assert wait_for(up, timeout=15)
            handler = ThreadedHttpHandler(f"127.0.0.1:{port}", "/", method="POST", flush_interval=10)
            make_logger("collector.cmd", handler).info("through the command")
            assert handler.flush(timeout=5)
            assert wait_for(lambda: any(" 1 records (" in line for line in lines), timeout=10), "a status line counts it"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            reader.join(5)
            proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == 0
        assert any("listening on http://127.0.0.1" in line for line in lines)
        assert any("stopped after" in line and "1 records received" in line for line in lines)
        files = list(tmp_path.glob("logs-*.jsonl"))
        assert [json.loads(l)["message"] for l in files[0].read_text().splitlines()] == ["through the command"]
