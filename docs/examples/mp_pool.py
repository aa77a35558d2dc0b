"""A multiprocessing pool whose workers ship their own records.

Each worker configures logging in the pool's initializer: with the "spawn" and
"forkserver" start methods a worker starts with no handlers at all, and with
"fork" it inherits the parent's, which dictConfig replaces. End the pool with
close() and join() so every worker exits normally and drains its handler
(``with Pool(...)`` ends it with terminate(), which can lose the workers'
last records).
"""

import logging
import logging.config
import multiprocessing
import os
import time

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
    pool = multiprocessing.Pool(3, initializer=configure_logging)
    try:
        results = pool.map(work, range(TASKS), chunksize=1)
    finally:
        pool.close()
        pool.join()
    logging.getLogger("batch").info("%d tasks done", len(results))


if __name__ == "__main__":
    main()
