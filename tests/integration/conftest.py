"""Loopback servers as fixtures."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from threaded_logging.cli.collector import Collector

from .servers import Scripted


@pytest.fixture
def collector() -> Iterator[Collector]:
    """The project's collector on a free loopback port, keeping what it receives."""
    server = Collector("127.0.0.1", 0, keep=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    """A scripted loopback server (see servers.Scripted)."""
    servers: List[Scripted] = []
    server = Scripted().start()
    servers.append(server)
    try:
        yield server
    finally:
        for s in servers:
            s.stop()
