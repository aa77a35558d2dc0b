"""Amazon CloudWatch Logs: ThreadedCloudWatchHandler, through boto3 PutLogEvents.

The transport (calls, creation, answers) is :mod:`._cloudwatch_transport`;
the events and the API's limits are :mod:`._cloudwatch_events`.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from .._handler import ThreadedHandler
from ._cloudwatch_events import DEFAULT_FORMATTER, DEFAULT_MAX_EVENT_BYTES
from ._cloudwatch_transport import DEFAULT_LOG_STREAM, CloudWatchTransport

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

__all__ = ["ThreadedCloudWatchHandler", "CloudWatchTransport"]


class ThreadedCloudWatchHandler(ThreadedHandler):
    """Ship records to Amazon CloudWatch Logs from the timer thread.

    Each batch goes out in PutLogEvents calls within the API's limits (10,000
    events and 1 MiB per call, events in time order spanning at most 24 h).
    The log group and stream are created when a call first finds them
    missing, on the timer thread, never while configuring. Events AWS
    rejects as too old, too new or expired are counted as failed, the rest
    of their call as sent.

    Args:
        log_group: the log group's name.
        log_stream: the stream's name, a template with ``{host}``, ``{pid}``,
            ``{process_name}`` and ``{date}`` (the records' UTC date,
            ``YYYY-MM-DD``: a new stream each day). Default ``"{host}-{pid}"``:
            one stream per process, so a forked child writes its own.
        create_group: create the group when it is missing (default True);
            when False, a missing group fails the batch (no retry) with one
            clear line on stderr.
        retention_days: set on the group right after this handler created it
            (default None: never touched). One of the values
            PutRetentionPolicy accepts (1, 3, 5, 7, 14, 30, ... 3653).
        client: a boto3 ``logs`` client to use; never closed by the handler
            (default: one made on the timer thread from ``region_name``,
            ``endpoint_url`` and ``client_kwargs`` with the default
            credential chain).
        region_name: AWS region for the client made here.
        endpoint_url: endpoint for the client made here (e.g. a local one).
        client_kwargs: more keyword arguments for ``boto3.client("logs", ...)``.
        format: the event message: ``"json"`` (default: the record schema, so
            Logs Insights discovers every field) or ``"text"`` (the handler's
            formatter output, ``%(message)s`` without one).
        max_event_bytes: an event's UTF-8 message plus 26 bytes at most
            (default 262,144; up to 1,048,576); a larger message is cut and
            marked ``...[truncated]`` (JSON: with a ``truncated`` field).
        **options: the common options of :class:`~threaded_logging.ThreadedHandler`.

    Threads:
        ``emit`` never touches the network. The boto3 client is made and
        used on the timer thread only; a call waits at most 3 s to connect
        and 10 s for the answer, and ``close()`` returns within
        ``shutdown_timeout`` whatever the endpoint does. Throttling, server
        errors, refused credentials and an unreachable endpoint are retried
        with backoff for ``max_retry_time`` seconds per batch, reported on
        stderr, never raised to the caller. botocore's and urllib3's records
        made while sending are not fed back; the application's own are
        shipped as usual.
    """

    def __init__(
        self,
        log_group: str,
        log_stream: str = DEFAULT_LOG_STREAM,
        create_group: bool = True,
        retention_days: Optional[int] = None,
        client: Optional["CloudWatchLogsClient"] = None,
        region_name: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        client_kwargs: Optional[Mapping[str, Any]] = None,
        *,
        format: str = "json",  # noqa: A002 - the option's documented name
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        **options: Any,
    ) -> None:
        transport = CloudWatchTransport(
            log_group, log_stream, create_group=create_group, retention_days=retention_days, client=client,
            region_name=region_name, endpoint_url=endpoint_url, client_kwargs=client_kwargs, format=format,
            max_event_bytes=max_event_bytes,
        )
        self.log_group = transport.log_group
        self.log_stream = transport.log_stream
        self.cloudwatch = transport
        super().__init__(transport=transport, **options)
        transport.render_text = _weak_format(self)

    def stream_name(self) -> str:
        """The stream this process writes to now."""
        return self.cloudwatch.stream_name()


def _weak_format(handler: logging.Handler) -> Callable[[logging.LogRecord], str]:
    """``handler.format`` without keeping the handler alive."""
    ref = weakref.ref(handler)

    def render(record: logging.LogRecord) -> str:
        target = ref()
        return (target or DEFAULT_FORMATTER).format(record)

    return render
