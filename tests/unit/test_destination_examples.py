"""The docs' destination examples: each one configures a format that accepts its options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from threaded_logging._schema import Schema
from threaded_logging.formats import FORMAT_OPTIONS, format_class

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = sorted((DOCS / "examples" / "destinations").glob("*.json"))


def handler_of(path: Path) -> Dict[str, Any]:
    config = json.loads(path.read_text())
    assert config["version"] == 1 and config["root"]["handlers"] == ["ship"]
    handler: Dict[str, Any] = config["handlers"]["ship"]
    return handler


class TestDestinationExamples:
    def test_one_example_per_backend(self) -> None:
        """Each of the twelve backends the docs list has its example, and the page includes every example."""
        page = (DOCS / "destinations.rst").read_text()
        assert len(EXAMPLES) == 12
        assert all(f"examples/destinations/{path.name}" in page for path in EXAMPLES)

    @pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
    def test_format_accepts_the_example_options(self, path: Path) -> None:
        """The example's format options build its format (the handler hands them over as they are)."""
        handler = handler_of(path)
        assert handler["class"] == "threaded_logging.ThreadedHttpHandler" and handler["method"] == "POST"
        options = {key: value for key, value in handler.items() if key in FORMAT_OPTIONS}
        fmt = format_class(handler["format"])(Schema(handler.get("static_fields")), **options)
        assert fmt.encode([], 1 << 20, None) == []

    def test_datadog_limits(self) -> None:
        """The Datadog example keeps to its intake's limits: 1,000 entries a request, a log under 1 MB."""
        handler = handler_of(DOCS / "examples" / "destinations" / "datadog.json")
        assert handler["format"] == "json" and handler["max_batch_records"] == 1000
        assert handler["max_batch_bytes"] <= 1_000_000 and "DD-API-KEY" in handler["headers"]
