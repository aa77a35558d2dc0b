"""Helpers that let every handler be built from plain configuration values."""

from __future__ import annotations

import importlib
import logging
from typing import Any, Mapping


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
