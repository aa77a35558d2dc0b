"""The CloudWatch Logs transport: PutLogEvents, and what to do with each answer.

Every batch is one or more PutLogEvents calls (limits in
:mod:`._cloudwatch_events`). CreateLogStream, CreateLogGroup and
PutRetentionPolicy are called only when PutLogEvents answers
``ResourceNotFoundException``, on the timer thread, so configuring a handler
never touches the network. Error codes:
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html#API_PutLogEvents_Errors
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Set

from .._config import DRY_RUN
from .._report import Reporter
from .._retry import Outcome
from .._transport import Answer, Request, Transport, describe_error
from ._aws import build_client_kwargs
from ._aws import error_code as _error_code
from ._cloudwatch_events import (
    DEFAULT_FORMATTER,
    DEFAULT_MAX_EVENT_BYTES,
    Call,
    Encoder,
    check_log_group,
    check_max_event_bytes,
    check_retention,
    check_stream_template,
    read_rejected,
    render_stream,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import boto3
    from mypy_boto3_logs.client import CloudWatchLogsClient

    from .._snapshot import Item

DEFAULT_LOG_STREAM = "{host}-{pid}"
FORMATS = ("json", "text")

NOT_FOUND = "ResourceNotFoundException"
ALREADY_EXISTS = "ResourceAlreadyExistsException"
BAD_TOKEN = "InvalidSequenceTokenException"
ALREADY_ACCEPTED = "DataAlreadyAcceptedException"
#: Answers a send fixes at once, each at most once per call: a missing
#: stream or group is created; a legacy endpoint's sequence token is taken.
_FIXABLE = frozenset({NOT_FOUND, BAD_TOKEN, ALREADY_ACCEPTED})

#: Worth another try after a backoff: throttling, server trouble, and what an
#: operator can fix while the app runs (credentials, permissions, a group
#: created meanwhile).
RETRY_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ServiceUnavailableException", "ServiceUnavailable", "InternalFailure", "InternalError",
    "RequestTimeout", "RequestTimeoutException", "OperationAbortedException",
    NOT_FOUND, BAD_TOKEN, ALREADY_ACCEPTED,
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "RequestExpired",
    "AccessDenied", "AccessDeniedException",
})
#: A call the service refused as malformed: halve it, so one bad event fails alone.
SPLIT_CODES = frozenset({"InvalidParameterException"})
_BAD_CREDENTIALS = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
    "ExpiredToken", "ExpiredTokenException",
})
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})
_TOKEN_IN_MESSAGE = re.compile(r"sequenceToken(?: is)?: (\S+)\s*$")


class CloudWatchTransport(Transport):
    """PutLogEvents to one log group; see :class:`ThreadedCloudWatchHandler` for the options.

    The stream name is rendered from its template for every call (so a
    forked child, whose pid differs, writes its own stream). The boto3
    session is made at construction (outside ``check-config``), the client
    on the timer thread at the first send: resolving credentials may reach
    the instance metadata service, which configuration must never wait for.
    """

    def __init__(
        self,
        log_group: str,
        log_stream: str = DEFAULT_LOG_STREAM,
        *,
        create_group: Any = True,
        retention_days: Any = None,
        client: Optional["CloudWatchLogsClient"] = None,
        region_name: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        client_kwargs: Optional[Mapping[str, Any]] = None,
        format: str = "json",  # noqa: A002 - the option's documented name
        max_event_bytes: Any = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__()
        self.log_group = check_log_group(log_group)
        by_day = check_stream_template(log_stream)
        self.log_stream = log_stream
        self.create_group = _flag("create_group", create_group)
        self.retention_days = check_retention(retention_days)
        if format not in FORMATS:
            raise ValueError(f"format must be 'json' or 'text', got {format!r}")
        self.format = format
        self.max_event_bytes = check_max_event_bytes(max_event_bytes)
        self._client_kwargs = _client_options(region_name, endpoint_url, client_kwargs, check=client is None)
        self._given_client = client
        self._client: Optional["CloudWatchLogsClient"] = client
        self._session: Optional["boto3.session.Session"] = None
        # legacy endpoints only (AWS ignores sequence tokens since 2023)
        self._legacy_tokens = False
        self._tokens: Dict[str, Optional[str]] = {}  # stream -> the token to send next
        self._encoder = Encoder(format == "text", self.max_event_bytes, by_day)
        #: Renders a record for ``format="text"`` (the handler sets its own ``format``).
        self.render_text: Callable[[logging.LogRecord], str] = DEFAULT_FORMATTER.format
        self._warn: Optional[Reporter] = None
        if client is None and not DRY_RUN.active:
            self._session = _new_session()

    def describe(self) -> str:
        # the template, not the rendered name: the spool's identity must
        # survive a restart, whose pid differs
        return f"CloudWatch Logs {self.log_group}:{self.log_stream}"

    def stream_name(self) -> str:
        """The stream this process writes to now (``{date}``: today's, UTC)."""
        return render_stream(self.log_stream, None)

    # -- timer thread ---------------------------------------------------------

    def encode(self, items: "Sequence[Item]") -> "list[Request]":
        return self._encoder.encode(items, self.schema, self.render_text)

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        call = request.body
        assert isinstance(call, Call)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        stream = render_stream(self.log_stream, call.day)
        count = len(request)
        fixed: Set[str] = set()
        attempts_left = len(_FIXABLE) + 1
        while True:
            attempts_left -= 1
            try:
                response = self._put(stream, call.events)
            except Exception as exc:
                code = _error_code(exc)
                if attempts_left <= 0 or code not in _FIXABLE or code in fixed:
                    raise
                fixed.add(str(code))
                answer = self._fix(str(code), exc, stream, count, deadline)
                if answer is not None:
                    return answer
                continue
            if self._legacy_tokens:
                self._tokens[stream] = response.get("nextSequenceToken")
            return read_rejected(response.get("rejectedLogEventsInfo"), call.order)

    def _put(self, stream: str, events: Any) -> Any:
        kwargs: Dict[str, Any] = {"logGroupName": self.log_group, "logStreamName": stream, "logEvents": events}
        token = self._tokens.get(stream)
        if token:
            kwargs["sequenceToken"] = token
        return self._get_client().put_log_events(**kwargs)

    def _fix(self, code: str, exc: BaseException, stream: str, count: int, deadline: Optional[float]) -> Optional[Answer]:
        """Act on a fixable answer; an Answer ends the send, None sends again at once."""
        if code in (ALREADY_ACCEPTED, BAD_TOKEN):
            self._legacy_tokens = True
            if len(self._tokens) > 64:  # one stream per day at most: old days are done
                self._tokens.clear()
            self._tokens[stream] = _expected_token(exc)
        if code == ALREADY_ACCEPTED:  # a legacy endpoint stored this very call already
            return Answer(duplicates=range(count))
        if _past(deadline):
            return Answer.retry_all(count, f"shutdown deadline reached ({describe_error(exc)})")
        if code == BAD_TOKEN:  # sent again at once with the token it expects
            return None
        return self._create_missing(stream, count, deadline)

    def _create_missing(self, stream: str, count: int, deadline: Optional[float]) -> Optional[Answer]:
        client = self._get_client()
        try:
            client.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
        except Exception as exc:
            code = _error_code(exc)
            if code == ALREADY_EXISTS:
                return None
            if code != NOT_FOUND:
                raise
            if not self.create_group:
                return Answer.fail_all(count, self.missing_group())
            self._create_group(client)
            if _past(deadline):
                return Answer.retry_all(count, "shutdown deadline reached while creating the log stream")
            try:
                client.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
            except Exception as again:
                if _error_code(again) != ALREADY_EXISTS:
                    raise
        self._tokens.pop(stream, None)  # a new stream takes no token
        return None

    def _create_group(self, client: "CloudWatchLogsClient") -> None:
        try:
            client.create_log_group(logGroupName=self.log_group)
        except Exception as exc:
            if _error_code(exc) != ALREADY_EXISTS:
                raise
            return  # made meanwhile by another process: its retention is its owner's
        if self.retention_days is None:
            return
        try:
            client.put_retention_policy(logGroupName=self.log_group, retentionInDays=self.retention_days)
        except Exception as exc:  # the records can still be delivered: say so, go on
            if self._warn is None:
                self._warn = Reporter(self.describe())
            self._warn("retention", f"created log group {self.log_group!r} but could not set its retention to "
                                    f"{self.retention_days} days: {self.describe_failure(exc)}")

    def missing_group(self) -> str:
        """The reason given when the group is missing and may not be created."""
        return (f"log group {self.log_group!r} does not exist and create_group is False; "
                f"create it (with its retention) or allow create_group")

    def classify_exception(self, exc: BaseException) -> Outcome:
        code = _error_code(exc)
        if code is not None:
            if code in SPLIT_CODES:
                return Outcome.SPLIT
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return Outcome.RETRY if code in RETRY_CODES or status >= 500 else Outcome.FINAL
        from botocore.exceptions import BotoCoreError, ParamValidationError

        if isinstance(exc, ParamValidationError):
            return Outcome.SPLIT
        if isinstance(exc, BotoCoreError):
            return Outcome.RETRY  # unreachable endpoint, timeouts, no credentials or region yet
        return super().classify_exception(exc)

    def describe_failure(self, exc: BaseException) -> str:
        code = _error_code(exc)
        if code == NOT_FOUND:
            return f"log group {self.log_group!r} or its stream does not exist ({code}); it is created when allowed"
        if code in _BAD_CREDENTIALS:
            return f"the credentials were refused ({code}); check the access key, secret and session token"
        if code in _ACCESS_DENIED:
            return (f"access denied ({code}): allow logs:PutLogEvents and logs:CreateLogStream on {self.log_group!r} "
                    f"(logs:CreateLogGroup and logs:PutRetentionPolicy to create it)")
        return describe_error(exc)

    def close(self) -> None:
        client, self._client = self._client, self._given_client
        if client is not None and client is not self._given_client:
            client.close()

    def after_fork(self) -> None:
        # the parent's connections and cached credentials are the parent's
        self._client = self._given_client
        if self._given_client is None:
            self._session = None
        self._tokens.clear()

    def _get_client(self) -> "CloudWatchLogsClient":
        client = self._client
        if client is None:
            client = self._client = self._make_client()
        return client

    def _make_client(self) -> "CloudWatchLogsClient":
        from botocore.config import Config

        kwargs = dict(self._client_kwargs)
        # No parameter validation: the encoder only builds valid calls, and
        # botocore's check of every event costs the worker (so the app) as
        # much GIL time as serializing them, on every attempt.
        kwargs.setdefault("config", Config(
            retries={"max_attempts": 2, "mode": "standard"}, parameter_validation=False,
            connect_timeout=3, read_timeout=10, max_pool_connections=1,
        ))
        session = self._session or _new_session()
        self._session = session
        return session.client("logs", **kwargs)


def _past(deadline: Optional[float]) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
        return value.strip().lower() in ("true", "yes", "1", "on")
    raise ValueError(f"{name} must be True or False, got {value!r}")


def _expected_token(exc: BaseException) -> Optional[str]:
    """The sequence token a legacy endpoint expects next (None: send none)."""
    response = getattr(exc, "response", None) or {}
    token = response.get("expectedSequenceToken")
    if not token:
        found = _TOKEN_IN_MESSAGE.search(str((response.get("Error") or {}).get("Message") or ""))
        token = found.group(1) if found else None
    return None if token in (None, "null") else str(token)


def _new_session() -> "boto3.session.Session":
    import boto3.session

    return boto3.session.Session()


def _client_options(region_name: Optional[str], endpoint_url: Optional[str],
                    client_kwargs: Optional[Mapping[str, Any]], check: bool) -> Dict[str, Any]:
    """The keyword arguments for ``Session.client("logs", ...)``, validated."""
    kwargs = dict(client_kwargs or {})
    for name, value in (("region_name", region_name), ("endpoint_url", endpoint_url)):
        if value is not None:
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
            kwargs[name] = value
    return build_client_kwargs(None, None, kwargs, check=check)
