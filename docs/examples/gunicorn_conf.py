"""gunicorn.conf.py: gunicorn passes logconfig_dict to logging.config.dictConfig."""

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "collector": {
            "class": "threaded_logging.ThreadedHttpHandler",
            "host": "127.0.0.1:8514",
            "url": "/logs",
            "method": "POST",
            "static_fields": {"app": "api", "server": "gunicorn"},
        },
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["collector"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["collector"], "level": "INFO", "propagate": False},
    },
}
