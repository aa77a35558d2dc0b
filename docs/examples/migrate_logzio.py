"""From logzio-python-handler: Logz.io's HTTPS bulk listener takes NDJSON as is."""

from threaded_logging import ThreadedHttpHandler


def before(token):
    from logzio.handler import LogzioHandler

    return LogzioHandler(token, logzio_type="python", logs_drain_timeout=3)


def after(token, host="listener.logz.io:8071", secure=True):
    return ThreadedHttpHandler(
        host, f"/?token={token}&type=python", "POST", secure=secure,
        format="ndjson", flush_interval=3000,
    )
