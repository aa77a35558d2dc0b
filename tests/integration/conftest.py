"""Loopback servers as fixtures."""

from __future__ import annotations

import uuid
from typing import Any, Iterator, List

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


@pytest.fixture
def logs_client(moto_endpoint: str, aws_env: None) -> Any:
    """A boto3 CloudWatch Logs client for moto's server."""
    import boto3

    return boto3.client("logs", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def log_group(logs_client: Any) -> Iterator[str]:
    """A fresh log group name on moto's server, not created yet; deleted afterwards.

    moto's calls slow down as its groups and streams grow, so each test
    gets its own and leaves nothing behind.
    """
    name = f"/test/cw-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        logs_client.delete_log_group(logGroupName=name)
    except logs_client.exceptions.ResourceNotFoundException:
        pass
