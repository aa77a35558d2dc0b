"""dictConfig from Python: ship everything to a collector, errors also to a local JSON file."""

import logging
import logging.config

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "threaded_logging.JsonFormatter", "static_fields": {"app": "billing"}},
    },
    "handlers": {
        "collector": {
            "class": "threaded_logging.ThreadedHttpHandler",
            "host": "127.0.0.1:8514",
            "url": "/logs",
            "method": "POST",
            "compress": True,
            "static_fields": {"app": "billing", "env": "prod"},
            "level": "INFO",
        },
        "errors": {
            "class": "threaded_logging.ThreadedFileHandler",
            "filename": "errors.jsonl",
            "max_bytes": 10_000_000,
            "backup_count": 3,
            "formatter": "json",
            "level": "ERROR",
        },
    },
    "root": {"level": "INFO", "handlers": ["collector", "errors"]},
}

logging.config.dictConfig(LOGGING)
