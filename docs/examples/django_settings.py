"""settings.py (the logging part): Django hands LOGGING to logging.config.dictConfig
in ``django.setup()``, after its own defaults."""

import os

# host:port of the collector; the environment variable overrides it.
COLLECTOR = os.environ.get("THREADED_LOGGING_COLLECTOR", "127.0.0.1:8514")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "collector": {
            "class": "threaded_logging.ThreadedHttpHandler",
            "host": COLLECTOR,
            "url": "/logs",
            "method": "POST",
            "static_fields": {"app": "shop", "framework": "django"},
        },
    },
    "root": {"handlers": ["collector"], "level": "INFO"},
    "loggers": {
        # django.request: 4xx as WARNING, 5xx as ERROR with the traceback
        "django": {"handlers": ["collector"], "level": "INFO", "propagate": False},
    },
}
