"""Body formats of ``ThreadedHttpHandler(method="POST")``, one module each.

Each module holds one destination protocol whole: how records become a
body, how the destination's answer maps to per-record outcomes, and how a
body becomes records again. Modules are imported when a handler asks for
their format.
"""

from __future__ import annotations

import importlib
from typing import Dict, Tuple, Type

from .._retry import default_retryable
from ._base import Format, http_error

#: ``format=`` value -> (module, class).
FORMATS: Dict[str, Tuple[str, str]] = {
    "ndjson": (".jsonlines", "NdjsonFormat"),
    "json": (".jsonlines", "JsonArrayFormat"),
    "form": (".form", "FormFormat"),
    "otlp": (".otlp", "OtlpFormat"),
    "elasticsearch": (".elasticsearch", "ElasticsearchFormat"),
    "loki": (".loki", "LokiFormat"),
    "splunk_hec": (".splunk_hec", "SplunkHecFormat"),
}


#: Options that belong to one format or another: ``ThreadedHttpHandler``
#: hands them to its format, which refuses those that are not its own.
FORMAT_OPTIONS = frozenset({"service_name", "resource", "index", "labels", "static_labels", "token", "sourcetype"})


def format_class(name: str) -> Type[Format]:
    """The :class:`Format` registered as ``name``.

    Raises:
        ValueError: no format has that name.
    """
    try:
        module, cls = FORMATS[name]
    except (KeyError, TypeError):
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {name!r}") from None
    found: Type[Format] = getattr(importlib.import_module(module, __name__), cls)
    return found


__all__ = ["FORMATS", "FORMAT_OPTIONS", "Format", "default_retryable", "format_class", "http_error"]
