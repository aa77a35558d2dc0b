"""Helpers that let every handler be built from plain configuration values."""

from __future__ import annotations

import importlib
import logging
from typing import Any, Mapping, Optional


class _DryRun:
    """While active, handlers are built but never start a thread or open a spool."""

    active = False

    def __enter__(self) -> "_DryRun":
        _DryRun.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        _DryRun.active = False


#: ``with DRY_RUN:`` builds handlers for inspection only (check-config).
DRY_RUN = _DryRun()


def resolve_name(dotted: str) -> Any:
    """The object a dotted path names (``"logging.FileHandler"``)."""
    parts = dotted.split(".")
    module_name = parts.pop(0)
    found: Any = importlib.import_module(module_name)
    for part in parts:
        module_name += "." + part
        try:
            found = getattr(found, part)
        except AttributeError:
            found = importlib.import_module(module_name)
    return found


def build_handler(spec: Mapping[str, Any]) -> logging.Handler:
    """A handler from a plain dict: ``{"class": "logging.FileHandler",
    "filename": "app.log", "level": "INFO", "format": "%(message)s"}``.

    The config-file way to give :class:`ThreadedHandler` its target.
    """
    config = dict(spec)
    factory = config.pop("class", None) or config.pop("()", None)
    if factory is None:
        raise TypeError("handler dict needs a 'class' key, e.g. 'logging.FileHandler'")
    level = config.pop("level", None)
    fmt = config.pop("format", None)
    datefmt = config.pop("datefmt", None)
    built = (resolve_name(factory) if isinstance(factory, str) else factory)(**config)
    if not isinstance(built, logging.Handler):
        raise TypeError(f"handler class {factory!r} did not build a logging.Handler")
    if level is not None:
        built.setLevel(level)
    if fmt is not None:
        built.setFormatter(logging.Formatter(fmt, datefmt))
    return built


def fill_level_caches_if_configuring() -> None:
    """When the caller holds logging's module lock (``dictConfig`` does while it
    flushes and closes the old handlers), answer every logger's level check now.

    ``setLevel`` anywhere empties every logger's ``isEnabledFor`` cache, and
    refilling one takes the module lock: the worker's own logging calls
    (urllib3, botocore) would wait for the lock this thread holds while it
    waits for the worker, until the shutdown deadline.
    """
    owned = getattr(logging._lock, "_is_owned", None)  # type: ignore[attr-defined]
    if owned is None or not owned():
        return
    levels = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
    loggers = [logging.getLogger()] + list(logging.Logger.manager.loggerDict.values())
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            for level in levels:
                logger.isEnabledFor(level)


def target_handler(handler: Optional[Any]) -> Optional[logging.Handler]:
    """``handler`` as given, or built from its dict; anything else is a TypeError."""
    if isinstance(handler, Mapping):
        handler = build_handler(handler)
    if handler is not None and not isinstance(handler, logging.Handler):
        raise TypeError(f"handler must be a logging.Handler or a dict with 'class', got {handler!r}")
    return handler
