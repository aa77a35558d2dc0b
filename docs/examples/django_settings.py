"""settings.py: Django hands LOGGING to logging.config.dictConfig at start-up."""

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "collector": {
            "class": "threaded_logging.ThreadedHttpHandler",
            "host": "127.0.0.1:8514",
            "url": "/logs",
            "method": "POST",
            "static_fields": {"app": "shop", "framework": "django"},
        },
    },
    "root": {"handlers": ["collector"], "level": "INFO"},
    "loggers": {
        "django": {"handlers": ["collector"], "level": "INFO", "propagate": False},
    },
}
