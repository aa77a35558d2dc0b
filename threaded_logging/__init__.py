"""threaded-logging: logging handlers that ship records on a background thread.

Public names are imported lazily, so a file-only user never pays for
importing requests or boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ThreadedHandler": "._handler",
    "handle_sigterm": "._exit",
    "Transport": "._transport",
    "Request": "._transport",
    "Answer": "._transport",
    "ThreadedTimer": "._timer",
    "JsonFormatter": "._schema",
    "ThreadedFileHandler": ".transports.file",
    "ThreadedHttpHandler": ".transports.http",
    "ThreadedSqsHandler": ".transports.sqs",
    "ThreadedAwsHandler": ".transports.sqs",
    "CloudLaunchHandler": ".transports.sqs",
    "ThreadedCloudWatchHandler": ".transports.cloudwatch",
    "RequestLogHook": ".hooks.boto",
    "RequestLogFormatter": ".hooks.boto",
    "RequestLogger": ".hooks.boto",
    "log_boto3_requests": ".hooks.botocore",
    "log_requests": ".hooks.requests",
    "log_httpx_requests": ".hooks.httpx",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:
    from ._handler import ThreadedHandler as ThreadedHandler
    from ._transport import Answer as Answer
    from ._transport import Request as Request
    from ._transport import Transport as Transport
    from ._schema import JsonFormatter as JsonFormatter
    from ._timer import ThreadedTimer as ThreadedTimer
    from .hooks.httpx import log_httpx_requests as log_httpx_requests
    from .transports.cloudwatch import ThreadedCloudWatchHandler as ThreadedCloudWatchHandler
    from .transports.file import ThreadedFileHandler as ThreadedFileHandler


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'threaded_logging' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
