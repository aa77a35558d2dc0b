"""Amazon SQS: ThreadedSqsHandler, ThreadedAwsHandler (Camelot), CloudLaunchHandler.

Limits, from https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html :
at most 10 entries per SendMessageBatch call, each message (body plus
attributes) at most the queue's MaximumMessageSize, and the whole call at most
1 MiB. Message bodies may only hold #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD and
#x10000-#x10FFFF.
"""

from __future__ import annotations

import getpass
import inspect
import re
import uuid
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from .._snapshot import Item
from .._config import DRY_RUN
from .._delivery import Attempt, Chunk
from .._handler import ThreadedHandler
from .._retry import Outcome
from .._schema import dumps_bytes
from ._encode import fit_json

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

MAX_ENTRIES_PER_CALL = 10
MAX_CALL_BYTES = 1024 * 1024
#: Used until the queue's MaximumMessageSize is known (the long-standing AWS default).
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024

_INVALID_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

#: Error codes worth another try: throttling, server trouble, and conditions an
#: operator can fix while the app runs (a queue not yet created, credentials).
RETRY_CODES = frozenset({
    "Throttling", "ThrottlingException", "RequestThrottled", "AWS.SimpleQueueService.RequestThrottled",
    "ServiceUnavailable", "InternalError", "InternalFailure", "RequestTimeout", "KmsThrottled",
    "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
    "AccessDenied", "AccessDeniedException", "ExpiredToken", "RequestExpired", "InvalidSecurity",
})
SPLIT_CODES = frozenset({
    "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", "TooManyEntriesInBatchRequest",
    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
})
_MISSING_QUEUE = frozenset({"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"})
_BAD_CREDENTIALS = frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken"})


def sqs_text(text: str) -> str:
    """``text`` with the characters SQS refuses replaced by U+FFFD."""
    return text if text.isascii() else _INVALID_CHARS.sub("\ufffd", text)


def _attribute(value: str) -> Dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class SqsChunk(Chunk):
    """One SendMessageBatch call: entries, and which records each one holds."""

    __slots__ = ("spans",)

    def __init__(self, items: List[Item], entries: List[Dict[str, Any]], spans: List[Tuple[int, int]]) -> None:
        super().__init__(items, entries)
        self.spans = spans  # per entry: [start, end) into items

    def _take(self, entry_indices: Sequence[int]) -> "SqsChunk":
        items: List[Item] = []
        entries, spans = [], []
        payloads = self.payloads or []
        for index in entry_indices:
            start, end = self.spans[index]
            spans.append((len(items), len(items) + end - start))
            items.extend(self.items[start:end])
            entries.append(payloads[index])
        return SqsChunk(items, entries, spans)

    def halves(self) -> List[Chunk]:
        mid = len(self.spans) // 2
        return [self._take(range(mid)), self._take(range(mid, len(self.spans)))]

    def subset(self, indices: Sequence[int]) -> Chunk:
        wanted = set(indices)
        keep = [i for i, (start, end) in enumerate(self.spans) if set(range(start, end)) <= wanted]
        return self._take(keep)

    def entry_items(self, entry_index: int) -> range:
        start, end = self.spans[entry_index]
        return range(start, end)


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
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if not isinstance(message_group_id, str) or not message_group_id:
            raise ValueError(f"message_group_id must be a non-empty string, got {message_group_id!r}")
        kwargs = dict(client_kwargs or {})
        if region_name is not None:
            kwargs["region_name"] = region_name
        if endpoint_url is not None:
            kwargs["endpoint_url"] = endpoint_url
        if client is None:
            _check_client_kwargs(kwargs)
        self.queue_name = queue_name
        self.queue_url = queue_url
        self.pack = bool(pack)
        self.message_group_id = message_group_id
        self.group_by_logger = bool(group_by_logger)
        self._client_kwargs = kwargs
        self._given_client = client
        self._client: Optional["SQSClient"] = client
        self._resolved_url: Optional[str] = queue_url
        self._max_message: Optional[int] = None
        self._fifo = (queue_url or queue_name or "").endswith(".fifo")
        self._dedup_prefix = uuid.uuid4().hex
        self._message_counter = 0
        super().__init__(**options)
        if client is None and not DRY_RUN.active:
            # Built here, on the configuring thread: creating a client holds the
            # GIL for a tenth of a second (no network is involved).
            try:
                self._client = self._make_client()
            except Exception as exc:  # e.g. no region: the worker retries and reports
                self.last_error = self.describe_failure(exc)

    def describe(self) -> str:
        return f"SQS queue {self.queue_name or self.queue_url}"

    # -- timer thread ---------------------------------------------------------

    def _get_client(self) -> "SQSClient":
        client = self._client
        if client is None:
            client = self._client = self._make_client()
        return client

    def _make_client(self) -> "SQSClient":
        import boto3
        from botocore.config import Config

        kwargs = dict(self._client_kwargs)
        kwargs.setdefault("config", Config(
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5, read_timeout=15, max_pool_connections=1,
        ))
        return boto3.session.Session().client("sqs", **kwargs)

    def _ensure_queue(self) -> str:
        url = self._resolved_url
        client = self._get_client()
        if url is None:
            url = self._resolved_url = client.get_queue_url(QueueName=str(self.queue_name))["QueueUrl"]
        if self._max_message is None:
            try:
                attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["MaximumMessageSize", "FifoQueue"])
                values = attrs.get("Attributes", {})
                self._max_message = int(values.get("MaximumMessageSize", DEFAULT_MAX_MESSAGE_BYTES))
                self._fifo = self._fifo or values.get("FifoQueue") == "true"
            except Exception as exc:
                if _error_code(exc) in _MISSING_QUEUE:
                    raise
                self._max_message = DEFAULT_MAX_MESSAGE_BYTES  # no sqs:GetQueueAttributes: stay safe
        return url

    def prepare(self, items: List[Item]) -> List[Chunk]:
        try:
            self._ensure_queue()
        except Exception:
            pass  # send() retries it; until then encode to the safe default size
        limit = min(self._max_message or DEFAULT_MAX_MESSAGE_BYTES, MAX_CALL_BYTES)
        schema = self._schema
        bodies: List[Tuple[str, int, Item]] = []
        for item in items:
            text = sqs_text(dumps_bytes(schema.fields(item)).decode("utf-8"))
            size = len(text.encode("utf-8"))
            room = limit - self._attributes_size(item)
            if size > room:
                text = sqs_text(fit_json(item, schema, room, text.encode("utf-8")).decode("utf-8"))
                size = len(text.encode("utf-8"))
            bodies.append((text, size, item))
        messages = self._pack(bodies, limit) if self.pack else [([b], b[1]) for b in bodies]
        return self._calls(messages)

    def _pack(self, bodies: List[Tuple[str, int, Item]], limit: int) -> List[Tuple[List[Tuple[str, int, Item]], int]]:
        messages: List[Tuple[List[Tuple[str, int, Item]], int]] = []
        current: List[Tuple[str, int, Item]] = []
        size = 0
        overhead = 160  # the attributes of a packed message, generously
        for body in bodies:
            cost = body[1] + 1
            if current and size + cost + overhead > limit:
                messages.append((current, size))
                current, size = [], 0
            current.append(body)
            size += cost
        if current:
            messages.append((current, size))
        return messages

    def _attributes_size(self, item: Item) -> int:
        record = item[1]
        return len("level") + len("String") + len(record.levelname) + len("logger") + len("String") + len(record.name)

    def _entry(self, index: int, parts: List[Tuple[str, int, Item]]) -> Dict[str, Any]:
        records = [part[2][1] for part in parts]
        if len(parts) == 1:
            body = parts[0][0]
            level, logger = records[0].levelname, records[0].name
            attributes = {"level": _attribute(level), "logger": _attribute(logger)}
        else:
            body = "\n".join(part[0] for part in parts)
            top = max(records, key=lambda r: r.levelno)
            names = {r.name for r in records}
            logger = names.pop() if len(names) == 1 else "*"
            attributes = {
                "level": _attribute(top.levelname), "logger": _attribute(logger),
                "records": {"DataType": "Number", "StringValue": str(len(parts))},
            }
        entry: Dict[str, Any] = {"Id": str(index), "MessageBody": body, "MessageAttributes": attributes}
        if self._fifo:
            self._message_counter += 1
            entry["MessageGroupId"] = (logger if self.group_by_logger and logger != "*" else self.message_group_id)[:128]
            entry["MessageDeduplicationId"] = f"{self._dedup_prefix}-{self._message_counter}"
        return entry

    def _calls(self, messages: List[Tuple[List[Tuple[str, int, Item]], int]]) -> List[Chunk]:
        chunks: List[Chunk] = []
        items: List[Item] = []
        entries: List[Dict[str, Any]] = []
        spans: List[Tuple[int, int]] = []
        call_bytes = 0
        for parts, size in messages:
            cost = size + 200  # attributes and ids
            if entries and (len(entries) == MAX_ENTRIES_PER_CALL or call_bytes + cost > MAX_CALL_BYTES):
                chunks.append(SqsChunk(items, entries, spans))
                items, entries, spans, call_bytes = [], [], [], 0
            spans.append((len(items), len(items) + len(parts)))
            items.extend(part[2] for part in parts)
            entries.append(self._entry(len(entries), parts))
            call_bytes += cost
        if entries:
            chunks.append(SqsChunk(items, entries, spans))
        return chunks

    def send(self, chunk: Chunk, timeout_s: Optional[float]) -> Attempt:
        assert isinstance(chunk, SqsChunk)
        url = self._ensure_queue()
        response = self._get_client().send_message_batch(QueueUrl=url, Entries=chunk.payloads or [])
        failed = response.get("Failed") or []
        if not failed:
            return Attempt(Outcome.DELIVERED)
        by_id = {entry["Id"]: i for i, entry in enumerate(chunk.payloads or [])}
        failed_entries = {by_id[f["Id"]]: f for f in failed if f.get("Id") in by_id}
        sent: List[int] = []
        rejected: List[int] = []
        pending: List[int] = []
        for index in range(len(chunk.spans)):
            failure = failed_entries.get(index)
            target = sent if failure is None else rejected if failure.get("SenderFault") else pending
            target.extend(chunk.entry_items(index))
        first = failed[0]
        error = f"{len(failed)} of {len(chunk.spans)} message(s) failed: {first.get('Code')}: {first.get('Message')}"
        return Attempt(Outcome.RETRY if pending else Outcome.DELIVERED, error=error,
                       sent=sent, rejected=rejected, pending=pending)

    def classify_exception(self, exc: BaseException) -> Outcome:
        code = _error_code(exc)
        if code is not None:
            if code in _MISSING_QUEUE and self.queue_name is not None:
                self._resolved_url = None  # it may be created later, with a new URL
                self._max_message = None
            if code in SPLIT_CODES:
                return Outcome.SPLIT
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return Outcome.RETRY if code in RETRY_CODES or status >= 500 else Outcome.FINAL
        from botocore.exceptions import BotoCoreError

        if isinstance(exc, BotoCoreError):
            return Outcome.RETRY  # unreachable endpoint, timeouts, missing credentials
        return super().classify_exception(exc)

    def describe_failure(self, exc: BaseException) -> str:
        code = _error_code(exc)
        if code in _MISSING_QUEUE:
            return f"queue {self.queue_name or self.queue_url!r} does not exist ({code}); check the name and region"
        if code in _BAD_CREDENTIALS:
            return f"the credentials were refused ({code}); check the access key and secret"
        return super().describe_failure(exc)

    def close_transport(self) -> None:
        client, self._client = self._client, self._given_client
        if client is not None and client is not self._given_client:
            client.close()

    def reset_transport(self) -> None:
        self._client = self._given_client  # the parent's connections are the parent's


def _error_code(exc: BaseException) -> Optional[str]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        return str(code) if code else None
    return None


_client_params: Optional[FrozenSet[str]] = None


def _check_client_kwargs(kwargs: Mapping[str, Any]) -> None:
    global _client_params
    if _client_params is None:
        import boto3.session

        _client_params = frozenset(inspect.signature(boto3.session.Session.client).parameters) - {"self", "service_name"}
    unknown = set(kwargs) - _client_params
    if unknown:
        raise TypeError(f"unknown boto3 client argument(s): {', '.join(sorted(unknown))}")


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
