"""The conversation behind the access policy and the audit log.

`GuardedConversation` wraps the triage conversation the host runs:
- an activity from someone without the helpdesk role is answered with a refusal (and recorded), never handed
  to the conversation;
- the conversation's `audit` outbounds (before it reads the pair's mailboxes) are recorded in the audit log
  first; a pair outside the configured mailbox scope is refused, and the conversation skips those checks;
- "audit" (typed in a chat, or mentioned in a channel) shows an admin the newest audit records;
- a turn has a time budget (`TRIAGE_TURN_BUDGET_SECONDS`, above the checks' own 90 s): past it the turn is
  stopped, the user told, and the state kept as it was before the turn.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

from bot.access import AccessPolicy, GroupMembership, Principal
from bot.audit import AuditLog, AuditRecord, format_records
from dialogs.api import Conversation, Emit, Inbound, Outbound, State
from dialogs.bounds import collapse
from dialogs.markdown import escape_markdown

__all__ = [
    "AUDIT_COMMANDS",
    "NOT_ADMIN",
    "NOT_HELPDESK",
    "OUT_OF_SCOPE",
    "OVER_BUDGET",
    "GuardedConversation",
    "MailboxScope",
    "principal_of",
]

logger = logging.getLogger(__name__)

AUDIT_COMMANDS = frozenset({"audit", "audit log", "show audit", "show audit log", "show the audit log"})
AUDIT_SHOWN = 20
NOT_HELPDESK = (
    "Sorry, you are not on the list of people who may run triages with this bot. Ask the Exchange team to add "
    "you (your Entra object id: {object_id})."
)
NOT_ADMIN = "Only the bot's admins can read the audit log."
OVER_BUDGET = (
    "That took longer than {seconds:g} seconds, so I stopped it; nothing was changed. Please try again, or "
    "say status to see where we are."
)
OUT_OF_SCOPE = (
    "I may only look into the mailboxes of {scope}; {mailboxes} is outside them, so I did not check the pair's "
    "mailboxes."
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def principal_of(inbound: Inbound) -> Principal:
    """The sender: `user_id` is the Entra object id when Teams gave one (a Teams id `29:...` otherwise)."""
    object_id = inbound.user_id.lower() if _GUID.match(inbound.user_id) else ""
    return Principal(object_id=object_id, name=collapse(inbound.user_name, 200), tenant_id=inbound.tenant_id)


class MailboxScope:
    """The mailboxes triages may read: addresses (alice@contoso.com), domains (@contoso.com) and the members of
    Entra groups (their object ids; membership by the mailbox's address, through `groups`); empty: any."""

    def __init__(self, entries: Sequence[str], groups: GroupMembership | None = None) -> None:
        self._groups_of = groups
        self._group_ids = frozenset(e.lower() for e in entries if _GUID.match(e))
        self._addresses = frozenset(e.lower() for e in entries if "@" in e and not e.startswith("@"))
        self._domains = frozenset(e.lower() for e in entries if e.startswith("@"))

    @property
    def restricted(self) -> bool:
        return bool(self._addresses or self._domains or self._group_ids)

    async def allows(self, mailbox: str) -> bool:
        if not self.restricted:
            return True
        address = mailbox.lower()
        if address in self._addresses or "@" + address.rpartition("@")[2] in self._domains:
            return True
        if self._group_ids and self._groups_of is not None:
            return bool(await self._groups_of.member_of(address, self._group_ids))
        return False

    def describe(self) -> str:
        groups = [f"the members of group {g}" for g in sorted(self._group_ids)]
        return ", ".join([*sorted(self._addresses | self._domains), *groups])


class GuardedConversation:
    """A `dialogs.api.Conversation` that enforces roles and writes the audit log around another one."""

    def __init__(
        self,
        inner: Conversation,
        policy: AccessPolicy,
        audit: AuditLog,
        scope: MailboxScope | None = None,
        *,
        budget_seconds: float = 300.0,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._audit = audit
        self._scope = scope or MailboxScope(())
        self._budget = budget_seconds

    async def handle(self, state: State, inbound: Inbound, emit: Emit) -> State:
        if inbound.kind in ("added_to_team", "installed"):  # a welcome: nothing read, nothing run
            return await self._inner.handle(state, inbound, emit)
        principal = principal_of(inbound)
        if collapse(inbound.text, 40).lower().rstrip(".!") in AUDIT_COMMANDS and inbound.kind != "submit":
            await self._show_audit(principal, inbound, emit)
            return state
        if not await self._policy.holds(principal, "helpdesk"):
            await self._audit.append(_record("triage-refused", principal, inbound))
            await emit(
                Outbound(kind="text", text=NOT_HELPDESK.format(object_id=principal.object_id or "none"))
            )
            return state

        async def guarded(outbound: Outbound) -> str | None:
            if outbound.kind == "audit":
                return await self._mailbox_read(principal, inbound, outbound)
            return await emit(outbound)

        try:
            async with asyncio.timeout(self._budget):
                return await self._inner.handle(state, inbound, guarded)
        except TimeoutError:
            logger.warning(
                "a turn in %s ran over its %g s budget; stopped", inbound.conversation_id, self._budget
            )
            await emit(Outbound(kind="text", text=OVER_BUDGET.format(seconds=self._budget)))
            return state

    async def _mailbox_read(self, principal: Principal, inbound: Inbound, outbound: Outbound) -> str | None:
        """Record the read before it happens; answer why it may not happen, or None."""
        detail = outbound.audit or {}
        mailboxes = tuple(str(m) for m in _strings(detail.get("mailboxes")))
        checks = tuple(str(c) for c in _strings(detail.get("checks")))
        outside = [m for m in mailboxes if not await self._scope.allows(m)]
        kind = "mailbox-read-refused" if outside else str(detail.get("kind") or "mailbox-read")
        await self._audit.append(_record(kind, principal, inbound, mailboxes=mailboxes, checks=checks))
        if outside:
            return OUT_OF_SCOPE.format(scope=self._scope.describe(), mailboxes=" and ".join(outside))
        return None

    async def _show_audit(self, principal: Principal, inbound: Inbound, emit: Emit) -> None:
        if not await self._policy.holds(principal, "admin"):
            await emit(Outbound(kind="text", text=NOT_ADMIN))
            return
        records = await self._audit.read(limit=AUDIT_SHOWN)
        await self._audit.append(_record("audit-read", principal, inbound))
        if not records:
            await emit(Outbound(kind="text", text="The audit log is empty."))
            return
        lines = [escape_markdown(line) for line in format_records(records)]
        text = f"The newest {len(lines)} audit records (newest first):\n\n" + "\n\n".join(lines)
        await emit(Outbound(kind="text", text=text))


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _record(
    kind: str,
    principal: Principal,
    inbound: Inbound,
    *,
    mailboxes: tuple[str, ...] = (),
    checks: tuple[str, ...] = (),
) -> AuditRecord:
    return AuditRecord(
        kind=kind,
        actor=principal.object_id,
        actor_name=principal.name,
        mailboxes=mailboxes,
        checks=checks,
        conversation=inbound.conversation_id,
        tenant=principal.tenant_id,
    )
