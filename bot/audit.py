"""The audit log: who did what to which mailboxes, when. Append-only, in the store, readable by admins.

Each record is one document under `audit/{time}-{random}`, written once with create-only semantics (a write
never replaces a record; nothing in the product updates one) and removed only by retention when it is older
than `TRIAGE_AUDIT_TTL_DAYS`. Records have a `kind`:

| kind | written when | mailboxes | checks |
| --- | --- | --- | --- |
| `mailbox-read` | a triage is about to read the pair's mailboxes (before the checks run) | the pair | the checks |
| `mailbox-read-refused` | the pair is outside the configured mailbox scope | the pair | the checks |
| `triage-refused` | someone without the helpdesk role tried to start a triage | | |
| `escalation-channel-set` | an admin set the escalation channel (`detail`: the old and new channel) | | |
| `escalation-channel-refused` | someone who is not an admin tried to | | |
| `escalation-taken` | someone pressed "I'll take it" or "Take over" on an escalation (`detail`: the post, from whom) | | |
| `audit-read` | an admin read the audit log | | |

| `fix-proposed` | "Fix it" was pressed (or `triage fix` ran): the plan's steps and fingerprint | the pair | |
| `fix-approved`, `fix-rejected`, `fix-declined` | an approver decided (`fix-declined`: `triage fix` not confirmed) | the pair | |
| `fix-refused` | a fix action was refused (`detail.reason`: not an approver, expired, decided, changed, not enabled) | | |
| `fix-step.start`, `fix-step.done`, `fix-step.failed` | a write step ran (`detail.output`: its redacted output) | the pair | |
| `fix-verified` | the checks ran again after the change (`detail.fixed`, `detail.results`) | the pair | |
| `fix-rollback`, `fix-rollback.*`, `fix-rolled-back` | an approver rolled a fix back, step by step | the pair | |

`detail` carries what is particular to a kind (plain JSON); every fix record has `detail.fix` (the fix's
id, which `triage audit --fix ID` selects), `remediation`, `cause` and `servers`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.storage import ConflictError, Store

__all__ = ["AUDIT_PREFIX", "AuditLog", "AuditRecord", "format_records"]

logger = logging.getLogger(__name__)

AUDIT_PREFIX = "audit/"


@dataclass(frozen=True)
class AuditRecord:
    """One thing someone did. `actor` is an Entra object id (empty when Teams gave none)."""

    kind: str
    actor: str
    actor_name: str = ""
    at: float = 0.0
    mailboxes: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    conversation: str = ""
    tenant: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["mailboxes"] = list(self.mailboxes)
        document["checks"] = list(self.checks)
        document["detail"] = dict(self.detail)
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> AuditRecord:
        return cls(
            kind=str(document.get("kind", "")),
            actor=str(document.get("actor", "")),
            actor_name=str(document.get("actor_name", "")),
            at=float(document.get("at", 0.0)),
            mailboxes=tuple(str(m) for m in document.get("mailboxes", ())),
            checks=tuple(str(c) for c in document.get("checks", ())),
            conversation=str(document.get("conversation", "")),
            tenant=str(document.get("tenant", "")),
            detail=dict(document.get("detail", {})),
        )


class AuditLog:
    """Appends records and reads them back, newest first."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def append(self, record: AuditRecord) -> str:
        """Store `record` (stamped now) under a new key and answer the key. Never replaces a record."""
        at = self._clock()
        stamped = AuditRecord(**{**asdict(record), "at": at})
        for _ in range(5):
            key = f"{AUDIT_PREFIX}{_stamp(at)}-{secrets.token_hex(6)}"
            try:
                await self._store.write(key, stamped.as_dict(), None)
            except ConflictError:
                continue
            logger.info(
                "audit: %s by %s (%d mailboxes)", record.kind, record.actor or "?", len(record.mailboxes)
            )
            return key
        raise ConflictError(AUDIT_PREFIX)

    async def read(self, *, limit: int = 50, kinds: Sequence[str] = (), fix: str = "") -> list[AuditRecord]:
        """The newest `limit` records (of `kinds`, and about the fix `fix`, when given), newest first."""
        keys = [key for key, _ in await self._store.scan(AUDIT_PREFIX)]
        found: list[AuditRecord] = []
        for key in reversed(keys):
            document, etag = await self._store.read(key)
            if etag is None:
                continue  # purged meanwhile
            record = AuditRecord.from_dict(document)
            if kinds and record.kind not in kinds:
                continue
            if fix and record.detail.get("fix") != fix:
                continue
            found.append(record)
            if len(found) >= limit:
                break
        return found


def format_records(records: Sequence[AuditRecord]) -> list[str]:
    """One line per record, for the command line and the chat: when, who, what, which mailboxes and checks."""
    lines = []
    for record in records:
        when = datetime.fromtimestamp(record.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        who = f"{record.actor_name} ({record.actor})" if record.actor_name else (record.actor or "(unknown)")
        parts = [when, record.kind, who]
        if record.mailboxes:
            parts.append("mailboxes " + ", ".join(record.mailboxes))
        if record.checks:
            parts.append("checks " + ", ".join(record.checks))
        if record.detail:
            parts.append(", ".join(f"{k}={v}" for k, v in sorted(record.detail.items())))
        lines.append(" | ".join(parts))
    return lines


def _stamp(at: float) -> str:
    # Sortable, so that the store's key order is the log's order.
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%S.%f")
