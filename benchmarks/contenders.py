"""The handlers compared, each built pointing at one address, with a way to finish."""

from __future__ import annotations

import collections
import logging
import logging.handlers
import queue
import tempfile
from typing import Any, Callable, Dict, NamedTuple, Optional


class Built(NamedTuple):
    handler: logging.Handler
    finish: Callable[[float], None]  # wait up to N seconds for delivery, then release


class DequeHandler(logging.Handler):
    """The floor for any queueing handler: append the record to a deque."""

    def __init__(self) -> None:
        super().__init__()
        self.items: collections.deque = collections.deque(maxlen=10_000)

    def emit(self, record: logging.LogRecord) -> None:
        self.items.append(record)


def _close(handler: logging.Handler) -> Callable[[float], None]:
    def finish(timeout: float) -> None:
        handler.close()
    return finish


def _ours(handler: Any) -> Built:
    def finish(timeout: float) -> None:
        handler.flush(timeout=timeout)
        handler.close()
    return Built(handler, finish)


def null(addr: str, **kw: Any) -> Built:
    handler = logging.NullHandler()
    return Built(handler, _close(handler))


def deque(addr: str, **kw: Any) -> Built:
    handler = DequeHandler()
    return Built(handler, _close(handler))


def stdlib_http_get(addr: str, **kw: Any) -> Built:
    handler = logging.handlers.HTTPHandler(addr, "/bench", method="GET")
    return Built(handler, _close(handler))


def stdlib_http_post(addr: str, **kw: Any) -> Built:
    handler = logging.handlers.HTTPHandler(addr, "/bench", method="POST")
    return Built(handler, _close(handler))


def stdlib_queue_http(addr: str, **kw: Any) -> Built:
    q: "queue.Queue[Any]" = queue.Queue(-1)
    target = logging.handlers.HTTPHandler(addr, "/bench", method="POST")
    listener = logging.handlers.QueueListener(q, target)
    listener.start()

    def finish(timeout: float) -> None:
        listener.stop()  # drains the queue (unbounded join, as the stdlib does)
        target.close()
    return Built(logging.handlers.QueueHandler(q), finish)


def _logstash(addr: str, database: Optional[str]) -> Built:
    from logstash_async.constants import constants
    from logstash_async.handler import AsynchronousLogstashHandler
    from logstash_async.transport import HttpTransport

    constants.QUEUED_EVENTS_FLUSH_INTERVAL = 1.0
    host, port = addr.rsplit(":", 1)
    transport = HttpTransport(host, int(port), ssl_enable=False, timeout=10.0, path="/bench")
    handler = AsynchronousLogstashHandler(host, int(port), database_path=database, transport=transport)

    def finish(timeout: float) -> None:
        handler.flush()
        handler.close()
    return Built(handler, finish)


def logstash_async_memory(addr: str, **kw: Any) -> Built:
    return _logstash(addr, None)


def logstash_async_sqlite(addr: str, **kw: Any) -> Built:
    return _logstash(addr, tempfile.mktemp(suffix=".db"))


def logzio(addr: str, **kw: Any) -> Built:
    from logzio.handler import LogzioHandler

    handler = LogzioHandler("bench-token", url=f"http://{addr}", logs_drain_timeout=1, backup_logs=False)

    def finish(timeout: float) -> None:
        handler.flush()
        handler.close()
    return Built(handler, finish)


def threaded_http_get(addr: str, **kw: Any) -> Built:
    from threaded_logging import ThreadedHttpHandler

    return _ours(ThreadedHttpHandler(addr, "/bench", "GET", **kw))


def threaded_http_post(addr: str, **kw: Any) -> Built:
    from threaded_logging import ThreadedHttpHandler

    return _ours(ThreadedHttpHandler(addr, "/bench", "POST", **kw))


def threaded_http_gzip(addr: str, **kw: Any) -> Built:
    from threaded_logging import ThreadedHttpHandler

    return _ours(ThreadedHttpHandler(addr, "/bench", "POST", compress=True, **kw))


def threaded_http_spool(addr: str, **kw: Any) -> Built:
    from threaded_logging import ThreadedHttpHandler

    return _ours(ThreadedHttpHandler(addr, "/bench", "POST", spool_dir=tempfile.mkdtemp(), **kw))


def threaded_http_journal(addr: str, **kw: Any) -> Built:
    from threaded_logging import ThreadedHttpHandler

    return _ours(ThreadedHttpHandler(addr, "/bench", "POST", spool_dir=tempfile.mkdtemp(), journal=True, **kw))


#: Each destination format, sent where its destination listens (the collector decodes them all).
FORMATS = {
    "otlp": ("/v1/logs", {}),
    "elasticsearch": ("/bench/_bulk", {}),
    "loki": ("/loki/api/v1/push", {}),
    "splunk_hec": ("/services/collector/event", {"token": "bench"}),
}


def _threaded_format(name: str) -> Callable[..., Built]:
    path, options = FORMATS[name]

    def build(addr: str, **kw: Any) -> Built:
        from threaded_logging import ThreadedHttpHandler

        return _ours(ThreadedHttpHandler(addr, path, "POST", format=name, **options, **kw))

    return build


def threaded_file(addr: str, **kw: Any) -> Built:
    from threaded_logging import ThreadedHandler

    target = logging.FileHandler(tempfile.mktemp(suffix=".log"))
    return _ours(ThreadedHandler(target, **kw))


def _sqs(addr: str, pack: bool, **kw: Any) -> Built:
    import boto3

    from threaded_logging import ThreadedSqsHandler

    client = boto3.client("sqs", endpoint_url=f"http://{addr}", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    calls = collections.Counter()
    client.meta.events.register("before-call.sqs", lambda model, **k: calls.update([model.name]))
    url = client.create_queue(QueueName=kw.pop("queue"))["QueueUrl"]
    handler = ThreadedSqsHandler(queue_url=url, client=client, pack=pack, **kw)
    handler.api_calls = calls  # type: ignore[attr-defined]
    return _ours(handler)


def threaded_sqs(addr: str, **kw: Any) -> Built:
    return _sqs(addr, False, **kw)


def threaded_sqs_pack(addr: str, **kw: Any) -> Built:
    return _sqs(addr, True, **kw)


ALL: Dict[str, Callable[..., Built]] = {
    "NullHandler": null,
    "deque.append": deque,
    "stdlib HTTPHandler GET": stdlib_http_get,
    "stdlib HTTPHandler POST": stdlib_http_post,
    "stdlib Queue+Listener+HTTP": stdlib_queue_http,
    "logstash-async memory": logstash_async_memory,
    "logstash-async sqlite": logstash_async_sqlite,
    "logzio": logzio,
    "Threaded GET": threaded_http_get,
    "Threaded POST ndjson": threaded_http_post,
    "Threaded POST gzip": threaded_http_gzip,
    "Threaded POST spool": threaded_http_spool,
    "Threaded POST journal": threaded_http_journal,
    **{f"Threaded POST {name}": _threaded_format(name) for name in FORMATS},
    "Threaded(FileHandler)": threaded_file,
    "ThreadedSqs": threaded_sqs,
    "ThreadedSqs pack": threaded_sqs_pack,
}

OPTIONAL = {"logstash-async memory": "logstash_async", "logstash-async sqlite": "logstash_async", "logzio": "logzio"}
SYNCHRONOUS = {"stdlib HTTPHandler GET", "stdlib HTTPHandler POST"}
