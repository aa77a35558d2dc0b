"""The main job: `threaded-logging demo`, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class TestDemo:
    def test_demo_delivers_everything(self, tmp_path: Path) -> None:
        """demo --records 20000 exits 0 and reports 0 lost, with its table."""
        proc = subprocess.run(
            [sys.executable, "-m", "threaded_logging", "demo", "--records", "20000", "--threads", "4",
             "--output", str(tmp_path)],
            capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        rows = dict(line.strip().split("  ", 1) for line in proc.stdout.splitlines()[1:] if "  " in line.strip())
        assert rows["lost"].strip() == "0"
        assert rows["received"].strip() == rows["logged"].split()[0]
        assert "caller latency p99" in rows
        written = sum(len(p.read_text().splitlines()) for p in tmp_path.glob("logs-*.jsonl"))
        assert written == int(rows["received"])

    @pytest.mark.parametrize("body", ["otlp", "elasticsearch", "loki", "splunk_hec"])
    def test_demo_in_each_destination_format(self, tmp_path: Path, body: str) -> None:
        """demo --format X ships in that destination's protocol to where it listens; nothing is lost."""
        proc = subprocess.run(
            [sys.executable, "-m", "threaded_logging", "demo", "--records", "3000", "--threads", "2",
             "--output", str(tmp_path), "--format", body, "--no-progress"],
            capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"as {body}" in proc.stdout.splitlines()[0]
        rows = dict(line.strip().split("  ", 1) for line in proc.stdout.splitlines()[1:] if "  " in line.strip())
        assert rows["lost"].strip() == "0" and rows["received"].strip() == rows["logged"].split()[0]
        records = [json.loads(line) for p in tmp_path.glob("logs-*.jsonl") for line in p.read_text().splitlines()]
        demo = [r for r in records if r.get("logger") == "demo" and str(r.get("message", "")).startswith("request ")]
        assert len(demo) == 3000 and len({r["record_id"] for r in demo}) == 3000
