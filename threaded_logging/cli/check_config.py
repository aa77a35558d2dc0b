"""``threaded-logging check-config FILE``: build a logging configuration, report every problem.

Loads an ini file (``logging.config.fileConfig``), a boto config (the same, as
boto does at import, plus its other sections), or a JSON/YAML ``dictConfig``;
builds every handler without starting a thread or sending anything; reports
each problem with its section and key and a hint; exits 1 if there was any.
Secret values from the file are never printed.
"""

from __future__ import annotations

import argparse
import configparser
import difflib
import inspect
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple
from urllib.parse import urlsplit

from .._config import DRY_RUN, resolve_name
from .._options import DEFAULTS

_SECRET_NAME = re.compile(r"(?i)secret|password|passwd|token|credential|access_key|authorization|api_key")
_DICT_HANDLER_KEYS = {"class", "()", "level", "formatter", "filters", "."}


class Problem(NamedTuple):
    where: str
    message: str
    hint: str = ""


class Checker:
    """Collects problems and what would be configured; redacts secrets."""

    def __init__(self) -> None:
        self.problems: List[Problem] = []
        self.summary: List[str] = []
        self.secrets: Set[str] = set()
        self.built: List[logging.Handler] = []

    def problem(self, where: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(where, message, hint))

    def remember_secrets(self, values: Mapping[str, Any]) -> None:
        """Keep every value under a secret-looking name, at any depth
        (``client_kwargs={"aws_secret_access_key": ...}``)."""
        for name, value in values.items():
            if _SECRET_NAME.search(str(name)):
                self._collect(value)
            elif isinstance(value, Mapping):
                self.remember_secrets(value)

    def _collect(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 3:
            self.secrets.add(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._collect(item)
        elif isinstance(value, Mapping):
            for item in value.values():
                self._collect(item)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    # -- building one handler -----------------------------------------------------

    def resolve_class(self, where: str, key: str, dotted: Any, logging_names: bool) -> Any:
        if not isinstance(dotted, str):
            return dotted
        if logging_names:
            try:  # fileConfig evaluates the class in the logging namespace first
                return eval(dotted, vars(logging))  # noqa: S307 - what fileConfig itself does
            except Exception:
                pass
        try:
            return resolve_name(dotted)
        except Exception:
            candidates = _known_classes()
            close = difflib.get_close_matches(dotted, candidates, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "give the full dotted path, e.g. threaded_logging.ThreadedHttpHandler"
            self.problem(where, f"unknown handler class '{dotted}'", hint)
            return None

    def check_call(self, where: str, factory: Any, args: Sequence[Any], kwargs: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """Check the call; returns the kwargs worth building with, or None."""
        try:
            signature = inspect.signature(factory)
        except (TypeError, ValueError):
            return kwargs
        params = signature.parameters
        accepted = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        from .._handler import ThreadedHandler

        threaded = isinstance(factory, type) and issubclass(factory, ThreadedHandler)
        if threaded:
            accepted |= set(DEFAULTS) | {"name"} | _transport_options(factory)
            open_kwargs = False
        usable = dict(kwargs)
        if not open_kwargs:
            for name in kwargs:
                if name not in accepted:
                    close = difflib.get_close_matches(name, sorted(accepted), n=1, cutoff=0.6)
                    hint = f"did you mean '{close[0]}'?" if close else f"known options: {', '.join(sorted(accepted))}"
                    self.problem(where, f"unknown option '{name}'", hint)
                    del usable[name]
        try:
            bound = signature.bind(*args, **usable)
            self.remember_secrets(bound.arguments)
            credentials = bound.arguments.get("credentials")
            if credentials:
                self._collect(credentials)
            if threaded and factory.__name__ in ("ThreadedAwsHandler",):
                self._collect(list(bound.arguments.values())[0:2])
        except TypeError as exc:
            self.problem(where, f"arguments do not fit {getattr(factory, '__name__', factory)}: {exc}",
                         "check args= / kwargs= against the class's documented signature")
            return None
        if self._check_urls(where, usable):
            return None
        if threaded:  # common options are checked on their own, so each bad one is named
            from .._options import parse_options

            for key in [k for k in usable if k in DEFAULTS]:
                try:
                    parse_options({key: usable[key]})
                except (TypeError, ValueError) as exc:
                    self.problem(where, f"{type(exc).__name__}: {exc}", _hint_for(exc))
                    del usable[key]
        return usable

    def _check_urls(self, where: str, values: Mapping[str, Any]) -> bool:
        """Report URL-like values whose scheme is not http(s); True if any."""
        found = False
        for name, value in values.items():
            if isinstance(value, Mapping):
                found = self._check_urls(f"{where} {name}", value) or found
            elif isinstance(value, str) and "url" in str(name).lower() and "://" in value:
                scheme = urlsplit(value).scheme.lower()
                if scheme not in ("http", "https"):
                    self.problem(where, f"{name}: URL scheme '{scheme}' looks wrong", "use http:// or https://")
                    found = True
        return found

    def build(self, where: str, name: str, factory: Any, args: Sequence[Any], kwargs: Dict[str, Any]) -> None:
        usable = self.check_call(where, factory, args, kwargs)
        if usable is None:
            return
        try:
            with DRY_RUN:
                handler = factory(*args, **usable)
        except Exception as exc:
            self.problem(where, f"{type(exc).__name__}: {exc}", _hint_for(exc))
            return
        self.built.append(handler)
        describe = getattr(handler, "describe", None)
        target = describe() if callable(describe) else type(handler).__name__
        self.summary.append(f"handler {name}: {type(handler).__name__} -> {target}")

    def close_all(self) -> None:
        for handler in self.built:
            try:
                handler.close()
            except Exception:
                pass


def _transport_options(factory: type) -> Set[str]:
    names: Set[str] = set()
    for klass in factory.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD) and name != "self":
                names.add(name)
    return names


def _known_classes() -> List[str]:
    import threaded_logging

    ours = [f"threaded_logging.{n}" for n in threaded_logging.__all__ if n.endswith("Handler")]
    stdlib = [f"logging.{n}" for n in ("StreamHandler", "FileHandler", "NullHandler")]
    stdlib += [f"logging.handlers.{n}" for n in ("RotatingFileHandler", "TimedRotatingFileHandler", "HTTPHandler",
                                                   "QueueHandler", "SysLogHandler", "SocketHandler", "MemoryHandler")]
    return ours + stdlib


def _hint_for(exc: Exception) -> str:
    text = str(exc)
    if "unknown option" in text:
        return "see the common options in the documentation"
    if "must be" in text:
        return "fix the value's type or range"
    if isinstance(exc, (OSError, LookupError)):
        return "check the path or name"
    return ""


# -- formats ------------------------------------------------------------------------


def check_ini(path: Path, checker: Checker, boto: bool) -> None:
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        checker.problem(str(path), f"not a valid ini file: {exc}")
        return
    if boto and parser.has_section("Credentials"):
        checker._collect(dict(parser.items("Credentials", raw=True)))
    for section in parser.sections():
        for key, value in parser.items(section, raw=True):
            if _SECRET_NAME.search(key):
                checker._collect(value)
    if not parser.has_section("loggers") and not parser.has_section("handlers"):
        what = "boto would configure no logging" if boto else "logging would configure nothing"
        checker.problem(str(path), f"no [loggers] or [handlers] section: {what}", "add [loggers], [handlers] and [formatters] sections")
        return
    formatters = _keys(parser, "formatters", checker)
    for name in formatters:
        section = f"formatter_{name}"
        if not parser.has_section(section):
            checker.problem("[formatters] keys", f"formatter '{name}' has no [{section}] section", f"add [{section}]")
            continue
        dotted = parser.get(section, "class", raw=True, fallback=None)
        if dotted:
            checker.resolve_class(f"[{section}] class", "class", dotted, logging_names=False)
    handlers = _keys(parser, "handlers", checker)
    for name in handlers:
        section = f"handler_{name}"
        where = f"[{section}]"
        if not parser.has_section(section):
            checker.problem("[handlers] keys", f"handler '{name}' has no [{section}] section", f"add [{section}] or remove '{name}' from keys")
            continue
        dotted = parser.get(section, "class", raw=True, fallback=None)
        if not dotted:
            checker.problem(where, "class: missing", "class=threaded_logging.ThreadedHttpHandler, for example")
            continue
        factory = checker.resolve_class(f"{where} class", "class", dotted, logging_names=True)
        formatter = parser.get(section, "formatter", raw=True, fallback="")
        if formatter and formatter not in formatters:
            checker.problem(f"{where} formatter", f"formatter '{formatter}' is not listed in [formatters] keys")
        level = parser.get(section, "level", raw=True, fallback="NOTSET")
        if not isinstance(logging.getLevelName(level.strip().upper()), int):
            checker.problem(f"{where} level", f"unknown level '{level}'", "DEBUG, INFO, WARNING, ERROR or CRITICAL")
        args = _eval(checker, f"{where} args", parser.get(section, "args", raw=True, fallback="()"))
        kwargs = _eval(checker, f"{where} kwargs", parser.get(section, "kwargs", raw=True, fallback="{}"))
        if factory is None or args is _BAD or kwargs is _BAD:
            continue
        if not isinstance(args, tuple):
            args = (args,)
        if not isinstance(kwargs, dict):
            checker.problem(f"{where} kwargs", "kwargs must be a dict")
            continue
        checker.build(f"{where} args/kwargs", name, factory, args, kwargs)
    for name in _keys(parser, "loggers", checker):
        section = f"logger_{name}"
        if not parser.has_section(section):
            checker.problem("[loggers] keys", f"logger '{name}' has no [{section}] section", f"add [{section}]")
            continue
        listed = [h.strip() for h in parser.get(section, "handlers", raw=True, fallback="").split(",") if h.strip()]
        for handler in listed:
            if handler not in handlers:
                checker.problem(f"[{section}] handlers", f"handler '{handler}' is not listed in [handlers] keys")
        qualname = parser.get(section, "qualname", raw=True, fallback="root" if name == "root" else name)
        checker.summary.append(f"logger {qualname}: level {parser.get(section, 'level', raw=True, fallback='NOTSET')}, handlers {', '.join(listed) or '-'}")
    if "root" not in _keys(parser, "loggers", checker) and parser.has_section("loggers"):
        checker.problem("[loggers] keys", "'root' is missing: fileConfig requires a root logger", "keys=root,...")


_BAD = object()


def _eval(checker: Checker, where: str, text: str) -> Any:
    try:
        return eval(text, vars(logging))  # noqa: S307 - exactly what fileConfig does
    except Exception as exc:
        checker.problem(where, f"not a valid Python expression: {type(exc).__name__}: {exc}",
                        "args= takes a tuple such as ('host:8514', '/log'), kwargs= a dict")
        return _BAD


def _keys(parser: configparser.ConfigParser, section: str, checker: Checker) -> List[str]:
    if not parser.has_section(section):
        return []
    return [k.strip() for k in parser.get(section, "keys", raw=True, fallback="").split(",") if k.strip()]


def check_dict(config: Any, origin: str, checker: Checker) -> None:
    if not isinstance(config, dict):
        checker.problem(origin, "the top level must be a mapping (dictConfig)")
        return
    if config.get("version") != 1:
        checker.problem(f"{origin}: version", "dictConfig requires version: 1", "add \"version\": 1")
    handlers = config.get("handlers") or {}
    formatters = config.get("formatters") or {}
    for name, spec in formatters.items():
        dotted = spec.get("()") or spec.get("class") if isinstance(spec, dict) else None
        if dotted:
            checker.resolve_class(f"formatters.{name}", "class", dotted, logging_names=False)
    for name, spec in handlers.items():
        where = f"handlers.{name}"
        if not isinstance(spec, dict):
            checker.problem(where, "must be a mapping")
            continue
        dotted = spec.get("()") or spec.get("class")
        if not dotted:
            checker.problem(where, "class: missing", "\"class\": \"threaded_logging.ThreadedHttpHandler\"")
            continue
        factory = checker.resolve_class(f"{where}.class", "class", dotted, logging_names=False)
        formatter = spec.get("formatter")
        if formatter and formatter not in formatters:
            checker.problem(f"{where}.formatter", f"formatter '{formatter}' is not defined under formatters")
        level = spec.get("level")
        if isinstance(level, str) and not isinstance(logging.getLevelName(level.upper()), int):
            checker.problem(f"{where}.level", f"unknown level '{level}'", "DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if factory is None:
            continue
        kwargs = {k: v for k, v in spec.items() if k not in _DICT_HANDLER_KEYS}
        checker.build(where, name, factory, (), kwargs)
    loggers = dict(config.get("loggers") or {})
    if "root" in config:
        loggers["root"] = config["root"]
    for name, spec in loggers.items():
        listed = list((spec or {}).get("handlers") or [])
        for handler in listed:
            if handler not in handlers:
                checker.problem(f"loggers.{name}.handlers", f"handler '{handler}' is not defined under handlers")
        checker.summary.append(f"logger {name}: level {(spec or {}).get('level', 'NOTSET')}, handlers {', '.join(listed) or '-'}")


def load_structured(path: Path, fmt: str, checker: Checker) -> Optional[Any]:
    text = path.read_text(encoding="utf-8")
    if fmt == "yaml":
        try:
            import yaml
        except ImportError:
            checker.problem(str(path), "YAML needs PyYAML, which is not installed", "pip install pyyaml, or use JSON")
            return None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            checker.problem(str(path), f"not valid YAML: {exc}")
            return None
    try:
        return json.loads(text)
    except ValueError as exc:
        checker.problem(str(path), f"not valid JSON: {exc}")
        return None


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if path.name in (".boto", "boto.cfg") or suffix == ".boto":
        return "boto"
    try:
        if re.search(r"^\[Credentials\]", path.read_text(encoding="utf-8", errors="replace"), re.M):
            return "boto"
    except OSError:
        pass
    return "ini"


def check(path: Path, fmt: Optional[str] = None) -> Tuple[Checker, str]:
    """Check one file; returns the checker (problems, summary) and the format used."""
    checker = Checker()
    chosen = fmt or guess_format(path)
    if not path.is_file():
        checker.problem(str(path), "no such file")
        return checker, chosen
    try:
        if chosen in ("ini", "boto"):
            check_ini(path, checker, boto=chosen == "boto")
        else:
            config = load_structured(path, chosen, checker)
            if config is not None:
                check_dict(config, path.name, checker)
    finally:
        checker.close_all()
    return checker, chosen


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="logging.ini, a boto config, or a JSON/YAML dictConfig")
    parser.add_argument("--format", choices=("ini", "boto", "json", "yaml"), default=None,
                        help="how to read FILE (default: from its name and content)")


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    checker, fmt = check(path, args.format)
    out = sys.stdout
    print(f"check-config: {path} ({fmt})", file=out)
    for line in checker.summary:
        print(f"  {checker.redact(line)}", file=out)
    if checker.problems:
        print(f"{len(checker.problems)} problem(s):", file=out)
        for problem in checker.problems:
            hint = f" -- {problem.hint}" if problem.hint else ""
            print(f"  {checker.redact(problem.where)}: {checker.redact(problem.message)}{checker.redact(hint)}", file=out)
        return 1
    print("OK: no problems found", file=out)
    return 0
