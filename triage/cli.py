"""The `triage` command: one sub-command per job, each registered by the package that owns it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from triage import chat, commands, doctor, fix, lab_cli, manifest_cli, serve_cli
from triage.usage import UsageError

__all__ = ["COMMANDS", "UsageError", "main"]

# Each module exposes `register(subparsers)`; the handler it sets as `func` returns the exit code. Each keeps
# its heavy imports (the SDK, the lab, the backends) inside its handlers, so building the parser stays cheap.
COMMANDS = (commands, doctor, lab_cli, chat, fix, serve_cli, manifest_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Exchange Triage: diagnose Exchange hybrid free/busy and cross-site proxy failures.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in COMMANDS:
        command.register(subparsers)
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
