"""PutLogEvents calls: events, the API's limits, time order, rejected events.

Pure functions, no I/O: a batch of records in logged order becomes calls
within the limits of
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html :
at most 10,000 events and 1,048,576 bytes per call (each event's UTF-8
message plus 26 bytes), events of one call in chronological order, spanning
at most 24 hours. A call's :class:`Request` keeps its records in logged
order; its :class:`Call` body holds the events sorted by time and, for each,
the position of its record, so the per-event answer (``rejectedLogEventsInfo``)
maps back to records.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import string
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .._schema import HOST, Schema, dumps_bytes, to_utf8
from .._snapshot import MESSAGE, RECORD, Item, as_stdlib_record
from .._transport import Answer, Request
from ._encode import cut_utf8, fit_json

MAX_EVENTS_PER_CALL = 10_000
MAX_CALL_BYTES = 1_048_576
#: What the API adds to each event's message when it counts a call's size.
EVENT_OVERHEAD_BYTES = 26
#: The long-standing per-event limit; the API accepts up to 1 MiB today.
DEFAULT_MAX_EVENT_BYTES = 262_144
MAX_EVENT_BYTES = 1_048_576
MIN_EVENT_BYTES = 1024
MAX_SPAN_MS = 24 * 3600 * 1000

#: The values PutRetentionPolicy accepts
#: (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)

#: Fields a ``log_stream`` template may use.
STREAM_FIELDS = ("host", "pid", "process_name", "date")
_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_STREAM_FORBIDDEN = re.compile(r"[:*]")

#: Why AWS refused an event, by the field of ``rejectedLogEventsInfo`` that says so.
TOO_NEW = "rejected by CloudWatch Logs: more than 2 hours in the future"
TOO_OLD = "rejected by CloudWatch Logs: more than 14 days old"
EXPIRED = "rejected by CloudWatch Logs: older than the log group's retention"

#: The text formatter when the handler has none: the stdlib's default.
DEFAULT_FORMATTER = logging.Formatter()

#: Renders one record as text (a handler's ``format``).
Render = Callable[[logging.LogRecord], str]


class Call:
    """The body of one PutLogEvents request.

    Attributes:
        events: ``{"timestamp": ms, "message": str}`` sorted by time (stable).
        order: ``order[k]`` is the position in ``Request.items`` of ``events[k]``.
        day: the records' UTC date (``YYYY-MM-DD``) when the stream name uses
            ``{date}``, else None.
        size: the call's size as the API counts it.
    """

    __slots__ = ("events", "order", "day", "size")

    def __init__(self, events: List[Dict[str, Any]], order: Sequence[int], day: Optional[str], size: int) -> None:
        self.events = events
        self.order = order
        self.day = day
        self.size = size


def check_log_group(name: Any) -> str:
    """``name`` if it is a valid log group name, else ValueError."""
    if not isinstance(name, str) or not _GROUP_NAME.fullmatch(name):
        raise ValueError(f"log_group must be 1-512 characters of A-Z a-z 0-9 _ - / . #, got {name!r}")
    return name


def check_stream_template(template: Any) -> bool:
    """Validate a ``log_stream`` template; True when it uses ``{date}``."""
    if not isinstance(template, str) or not template:
        raise ValueError(f"log_stream must be a non-empty string, got {template!r}")
    used = set()
    try:
        for literal, field, spec, conversion in string.Formatter().parse(template):
            if _STREAM_FORBIDDEN.search(literal):
                raise ValueError(f"log_stream may not contain ':' or '*', got {template!r}")
            if field is not None:
                if field not in STREAM_FIELDS:
                    raise ValueError(f"log_stream field {{{field}}} is unknown; use {', '.join('{%s}' % f for f in STREAM_FIELDS)}")
                if spec or conversion:
                    raise ValueError(f"log_stream fields take no format spec or conversion, got {template!r}")
                used.add(field)
    except ValueError as exc:
        if str(exc).startswith("log_stream"):
            raise
        raise ValueError(f"log_stream is not a valid template ({exc}): {template!r}") from None
    return "date" in used


def check_retention(days: Any) -> Optional[int]:
    """``days`` as an int if PutRetentionPolicy accepts it (None: leave the group's as it is)."""
    if days is None:
        return None
    value = days
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in RETENTION_DAYS:
        raise ValueError(f"retention_days must be None or one of {', '.join(map(str, RETENTION_DAYS))}, got {days!r}")
    return value


def check_max_event_bytes(value: Any) -> int:
    """``max_event_bytes`` as an int between 1 KiB and 1 MiB."""
    number = value
    if isinstance(number, str) and number.strip().isdigit():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or not MIN_EVENT_BYTES <= number <= MAX_EVENT_BYTES:
        raise ValueError(f"max_event_bytes must be a whole number from {MIN_EVENT_BYTES} to {MAX_EVENT_BYTES}, got {value!r}")
    return number


def process_name() -> str:
    """The current process's name as ``LogRecord.processName`` gives it."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return "MainProcess"
    try:
        return str(mp.current_process().name)
    except Exception:  # the module half torn down at exit
        return "MainProcess"


def render_stream(template: str, day: Optional[str]) -> str:
    """The stream name for the current process (and the records' date)."""
    if day is None:
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    values = {"host": HOST, "pid": str(os.getpid()), "process_name": process_name(), "date": day}
    name = template.format(**{key: _STREAM_FORBIDDEN.sub("_", value) for key, value in values.items()})
    return name[:512]


def utc_day(timestamp_ms: int) -> str:
    """``YYYY-MM-DD`` of a timestamp in milliseconds, UTC."""
    return datetime.datetime.fromtimestamp(timestamp_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")


class Encoder:
    """Turns records into event messages and groups them into calls.

    The schema and the text renderer are passed to each call: the handler
    sets them after the transport was built.

    Args:
        text: messages are ``render``'s output (``format="text"``) instead
            of the schema JSON.
        max_event_bytes: an event's message plus 26 bytes at most.
        by_day: start a new call where the records' UTC date changes.
    """

    def __init__(self, text: bool, max_event_bytes: int, by_day: bool) -> None:
        self.text = text
        self.room = max_event_bytes - EVENT_OVERHEAD_BYTES
        self.by_day = by_day

    def message(self, item: Item, schema: Schema, render: Render) -> Tuple[str, int]:
        """The event message of one record and its size in UTF-8 bytes, cut to fit."""
        if self.text:
            return self._text(item, schema, render)
        data = dumps_bytes(schema.fields(item))
        if len(data) > self.room:
            data = fit_json(item, schema, self.room, data)
        return data.decode("utf-8"), len(data)

    def _text(self, item: Item, schema: Schema, render: Render) -> Tuple[str, int]:
        try:
            text = render(as_stdlib_record(item, schema.record_id(item)))
        except RecursionError:
            raise
        except Exception as exc:  # a formatter that fails still ships the message
            text = f"{item[MESSAGE]} [formatter failed: {type(exc).__name__}]"
        if not text:
            return " ", 1  # the API refuses an empty message
        if text.isascii():
            data = text.encode("ascii")
        else:
            data = to_utf8(text)  # lone surrogates become U+FFFD
            text = data.decode("utf-8")
        if len(data) > self.room:
            text = cut_utf8(text, self.room)
            data = text.encode("utf-8")
        return text, len(data)

    def encode(self, items: Sequence[Item], schema: Schema, render: Render = DEFAULT_FORMATTER.format) -> List[Request]:
        """Requests within the API's limits, records in logged order."""
        requests: List[Request] = []
        start = 0
        stamps: List[int] = []
        messages: List[Tuple[str, int]] = []
        size = 0
        low = high = 0
        day: Optional[str] = None
        for index, item in enumerate(items):
            stamp = int(item[RECORD].created * 1000)
            text, length = self.message(item, schema, render)
            cost = length + EVENT_OVERHEAD_BYTES
            today = utc_day(stamp) if self.by_day else None
            if stamps and (len(stamps) == MAX_EVENTS_PER_CALL or size + cost > MAX_CALL_BYTES
                           or max(high, stamp) - min(low, stamp) > MAX_SPAN_MS or today != day):
                requests.append(_request(items[start:index], stamps, messages, day, size))
                start, stamps, messages, size = index, [], [], 0
            if not stamps:
                low = high = stamp
                day = today
            stamps.append(stamp)
            messages.append((text, length))
            size += cost
            low, high = min(low, stamp), max(high, stamp)
        if stamps:
            requests.append(_request(items[start:], stamps, messages, day, size))
        return requests


def _request(items: Sequence[Item], stamps: List[int], messages: List[Tuple[str, int]], day: Optional[str],
             size: int) -> Request:
    if all(stamps[i] <= stamps[i + 1] for i in range(len(stamps) - 1)):
        order: Sequence[int] = range(len(stamps))
    else:
        order = sorted(range(len(stamps)), key=stamps.__getitem__)  # stable: ties keep logged order
    events = [{"timestamp": stamps[i], "message": messages[i][0]} for i in order]
    return Request(list(items), Call(events, order, day, size))


def read_rejected(info: Optional[Mapping[str, Any]], order: Sequence[int]) -> Answer:
    """The answer to a call that succeeded, from its ``rejectedLogEventsInfo``.

    ``tooNewLogEventStartIndex`` is inclusive: events from it to the end were
    refused. ``tooOldLogEventEndIndex`` is exclusive: events before it were
    refused; ``expiredLogEventEndIndex`` is read the same way (the API
    reference does not say, and events are sorted oldest first). Indices
    are positions in the sorted events; ``order`` maps them to records.
    """
    count = len(order)
    if not info:
        return Answer.ok(count)
    reasons: Dict[int, str] = {}
    for field, reason in (("expiredLogEventEndIndex", EXPIRED), ("tooOldLogEventEndIndex", TOO_OLD)):
        end = _index(info.get(field))
        if end is not None:
            for position in range(min(end, count)):
                reasons[position] = reason
    begin = _index(info.get("tooNewLogEventStartIndex"))
    if begin is not None:
        for position in range(begin, count):
            reasons[position] = TOO_NEW
    if not reasons:
        return Answer.ok(count)
    failed = {order[position]: reason for position, reason in reasons.items()}
    delivered = [index for index in range(count) if index not in failed]
    kinds = sorted(set(reasons.values()))
    error = f"{len(failed)} of {count} event(s) {'; '.join(kinds)}"
    return Answer(delivered=delivered, failed=failed, error=error)


def _index(value: Any) -> Optional[int]:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
