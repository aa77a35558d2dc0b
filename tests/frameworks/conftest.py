"""Fixtures for the framework tests: the collector, and servers stopped by PID."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Iterator, List, Sequence

import pytest

from ..integration.conftest import collector  # noqa: F401 - the fixture, shared (moto_endpoint and aws_env are in tests/conftest.py)
from .support import Server, free_port


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``python ARGS`` (``{port}`` in ARGS is a free loopback port); stopped at the end."""
    started: List[Server] = []

    def start(args: Sequence[str], env: Dict[str, str]) -> Server:
        port = free_port()
        directory = tmp_path / f"server{len(started)}"
        directory.mkdir()
        server = Server([a.format(port=port) for a in args], directory, env, port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
