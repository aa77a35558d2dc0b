"""Amazon SQS: ThreadedSqsHandler, ThreadedAwsHandler (Camelot), CloudLaunchHandler."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Any, Mapping, Optional

from .._config import DRY_RUN
from .._handler import ThreadedHandler
from .._options import text
from ._aws import build_client_kwargs
from ._sqs import SqsTransport, sqs_text

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["CloudLaunchHandler", "SqsTransport", "ThreadedAwsHandler", "ThreadedSqsHandler", "queue_name_for", "sqs_text"]


class ThreadedSqsHandler(ThreadedHandler):
    """Ship records to an Amazon SQS queue from the timer thread.

    Records are sent with SendMessageBatch (10 entries per call), one JSON
    record per message, or many records per message as NDJSON with
    ``pack=True``. Each message carries the attributes ``level`` and
    ``logger`` (with ``pack``, the highest level and the common logger or
    ``*``, plus ``records``) so consumers can filter without parsing. A
    record larger than a message is truncated with a ``truncated`` field.
    For FIFO queues (``.fifo``) every message gets a MessageGroupId and a
    MessageDeduplicationId that stays the same across retries.

    Args:
        queue_url: the queue URL; or
        queue_name: the queue name, resolved once with GetQueueUrl.
        client: a boto3 SQS client to use (default: one created on the timer
            thread from ``region_name``, ``endpoint_url`` and ``client_kwargs``
            with the default credential chain).
        region_name: AWS region for the client created here.
        endpoint_url: endpoint for the client created here (e.g. a local SQS).
        client_kwargs: more keyword arguments for ``boto3.client("sqs", ...)``.
        pack: pack many records per message (default False).
        message_group_id: FIFO queues: the group of every message (default
            ``"threaded_logging"``, which keeps one order for all records).
        group_by_logger: FIFO queues: use the logger name as the group
            instead (order is then kept per logger; default False).
        **options: the common options of :class:`~threaded_logging.ThreadedHandler`.

    Threads:
        ``emit`` never touches the network. The client is created and used
        on the timer thread only. A missing queue, refused credentials or an
        unreachable endpoint are retried with backoff for ``max_retry_time``
        seconds per batch, reported on stderr, never raised to the caller.
    """

    def __init__(
        self,
        queue_url: Optional[str] = None,
        queue_name: Optional[str] = None,
        client: Optional["SQSClient"] = None,
        *,
        region_name: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        client_kwargs: Optional[Mapping[str, Any]] = None,
        pack: bool = False,
        message_group_id: str = "threaded_logging",
        group_by_logger: bool = False,
        **options: Any,
    ) -> None:
        if (queue_url is None) == (queue_name is None):
            raise TypeError("give exactly one of queue_url and queue_name")
        for name, value in (("queue_url", queue_url), ("queue_name", queue_name)):
            if value is not None:
                text(name, value)
        text("message_group_id", message_group_id)
        kwargs = build_client_kwargs(region_name, endpoint_url, client_kwargs, check=client is None)
        self.queue_name = queue_name
        self.queue_url = queue_url
        self.pack = bool(pack)
        self.message_group_id = message_group_id
        self.group_by_logger = bool(group_by_logger)
        self._sqs = SqsTransport(queue_url, queue_name, client, kwargs, self.pack, message_group_id,
                                 self.group_by_logger)
        super().__init__(transport=self._sqs, **options)
        if client is None and not DRY_RUN.active:
            # Built here, on the configuring thread: creating a client holds the
            # GIL for a tenth of a second (no network is involved).
            try:
                self._sqs.make_client()
            except Exception as exc:  # e.g. no region: the worker retries and reports
                self._pipeline.last_error = self._sqs.describe_failure(exc)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no USER variable and no passwd entry (some containers)
        return "unknown"


class ThreadedAwsHandler(ThreadedSqsHandler):
    """Camelot's SQS handler, on boto3: every record carries ``user`` and ``revision``.

    Args:
        access_key: AWS access key id.
        secret_access_key: AWS secret access key.
        queue_name: the queue's name.
        revision: the application's revision, added to every record (default 0).
        connection_kwargs: keyword arguments for ``boto3.client("sqs", ...)``
            (``region_name``, ``endpoint_url``, ``config``...).
        **options: as :class:`ThreadedSqsHandler` (``pack``...) and the
            common options.

    Threads:
        As :class:`ThreadedSqsHandler`.
    """

    def __init__(self, access_key: str, secret_access_key: str, queue_name: str, revision: Any = 0,
                 connection_kwargs: Mapping[str, Any] = {}, **options: Any) -> None:  # noqa: B006 - Camelot's signature
        kwargs = dict(connection_kwargs or {})
        kwargs["aws_access_key_id"] = access_key
        kwargs["aws_secret_access_key"] = secret_access_key
        static = {"user": _current_user(), "revision": revision}
        static.update(options.pop("static_fields", None) or {})
        self.revision = revision
        super().__init__(queue_name=queue_name, client_kwargs=kwargs, static_fields=static, **options)


class CloudLaunchHandler(ThreadedAwsHandler):
    """Camelot's Cloud Launch handler: the queue and keys come from the cloud record.

    The queue is ``cloudlaunch-<author>-<name>-logging`` with spaces replaced by
    underscores; the keys are the record's ``public_access_key`` and
    ``public_secret_key``; the revision is its ``revision``.

    Args:
        cloud_record: an object with ``author``, ``name``, ``revision``,
            ``public_access_key`` and ``public_secret_key``.
        connection_kwargs: keyword arguments for ``boto3.client("sqs", ...)``.
        **options: as :class:`ThreadedAwsHandler`.
    """

    def __init__(self, cloud_record: Any, connection_kwargs: Mapping[str, Any] = {}, **options: Any) -> None:  # noqa: B006
        super().__init__(
            cloud_record.public_access_key,
            cloud_record.public_secret_key,
            queue_name_for(cloud_record),
            revision=cloud_record.revision,
            connection_kwargs=connection_kwargs,
            **options,
        )


def queue_name_for(cloud_record: Any) -> str:
    """``cloudlaunch-<author>-<name>-logging``, spaces replaced by underscores."""
    author = str(cloud_record.author).replace(" ", "_")
    name = str(cloud_record.name).replace(" ", "_")
    return f"cloudlaunch-{author}-{name}-logging"
