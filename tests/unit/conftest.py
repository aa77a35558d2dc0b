"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["orjson", "json"])
def encoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with orjson (the [fast] extra) and with the stdlib encoder;
    a module takes it for every test with ``pytestmark = pytest.mark.usefixtures("encoder")``."""
    import threaded_logging._schema as schema

    if request.param == "json":
        monkeypatch.setattr(schema, "_orjson", None)
    elif schema._orjson is None:
        pytest.skip("orjson is not installed")
    return str(request.param)
