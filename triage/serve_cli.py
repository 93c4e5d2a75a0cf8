"""`triage serve`: the Teams bot's HTTP endpoint."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the Teams bot (POST /api/messages)",
        description="Serve the Teams bot. Configuration comes from the environment (see docs/bot-hosting.md); "
        "the options here override it.",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1, or TRIAGE_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default 3978, or TRIAGE_PORT)")
    parser.add_argument("--backend", choices=("lab", "live"), help="what the checks talk to (default lab)")
    parser.add_argument("--scenario", help="lab scenario to serve (lab backend only)")
    parser.add_argument(
        "--config", dest="checks_config", help="live backend configuration file (or TRIAGE_CHECKS_CONFIG)"
    )
    parser.set_defaults(func=_serve)

    audit = subparsers.add_parser(
        "audit",
        help="print the bot's audit log (who read which mailboxes, who changed what), newest first",
        description="Print the audit log from the bot's store (the same environment as `triage serve`).",
    )
    audit.add_argument("--limit", type=int, default=50, help="how many records (default 50)")
    audit.add_argument("--kind", action="append", default=[], help="only records of this kind (repeatable)")
    audit.add_argument(
        "--fix", metavar="ID", default="", help="only the records of this fix (its cards name it)"
    )
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(func=_audit)


def _serve(args: argparse.Namespace) -> int:
    # Imported here: the command line builds its parser without loading the SDK.
    from bot.server import configure_logging, serve
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings(
            os.environ,
            host=args.host,
            port=args.port,
            backend=args.backend,
            scenario=args.scenario,
            checks_config=args.checks_config,
        )
    except SettingsError as exc:
        print(f"triage serve: refusing to start:\n{exc}", file=sys.stderr)
        return 2
    # Imported here too: the conversation brings the knowledge base and the checks.
    from triage.app import build_conversation as factory

    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings, lambda publish: factory(settings, publish)))
    except Exception:
        logging.getLogger(__name__).exception("the bot could not start or stopped on an error")
        return 1
    return 0


def _audit(args: argparse.Namespace) -> int:
    import json

    from bot.audit import AuditLog, format_records
    from triage.audit_log import open_audit_store, store_settings

    if args.limit < 1:
        print("triage audit: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        store_settings(os.environ)  # the store only: the bot's identity is not needed to read its log
    except ValueError as exc:
        print(f"triage audit: the configuration cannot be used:\n{exc}", file=sys.stderr)
        return 2

    async def read() -> list[str]:
        async with open_audit_store() as store:
            records = await AuditLog(store).read(limit=args.limit, kinds=args.kind, fix=args.fix)
        if args.json:
            return [json.dumps(record.as_dict(), ensure_ascii=False) for record in records]
        return format_records(records) or ["(the audit log is empty)"]

    print("\n".join(asyncio.run(read())))
    return 0
