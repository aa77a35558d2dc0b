"""The SQS transport: records to SendMessageBatch calls, and each failed entry back to its records.

Limits, from https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html :
at most 10 entries per SendMessageBatch call, each message (body plus
attributes) at most the queue's MaximumMessageSize, and the whole call at most
1 MiB. Message bodies may only hold #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD and
#x10000-#x10FFFF.
"""

from __future__ import annotations

import re
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .._retry import Outcome
from .._lines import json_lines
from .._schema import dumps_bytes
from .._snapshot import Item
from .._transport import Answer, Request, Transport
from ._aws import error_code, http_status, is_botocore_error, make_client
from ._encode import cut_lines, fit_json

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

MAX_ENTRIES_PER_CALL = 10
MAX_CALL_BYTES = 1024 * 1024
#: Used until the queue's MaximumMessageSize is known (the long-standing AWS default).
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024
#: Bytes allowed per entry for its id and attributes, generously.
ENTRY_OVERHEAD = 200

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


def classify_error(exc: BaseException) -> Outcome:
    """Whether an SQS call's exception is worth another try (pure)."""
    code = error_code(exc)
    if code is not None:
        if code in SPLIT_CODES:
            return Outcome.SPLIT
        return Outcome.RETRY if code in RETRY_CODES or http_status(exc) >= 500 else Outcome.FINAL
    if is_botocore_error(exc) or isinstance(exc, OSError):
        return Outcome.RETRY  # unreachable endpoint, timeouts, missing credentials
    return Outcome.FINAL


class Message(NamedTuple):
    """One SQS message: the records it carries and its body."""

    items: List[Item]
    body: str
    size: int  #: UTF-8 bytes of ``body``


class Call(NamedTuple):
    """One SendMessageBatch call: the entries, and which records each holds."""

    entries: List[Dict[str, Any]]
    spans: List[Tuple[int, int]]  #: per entry, ``[start, end)`` in ``Request.items``


#: Bytes of a packed message's attributes, generously.
_PACK_OVERHEAD = 160
#: A single record's room is the pack limit or more while its logger and
#: level names take at most this many characters together (see _message).
_NAMES_ROOM = _PACK_OVERHEAD - 1 - (len("level") + len("logger") + 2 * len("String"))
_record_of = itemgetter(1)
_name_of = attrgetter("name")
_levelname_of = attrgetter("levelname")
_levelno_of = attrgetter("levelno")


def _attribute(value: str) -> Dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class SqsTransport(Transport):
    """SendMessageBatch to one queue; each failed entry settles its own records.

    Args:
        queue_url: the queue URL, or None to resolve ``queue_name``.
        queue_name: the queue name (resolved once with GetQueueUrl).
        client: a boto3 SQS client (never closed here), or None.
        client_kwargs: arguments for the client created here.
        pack: many records per message (NDJSON body).
        message_group_id: FIFO queues: every message's group.
        group_by_logger: FIFO queues: the logger name is the group.
    """

    def __init__(self, queue_url: Optional[str], queue_name: Optional[str], client: Optional["SQSClient"],
                 client_kwargs: Mapping[str, Any], pack: bool, message_group_id: str,
                 group_by_logger: bool) -> None:
        super().__init__()
        self.queue_url = queue_url
        self.queue_name = queue_name
        self.pack = pack
        self.message_group_id = message_group_id
        self.group_by_logger = group_by_logger
        self._client_kwargs = dict(client_kwargs)
        self._given_client = client
        self._client: Optional["SQSClient"] = client
        self._resolved_url: Optional[str] = queue_url
        self._max_message: Optional[int] = None
        self._fifo = (queue_url or queue_name or "").endswith(".fifo")

    def describe(self) -> str:
        return f"SQS queue {self.queue_name or self.queue_url}"

    def make_client(self) -> None:
        """Build the client now (creating one holds the GIL for a tenth of a second)."""
        if self._client is None:
            self._client = make_client("sqs", self._client_kwargs)

    def _get_client(self) -> "SQSClient":
        self.make_client()
        assert self._client is not None
        return self._client

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
                if error_code(exc) in _MISSING_QUEUE:
                    raise
                self._max_message = DEFAULT_MAX_MESSAGE_BYTES  # no sqs:GetQueueAttributes: stay safe
        return url

    # -- encode ---------------------------------------------------------------------

    def encode(self, items: Sequence[Item]) -> List[Request]:
        try:
            self._ensure_queue()
        except Exception:
            pass  # send() retries it; until then encode to the safe default size
        limit = min(self._max_message or DEFAULT_MAX_MESSAGE_BYTES, MAX_CALL_BYTES)
        if self.pack:
            messages = self._packed_lines(items, limit)
            if messages is None:
                messages = self._packed([self._message(item, limit) for item in items], limit)
        else:
            messages = [self._message(item, limit) for item in items]
        return self._calls(messages)

    def _packed_lines(self, items: Sequence[Item], limit: int) -> Optional[List[Message]]:
        """What :meth:`_packed` makes, cut from the batch's JSON lines at once;
        None when a record would need shrinking (the per-record path does it)."""
        records = list(map(_record_of, items))
        if not records or max(map(len, map(_name_of, records))) + max(map(len, map(_levelname_of, records))) > _NAMES_ROOM:
            return None  # long names shrink a single record's room below the pack limit
        runs = cut_lines(json_lines(self.schema, items), len(items), limit - _PACK_OVERHEAD)
        if runs is None:
            return None
        messages: List[Message] = []
        first = 0
        for count, part in runs:
            body = sqs_text(part[:-1].decode("utf-8"))  # replaces 3-byte characters by U+FFFD: same size
            messages.append(Message(list(items[first:first + count]), body, len(part) - 1))
            first += count
        return messages

    def _message(self, item: Item, limit: int) -> Message:
        data = dumps_bytes(self.schema.fields(item))
        body = sqs_text(data.decode("utf-8"))
        size = len(body.encode("utf-8")) if len(body) != len(data) else len(data)
        record = item[1]
        room = limit - (len("level") + len("logger") + 2 * len("String") + len(record.levelname) + len(record.name))
        if size > room:
            body = sqs_text(fit_json(item, self.schema, room, body.encode("utf-8")).decode("utf-8"))
            size = len(body.encode("utf-8"))
        return Message([item], body, size)

    def _packed(self, singles: List[Message], limit: int) -> List[Message]:
        packed: List[Message] = []
        run: List[Message] = []
        size = 0
        overhead = _PACK_OVERHEAD
        for message in singles:
            if run and size + message.size + 1 + overhead > limit:
                packed.append(_join(run))
                run, size = [], 0
            run.append(message)
            size += message.size + 1
        if run:
            packed.append(_join(run))
        return packed

    def _calls(self, messages: List[Message]) -> List[Request]:
        requests: List[Request] = []
        items: List[Item] = []
        call = Call([], [])
        call_bytes = 0
        for message in messages:
            cost = message.size + ENTRY_OVERHEAD
            if call.entries and (len(call.entries) == MAX_ENTRIES_PER_CALL or call_bytes + cost > MAX_CALL_BYTES):
                requests.append(Request(items, call))
                items, call, call_bytes = [], Call([], []), 0
            call.spans.append((len(items), len(items) + len(message.items)))
            items.extend(message.items)
            call.entries.append(self._entry(len(call.entries), message))
            call_bytes += cost
        if call.entries:
            requests.append(Request(items, call))
        return requests

    def _entry(self, index: int, message: Message) -> Dict[str, Any]:
        records = [item[1] for item in message.items]
        if len(records) == 1:
            level, logger = records[0].levelname, records[0].name
            attributes = {"level": _attribute(level), "logger": _attribute(logger)}
        else:
            top = max(records, key=_levelno_of)
            names = set(map(_name_of, records))
            logger = names.pop() if len(names) == 1 else "*"
            attributes = {
                "level": _attribute(top.levelname), "logger": _attribute(logger),
                "records": {"DataType": "Number", "StringValue": str(len(records))},
            }
        entry: Dict[str, Any] = {"Id": str(index), "MessageBody": message.body, "MessageAttributes": attributes}
        if self._fifo:
            group = logger if self.group_by_logger and logger != "*" else self.message_group_id
            entry["MessageGroupId"] = group[:128]
            entry["MessageDeduplicationId"] = self._dedup_id(message.items)
        return entry

    def _dedup_id(self, items: List[Item]) -> str:
        """The record ids: the same message sent twice (a lost answer, a
        restart from the spool) is stored once by a FIFO queue."""
        first = self.schema.record_id(items[0])
        if len(items) > 1:
            first += ".." + self.schema.record_id(items[-1])
        return re.sub(r"[^A-Za-z0-9!-/:-@\[-`{-~]", "_", first)[:128]

    # -- send -------------------------------------------------------------------------

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        call: Call = request.body
        try:
            url = self._ensure_queue()
            response = self._get_client().send_message_batch(QueueUrl=url, Entries=call.entries)  # type: ignore[arg-type]
        except Exception as exc:
            if error_code(exc) in _MISSING_QUEUE and self.queue_name is not None:
                self._resolved_url = None  # it may be created later, with a new URL
                self._max_message = None
            raise
        failed = response.get("Failed") or []
        if not failed:
            return Answer.ok(len(request.items))
        by_id = {entry["Id"]: index for index, entry in enumerate(call.entries)}
        retry: List[int] = []
        rejected: Dict[int, str] = {}
        for failure in failed:
            index = by_id.get(failure.get("Id"))
            if index is None:
                continue
            start, end = call.spans[index]
            reason = f"{failure.get('Code')}: {failure.get('Message')}"
            if failure.get("SenderFault"):
                rejected.update(dict.fromkeys(range(start, end), reason))
            else:
                retry.extend(range(start, end))
        delivered = [i for i in range(len(request.items)) if i not in rejected and i not in set(retry)]
        first = failed[0]
        error = f"{len(failed)} of {len(call.entries)} message(s) failed: {first.get('Code')}: {first.get('Message')}"
        return Answer(delivered=delivered, retry=retry, failed=rejected, error=error)

    def classify_exception(self, exc: BaseException) -> Outcome:
        return classify_error(exc)

    def describe_failure(self, exc: BaseException) -> str:
        code = error_code(exc)
        if code in _MISSING_QUEUE:
            return f"queue {self.queue_name or self.queue_url!r} does not exist ({code}); check the name and region"
        if code in _BAD_CREDENTIALS:
            return f"the credentials were refused ({code}); check the access key and secret"
        return super().describe_failure(exc)

    def close(self) -> None:
        client, self._client = self._client, self._given_client
        if client is not None and client is not self._given_client:
            client.close()

    def after_fork(self) -> None:
        self._client = self._given_client  # the parent's connections are the parent's


def _join(run: List[Message]) -> Message:
    if len(run) == 1:
        return run[0]
    return Message([item for message in run for item in message.items], "\n".join(m.body for m in run),
                   sum(m.size for m in run) + len(run) - 1)
