"""Run small scripts in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Run(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    ended: float  #: time.time() when the process had ended


@pytest.fixture
def run_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run Python source in a fresh interpreter; return code, output, wall time."""

    def run(source: str, timeout: float = 60, env: dict | None = None) -> Run:
        script = tmp_path / "script.py"
        script.write_text(textwrap.dedent(source))
        environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
            env=environment, cwd=str(tmp_path),
        )
        return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started, time.time())

    return run
