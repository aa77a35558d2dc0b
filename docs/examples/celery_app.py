"""A Celery application whose worker ships its own records and its tasks'.

Run a worker with ``celery -A celery_app worker --loglevel INFO``. When a
worker starts, Celery replaces the root logger's handlers with its own,
unless a receiver of its ``setup_logging`` signal configures logging: then
Celery leaves logging to it. Prefork pool processes are forked from the
worker and inherit its handlers.
"""

import logging
import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

# host:port of the collector; the environment variable overrides it.
COLLECTOR = os.environ.get("THREADED_LOGGING_COLLECTOR", "127.0.0.1:8514")

app = Celery("celery_app", broker=os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "collector": {
            "class": "threaded_logging.ThreadedHttpHandler",
            "host": COLLECTOR,
            "url": "/logs",
            "method": "POST",
            "static_fields": {"app": "jobs", "framework": "celery"},
        },
    },
    "root": {"level": "INFO", "handlers": ["collector"]},
}


@setup_logging.connect
def configure_logging(**kwargs):
    logging.config.dictConfig(LOGGING)


@app.task
def add(x, y):
    logging.getLogger("jobs").info("add(%d, %d)", x, y)
    return x + y
