"""`triage doctor --config FILE [--mailbox SMTP] [--json]`: is the live configuration usable, and if not, why."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

__all__ = ["register", "run_doctor_command"]

_MAILBOX_LIMIT = 320


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check a live configuration: DNS, TCP, TLS, authentication, roles, permissions",
        description=(
            "Check every backend of a live configuration the way the checks will use it: DNS, TCP reach, TLS "
            "(trust and name) or message encryption, the authentication mechanism negotiated, the cmdlets the "
            "Exchange endpoint grants against the allow-list, the WinRM templates on each host, EWS impersonation "
            "of a test mailbox, the Graph token and its permissions, the Exchange Online management host. "
            "Exit 0 only when every row is ok."
        ),
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="the live configuration (YAML)")
    parser.add_argument(
        "--mailbox", metavar="SMTP", help="an on-premises mailbox to try EWS impersonation on"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON array of rows")
    parser.set_defaults(func=run_doctor_command)


def run_doctor_command(args: argparse.Namespace) -> int:
    from checks.backends.doctor import run_doctor
    from checks.config import ConfigError, load_config
    from checks.wiring import from_config
    from knowledge.validators import ValueProblem, check_smtp
    from triage.usage import UsageError

    mailbox = None
    if args.mailbox:
        try:
            mailbox = check_smtp(args.mailbox[:_MAILBOX_LIMIT])
        except ValueProblem as problem:
            raise UsageError(f"--mailbox: {problem}") from None
    try:
        settings = from_config(load_config(args.config))
    except ConfigError as error:
        raise UsageError(str(error)) from None
    rows = asyncio.run(run_doctor(settings, mailbox=mailbox))
    if not rows and not args.json:
        print(
            f"{args.config} configures no backend (exchange, winrm, ews, graph, exchange_online): nothing to check."
        )
    if args.json:
        print(json.dumps([row.as_json() for row in rows], ensure_ascii=False))
    else:
        width = max((len(r.backend) for r in rows), default=8)
        for row in rows:
            mark = "ok     " if row.status == "ok" else "PROBLEM"
            print(f"{mark}  {row.backend:<{width}}  {row.check:<13}  {row.detail}")
            if row.fix:
                print(f"{'':7}  {'':<{width}}  {'fix':<13}  {row.fix}")
    return 0 if rows and all(r.status == "ok" for r in rows) else 1
