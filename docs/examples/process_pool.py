"""A ProcessPoolExecutor whose workers ship their own records.

As with a multiprocessing pool, each worker configures logging in the
initializer. Leaving the ``with`` block calls ``shutdown(wait=True)``: every
worker exits normally and drains its handler.
"""

import logging
import logging.config
import os
import time
from concurrent.futures import ProcessPoolExecutor

# host:port of the collector; the environment variable overrides it.
COLLECTOR = os.environ.get("THREADED_LOGGING_COLLECTOR", "127.0.0.1:8514")
TASKS = 60

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "collector": {
            "class": "threaded_logging.ThreadedHttpHandler",
            "host": COLLECTOR,
            "url": "/logs",
            "method": "POST",
            "static_fields": {"app": "batch"},
        },
    },
    "root": {"level": "INFO", "handlers": ["collector"]},
}


def configure_logging():
    logging.config.dictConfig(LOGGING)


def work(n):
    time.sleep(0.01)  # stands for the real work
    logging.getLogger("batch.worker").info("task %d done", n)
    return n * n


def main():
    configure_logging()
    with ProcessPoolExecutor(max_workers=3, initializer=configure_logging) as executor:
        results = list(executor.map(work, range(TASKS)))
    logging.getLogger("batch").info("%d tasks done", len(results))


if __name__ == "__main__":
    main()
