"""The bot's audit log (`bot.audit.AuditLog`, in the bot's store) for the command line: `triage fix` writes its
proposals, steps and verifications there, so `triage audit` shows fixes made outside Teams beside those made
in Teams. The store is the one `triage serve` uses with the same environment (`TRIAGE_STATE_DIR`, or Blob
storage); the bot's identity is not needed to reach it."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError

from bot.audit import AuditLog, AuditRecord
from bot.settings import Settings
from bot.storage import Store
from bot.storage.factory import open_store

__all__ = ["CommandLineAudit", "command_line_audit", "open_audit_store", "store_settings"]

COMMAND_LINE = "command line"


def store_settings(environ: Mapping[str, str]) -> Settings:
    """The storage settings of the environment (the same keys `triage serve` reads), nothing else required."""
    values: dict[str, Any] = {key: value for key, value in environ.items() if value.strip() != ""}
    values["sdk_environment"] = {}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        keys = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors(include_input=False)}))
        raise ValueError(f"the bot's storage settings cannot be used ({keys})") from None


@asynccontextmanager
async def open_audit_store(environ: Mapping[str, str] | None = None) -> AsyncIterator[Store]:
    store = await open_store(store_settings(os.environ if environ is None else environ))
    try:
        yield store
    finally:
        await store.close()


class CommandLineAudit:
    """`checks.fixing.AuditLog` over the bot's audit log: each record names this run's fix id (`detail.fix`),
    the remediation, the cause and the mailboxes, and the local account that ran the command."""

    def __init__(self, log: AuditLog, actor: str) -> None:
        self._log = log
        self._actor = actor
        self.fix_id = secrets.token_hex(12)
        self._about: dict[str, Any] = {}
        self._mailboxes: tuple[str, ...] = ()

    def about(self, *, remediation: str, cause: str, mailboxes: list[str]) -> None:
        self._about = {"remediation": remediation, "cause": cause}
        self._mailboxes = tuple(mailboxes)

    async def append(self, kind: str, **fields: Any) -> None:
        name = kind if kind.startswith("fix-") else f"fix-{kind}"  # a step: fix-step.start, ...
        detail = {"fix": self.fix_id, **self._about, **fields}
        await self._log.append(
            AuditRecord(
                name, self._actor, f"{self._actor} ({COMMAND_LINE})", mailboxes=self._mailboxes,
                conversation=COMMAND_LINE, detail=detail,
            )
        )  # fmt: skip


@asynccontextmanager
async def command_line_audit(actor: str) -> AsyncIterator[CommandLineAudit]:
    async with open_audit_store() as store:
        yield CommandLineAudit(AuditLog(store), actor)
