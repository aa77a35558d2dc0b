"""Entry point of the ``threaded-logging`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Optional, Sequence

from .. import __version__

#: subcommand -> (module, one-line help); each module has ``add_arguments``
#: and ``run(args) -> int``, imported only when chosen.
COMMANDS: dict[str, tuple[str, str]] = {
    "collect": (".collector", "receive records from ThreadedHttpHandler and write JSON lines"),
    "demo": (".demo", "log through ThreadedHttpHandler to an in-process collector and report"),
    "check-config": (".check_config", "build a logging configuration file and report every problem"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threaded-logging",
        description="Logging handlers that ship records on a background thread.",
    )
    parser.add_argument("--version", action="version", version=f"threaded-logging {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name, __package__)
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
