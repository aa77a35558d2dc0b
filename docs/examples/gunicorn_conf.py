"""gunicorn.conf.py: ship gunicorn's own records and the application's to a collector.

Run with ``gunicorn -c gunicorn_conf.py myapp:app``. gunicorn merges
``logconfig_dict`` over its own defaults, one top-level key at a time, and
hands the result to ``logging.config.dictConfig`` in the master, at start-up
and again on every reload (SIGHUP). Workers are forked from the master and
inherit its handlers; each worker ships its own records and drains them when
it exits.
"""

import os

# host:port of the collector; the environment variable overrides it.
COLLECTOR = os.environ.get("THREADED_LOGGING_COLLECTOR", "127.0.0.1:8514")

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    # Replaces gunicorn's default "handlers" as a whole, so "root" below must
    # be given too: gunicorn's default root uses its "console" handler, which
    # no longer exists here ("Unable to configure root logger").
    "handlers": {
        "collector": {
            "class": "threaded_logging.ThreadedHttpHandler",
            "host": COLLECTOR,
            "url": "/logs",
            "method": "POST",
            "static_fields": {"app": "api", "server": "gunicorn"},
        },
    },
    "root": {"level": "INFO", "handlers": ["collector"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["collector"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["collector"], "level": "INFO", "propagate": False},
    },
}
