"""The `triage` command: one sub-command per job, each registered by the package that owns it."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

# Each module exposes `register(subparsers)`; the handler it sets as `func` returns the exit code.
# Modules are imported when the parser is built, so each keeps its heavy imports inside its handlers.
COMMAND_MODULES: tuple[str, ...] = (
    "triage.commands",
    "triage.doctor",
    "lab.cli",
    "triage.chat",
    "triage.fix",
    "bot.cli",
    "manifest.cli",
)


class UsageError(Exception):
    """Bad arguments or unreadable input: reported as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Exchange Triage: diagnose Exchange hybrid free/busy and cross-site proxy failures.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            # A reader that stopped early (`| head -1`) shows up here, not as a traceback at exit.
            sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        return 128 + 13  # as if ended by SIGPIPE, the way `head` leaves a shell pipeline's writer


def _discard_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (a test's capture): nothing left to flush
        pass


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"triage: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
