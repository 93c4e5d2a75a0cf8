"""Fix it in Teams: a remediation proposed from the result card, approved by an approver, applied, verified.

The host hands every fix action (`dialogs.fix_card.FIX_ACTIONS`) here, in the job of the activity that
carried it (a proactive turn, outside the HTTP request), never to the conversation:

- **Fix it** (requester's chat): the remediation must be enabled and the triage finished; the `Fixer` (a port
  the composition root gives, over the write account) builds the plan from the triage's facts and asks
  Exchange for its -WhatIf preview. The proposal (`fix/{id}` in the store: the approval rules' record, the
  exact plan and its fingerprint, who asked, until when) is stored and audited, and the approval card is posted
  as a new thread in the escalation channel (or, with none set, in the requester's chat, saying that an
  approver has to approve it there).
- **Approve / Reject** (the approval card): `checks.approvals.decide` refuses a non-approver, the requester
  approving their own change (unless configured), an expired or already decided approval, and a plan whose
  fingerprint is not the one proposed (a tampered card, or facts that changed since: the plan is built again
  from the triage's current facts). The decision is written with compare-and-set on the proposal, so of two
  approvers pressing at once one wins and the other is told it was decided. Approved, the plan as proposed is
  applied step by step; the requester's conversation then re-runs the cause's checks (bypassing any cache)
  and updates its result card in place; the approval card is updated in place with the outcome.
  An approver pressing an approval whose time has passed is refused, and the approval is marked expired:
  both cards say so in place (no Approve or Reject; the requester asks again from the result card).
- **Roll back** (either card, an approver): the plan's rollback steps, after a change that ran.

Every proposal, decision, refusal, step (with its redacted output), verification and rollback is an audit
record with the fix's id in `detail.fix` (`triage audit --fix ID`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from microsoft_agents.activity import Activity, ConversationReference
from microsoft_agents.hosting.core import (
    ChannelServiceAdapter,
    ClaimsIdentity,
    MessageFactory,
    OutboundHostValidator,
    TurnContext,
)

from bot.access import AccessPolicy, Principal
from bot.audit import AuditLog, AuditRecord
from bot.escalation_channel import ChannelTarget, Escalations, channel_reference, principal_from_activity
from bot.outbound import card_activity
from bot.storage import ConflictError, Store
from checks.approvals import DEFAULT_TTL_SECONDS, Approval, ApprovalRefused, decide, lapse, propose
from dialogs.api import Inbound
from dialogs.fix_card import (
    FIX,
    FIX_APPROVE,
    FIX_REJECT,
    FIX_ROLLBACK,
    FIX_UPDATE,
    approval_card,
)
from knowledge.jsonvalue import JsonObject

__all__ = [
    "FIX_PREFIX",
    "FixDesk",
    "FixUnavailable",
    "Fixer",
    "OffersFixes",
    "StepAudit",
]

logger = logging.getLogger(__name__)

FIX_PREFIX = "fix/"
TEAMS = "msteams"

NOT_HELPDESK = "Only the helpdesk can ask for a fix."
NOT_ENABLED = (
    "{remediation} is not enabled for applying from Teams (write.enabled_remediations): nothing was changed. "
    "The commands are on the result card for an Exchange admin."
)
NOT_FINISHED = "A fix can only be asked for from a finished triage's result: nothing was changed."
UNKNOWN_FIX = "I have no record of that fix (it may have been removed after its retention time)."
NOT_APPROVER_ROLLBACK = "Only an approver can roll a fix back, and you are not one."
NOTHING_TO_ROLL_BACK = "There is nothing to roll back for this fix."
ROLLBACK_UNDER_WAY = "This fix is being rolled back (or was already)."
ALREADY_ASKED = "A fix for this triage is already waiting for approval or being applied (see {where})."
UNDER_WAY = frozenset({"pending", "approved", "applied", "rolling-back"})
FOR_HOST_ONLY = "That button is not one you can press."
NO_CHANNEL_LINE = (
    "No escalation channel is set, so the approval request is here: an approver ({approvers}) has to press "
    "Approve on it. Nothing changes until then."
)


class FixUnavailable(Exception):
    """The fix cannot be proposed or checked (the facts do not fill it, the allow-list refuses it, no write
    access for that side); the message says why, for the person who pressed."""


class StepAudit(Protocol):
    """Where the applying records each step (`checks.fixing.AuditLog`)."""

    async def append(self, kind: str, **fields: Any) -> None: ...


class Fixer(Protocol):
    """The write side the composition root gives the host: plans, previews and applies over the write
    account. The bot never sees a backend."""

    @property
    def fixable(self) -> frozenset[str]:
        """The remediations that may be applied (enabled, and with a write account for them)."""
        ...

    @property
    def approvers(self) -> frozenset[str]:
        """Entra object ids (lower case) the configuration names as approvers, besides the approver role."""
        ...

    @property
    def requester_may_approve(self) -> bool: ...

    async def propose(self, state: JsonObject, remediation: str) -> JsonObject:
        """The plan for `remediation` on the triage `state`'s facts, and Exchange's -WhatIf preview:
        {plan, fingerprint, cause, cause_title, summary, risk, preview_text, steps, preview, rollback,
        verify_checks, servers, mailboxes}. Raises FixUnavailable."""
        ...

    async def fingerprint(self, state: JsonObject, remediation: str) -> str:
        """The fingerprint of the plan the triage's current facts give. Raises FixUnavailable."""
        ...

    async def apply(self, plan: JsonObject, audit: StepAudit, *, rollback: bool = False) -> list[JsonObject]:
        """Run the plan's steps (or its rollback) in order, stopping at the first that fails: each step's
        {step, status, detail}."""
        ...


class OffersFixes(Protocol):
    """A conversation the composition root built together with a `Fixer` (None: no write account)."""

    fixer: Fixer | None


RunTurn = Callable[[TurnContext, str, Inbound, str], Awaitable[None]]


def _utc_words(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _state_key(reference: Mapping[str, Any]) -> str:
    conversation = reference.get("conversation") or {}
    return f"conv/{reference.get('channelId') or TEAMS}/{conversation.get('id') or ''}"


class FixDesk:
    """Proposals, decisions, applying and rollbacks of fixes asked for from result cards."""

    def __init__(
        self,
        store: Store,
        fixer: Fixer,
        policy: AccessPolicy,
        audit: AuditLog,
        escalations: Escalations,
        adapter: ChannelServiceAdapter,
        identity: ClaimsIdentity,
        hosts: OutboundHostValidator,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._fixer = fixer
        self._policy = policy
        self._audit = audit
        self._escalations = escalations
        self._adapter = adapter
        self._identity = identity
        self._hosts = hosts
        self._ttl = ttl_seconds
        self._clock = clock
        self._requester_may_approve = False

    def configure(
        self, *, ttl_seconds: float, clock: Callable[[], float], requester_may_approve: bool = False
    ) -> None:
        """How long approvals stay open, the clock they expire by, and whether the person who asked for a fix
        may approve it too (`TRIAGE_FIX_REQUESTER_MAY_APPROVE`, besides the write section's own setting)."""
        self._ttl = ttl_seconds
        self._clock = clock
        self._requester_may_approve = requester_may_approve

    @property
    def fixable(self) -> frozenset[str]:
        return self._fixer.fixable

    async def handle(
        self, context: TurnContext, activity: Activity, inbound: Inbound, run_turn: RunTurn
    ) -> None:
        """One fix action, in the job of the activity that carried it."""
        value = inbound.value
        action = str(value.get("action") or value.get("verb") or "")
        principal = principal_from_activity(activity)
        if action == FIX:
            await self._request(context, activity, inbound, principal, run_turn)
        elif action in (FIX_APPROVE, FIX_REJECT):
            await self._decide(context, inbound, principal, run_turn, approve=action == FIX_APPROVE)
        elif action == FIX_ROLLBACK:
            await self._roll_back(context, inbound, principal, run_turn)
        else:  # FIX_UPDATE comes from the host only, never from a card someone pressed
            await self._refuse(context, principal, inbound, FOR_HOST_ONLY, fix_id="")

    # Fix it

    async def _request(
        self,
        context: TurnContext,
        activity: Activity,
        inbound: Inbound,
        principal: Principal,
        run_turn: RunTurn,
    ) -> None:
        remediation = str(inbound.value.get("remediation") or "")[:100]
        if not await self._policy.holds(principal, "helpdesk"):
            await self._refuse(context, principal, inbound, NOT_HELPDESK, remediation=remediation)
            return
        if remediation not in self._fixer.fixable:
            await self._refuse(
                context, principal, inbound, NOT_ENABLED.format(remediation=remediation or "That fix"),
                remediation=remediation,
            )  # fmt: skip
            return
        reference = activity.get_conversation_reference().model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        key = _state_key(reference)
        state = await self._conversation_state(key)
        if state.get("phase") != "done":
            await self._refuse(context, principal, inbound, NOT_FINISHED, remediation=remediation)
            return
        asked = state.get("fix")
        if (
            isinstance(asked, dict)
            and asked.get("triage") == state.get("id")
            and asked.get("status") in UNDER_WAY
            and not await self._lapsed(str(asked.get("id") or ""), principal, inbound)
        ):
            why = ALREADY_ASKED.format(where=asked.get("where") or "the approval card")
            await self._refuse(
                context, principal, inbound, why, remediation=remediation, fix_id=str(asked.get("id") or "")
            )
            return
        try:
            offer = await self._fixer.propose(state, remediation)
        except FixUnavailable as why:
            await self._refuse(context, principal, inbound, f"{why}", remediation=remediation)
            return
        now = self._clock()
        plan = offer.get("plan")
        approval = propose(
            remediation=remediation, cause=str(offer.get("cause") or ""), fingerprint=str(offer["fingerprint"]),
            plan=plan if isinstance(plan, dict) else {}, requester=principal.object_id or inbound.user_id,
            requester_name=principal.name, conversation=key, now=now, ttl_seconds=self._ttl,
        )  # fmt: skip
        record: dict[str, Any] = {
            **{k: v for k, v in offer.items() if k != "plan"},
            "id": approval.id,
            "triage": str(state.get("id") or ""),
            "remediation": remediation,
            "status": "pending",
            "requester_name": principal.name or "someone",
            "expires": _utc_words(approval.expires_at),
            "applied": [],
            "checks": [],
        }
        await self._record("fix-proposed", principal, record, inbound.conversation_id,
                           steps=record.get("steps"), fingerprint=approval.fingerprint)  # fmt: skip
        target = await self._escalations.target()
        bot_id = activity.recipient.id if activity.recipient else ""
        location = await self._post_thread(target, record, bot_id) if target is not None else None
        if location is None:
            record["where"] = "this chat"
            approvers = "someone with the approver role"
            await context.send_activity(MessageFactory.text(NO_CHANNEL_LINE.format(approvers=approvers)))
            sent = await context.send_activity(card_activity(approval_card(record)))
            location = {
                "reference": reference,
                "activity": str(getattr(sent, "id", "") or ""),
                "label": "this chat",
            }
        document = {
            "approval": approval.as_dict(),
            "record": record,
            "requester": {"key": key, "reference": reference, "user_id": inbound.user_id},
            "card": location,
        }
        await self._store.write(f"{FIX_PREFIX}{approval.id}", document, None)
        await self._tell_requester(context, document, record, run_turn, activity.id or "")

    # Approve / Reject

    async def _decide(
        self,
        context: TurnContext,
        inbound: Inbound,
        principal: Principal,
        run_turn: RunTurn,
        *,
        approve: bool,
    ) -> None:
        fix_id = str(inbound.value.get("fix") or "")[:64]
        document, etag = await self._load(fix_id)
        if etag is None:
            await self._refuse(context, principal, inbound, UNKNOWN_FIX, fix_id=fix_id)
            return
        approval = Approval.from_dict(document["approval"])
        if approve and approval.remediation not in self._fixer.fixable:
            why = NOT_ENABLED.format(remediation=approval.remediation)
            await self._refuse(context, principal, inbound, why, fix_id=fix_id)
            return
        fingerprint = approval.fingerprint
        shown = str(inbound.value.get("fingerprint") or "")
        if approve:
            # The card's own (a tampered card names another plan), then the plan the facts give now.
            fingerprint = shown if shown != approval.fingerprint else await self._current(document)
        is_approver = await self._policy.holds(principal, "approver") or (
            bool(principal.object_id) and principal.object_id in self._fixer.approvers
        )
        try:
            decided = decide(
                approval, approve=approve, actor=principal.object_id or inbound.user_id, actor_name=principal.name,
                actor_is_approver=is_approver, fingerprint=fingerprint, now=self._clock(),
                requester_may_approve=self._fixer.requester_may_approve or self._requester_may_approve,
            )  # fmt: skip
        except ApprovalRefused as refused:
            await self._refuse(context, principal, inbound, str(refused), fix_id=fix_id)
            if is_approver:
                await self._lapse(document, etag, approval, principal, inbound, run_turn)
            return
        record = dict(document["record"])
        record.update(
            status="approved" if approve else "rejected", decided_by_name=principal.name or "an approver"
        )
        document = {**document, "approval": decided.as_dict(), "record": record}
        try:
            etag = await self._store.write(f"{FIX_PREFIX}{fix_id}", document, etag)
        except ConflictError:
            # Someone else decided between our read and our write: theirs stands.
            latest, _ = await self._load(fix_id)
            winner = Approval.from_dict(latest["approval"]) if latest else approval
            why = f"This fix was already decided ({winner.status} by {winner.decided_by_name or 'someone'})."
            await self._refuse(context, principal, inbound, why, fix_id=fix_id)
            return
        await self._record("fix-approved" if approve else "fix-rejected", principal, record, inbound.conversation_id,
                           fingerprint=approval.fingerprint)  # fmt: skip
        await self._update_card(document)
        if not approve:
            await self._finish(document, etag, run_turn)
            return
        plan = document["approval"].get("plan") or {}
        applied = await self._apply(plan, self._step_audit(principal, record, inbound.conversation_id))
        record["applied"] = applied
        completed = bool(applied) and all(s.get("status") == "done" for s in applied)
        record["status"] = "applied" if completed else "failed"
        document["record"] = record
        etag = await self._store.write(f"{FIX_PREFIX}{fix_id}", document, etag)
        await self._finish(document, etag, run_turn, verify=completed, actor=principal)

    async def _lapse(
        self,
        document: dict[str, Any],
        etag: str,
        approval: Approval,
        principal: Principal,
        inbound: Inbound,
        run_turn: RunTurn,
    ) -> None:
        """An approver pressed a pending approval whose time has passed: it is marked expired (compare-and-set,
        once), audited, and both cards say so in place (no Approve or Reject; ask again from the result card)."""
        lapsed = lapse(approval, now=self._clock())
        if lapsed is approval:
            return  # refused for another reason, or already marked
        record = {**document["record"], "status": "expired"}
        document = {**document, "approval": lapsed.as_dict(), "record": record}
        try:
            etag = await self._store.write(f"{FIX_PREFIX}{record['id']}", document, etag)
        except ConflictError:
            return  # someone else decided or marked it in between: theirs stands
        await self._record(
            "fix-expired", principal, record, inbound.conversation_id, expires=record.get("expires")
        )
        await self._finish(document, etag, run_turn)

    async def _lapsed(self, fix_id: str, principal: Principal, inbound: Inbound) -> bool:
        """Whether the fix asked for before is a pending approval whose time has passed: then it is marked
        expired (audited, its approval card updated in place) and the requester may ask again."""
        document, etag = await self._load(fix_id)
        if etag is None:
            return False
        approval = Approval.from_dict(document["approval"])
        lapsed = lapse(approval, now=self._clock())
        if lapsed is approval:
            return False
        record = {**document["record"], "status": "expired"}
        document = {**document, "approval": lapsed.as_dict(), "record": record}
        try:
            await self._store.write(f"{FIX_PREFIX}{fix_id}", document, etag)
        except ConflictError:
            return False  # decided in between: that decision stands, and the fix is under way
        await self._record(
            "fix-expired", principal, record, inbound.conversation_id, expires=record.get("expires")
        )
        await self._update_card(document)
        return True

    async def _current(self, document: Mapping[str, Any]) -> str:
        """The fingerprint of the plan the requester's triage gives now ("" when it gives none)."""
        state = await self._conversation_state(str(document["requester"]["key"]))
        if str(state.get("id") or "") != str(document["record"].get("triage") or ""):
            return ""
        try:
            return await self._fixer.fingerprint(state, str(document["record"]["remediation"]))
        except FixUnavailable:
            return ""

    # Roll back

    async def _roll_back(
        self, context: TurnContext, inbound: Inbound, principal: Principal, run_turn: RunTurn
    ) -> None:
        fix_id = str(inbound.value.get("fix") or "")[:64]
        document, etag = await self._load(fix_id)
        if etag is None:
            await self._refuse(context, principal, inbound, UNKNOWN_FIX, fix_id=fix_id)
            return
        if not (
            await self._policy.holds(principal, "approver") or principal.object_id in self._fixer.approvers
        ):
            await self._refuse(context, principal, inbound, NOT_APPROVER_ROLLBACK, fix_id=fix_id)
            return
        record = dict(document["record"])
        plan = document["approval"].get("plan") or {}
        ran = any(s.get("status") == "done" for s in record.get("applied") or [])
        if (
            record.get("status") not in ("fixed", "not-fixed", "failed")
            or not plan.get("rollback")
            or not ran
        ):
            why = (
                ROLLBACK_UNDER_WAY
                if str(record.get("status", "")).startswith("roll")
                else NOTHING_TO_ROLL_BACK
            )
            await self._refuse(context, principal, inbound, why, fix_id=fix_id)
            return
        record["status"] = "rolling-back"
        try:
            etag = await self._store.write(f"{FIX_PREFIX}{fix_id}", {**document, "record": record}, etag)
        except ConflictError:
            await self._refuse(context, principal, inbound, ROLLBACK_UNDER_WAY, fix_id=fix_id)
            return
        await self._record("fix-rollback", principal, record, inbound.conversation_id)
        steps = await self._apply(
            plan, self._step_audit(principal, record, inbound.conversation_id), rollback=True
        )
        done = bool(steps) and all(s.get("status") == "done" for s in steps)
        record.update(
            status="rolled-back" if done else "rollback-failed",
            rolled_back_by=principal.name or "an approver",
        )
        record["applied"] = [
            *record.get("applied", []),
            *({**s, "step": f"rollback: {s.get('step')}"} for s in steps),
        ]
        await self._record(
            "fix-rolled-back" if done else "fix-rollback-failed", principal, record, inbound.conversation_id
        )
        document = {**document, "record": record}
        etag = await self._store.write(f"{FIX_PREFIX}{fix_id}", document, etag)
        await self._finish(document, etag, run_turn)

    async def _apply(self, plan: JsonObject, audit: StepAudit, *, rollback: bool = False) -> list[JsonObject]:
        """The steps run; a write side that could not even start is one failed step saying so."""
        try:
            return await self._fixer.apply(plan, audit, rollback=rollback)
        except Exception as error:
            logger.exception("the write side failed before its first step")
            await audit.append("step.failed", step="(the plan)", detail=type(error).__name__)
            return [
                {"step": "(the plan)", "status": "failed", "detail": "the write could not start; nothing ran"}
            ]

    # Both cards

    async def _finish(
        self,
        document: dict[str, Any],
        etag: str,
        run_turn: RunTurn,
        *,
        verify: bool = False,
        actor: Principal | None = None,
    ) -> None:
        """Tell the requester's conversation (which re-runs the checks after an applied change and updates
        the result card), then update the approval card with the outcome."""
        record = document["record"]
        try:
            await self._in_conversation(
                document["requester"]["reference"],
                lambda context: self._tell_requester(context, document, record, run_turn, ""),
            )
        except Exception:  # the requester's chat is gone or failed: the approval card still tells
            logger.exception("could not report fix %s to the requester's conversation", record.get("id"))
        if verify:
            state = await self._conversation_state(str(document["requester"]["key"]))
            reported = state.get("fix")
            if (
                isinstance(reported, dict)
                and reported.get("id") == record["id"]
                and reported.get("status") in ("fixed", "not-fixed")
            ):
                record = {**record, "status": reported["status"], "checks": reported.get("checks") or []}
            else:
                record = {
                    **record,
                    "status": "not-fixed",
                    "checks": [],
                    "note": "the triage moved on: not checked again",
                }
            document["record"] = record
            etag = await self._store.write(f"{FIX_PREFIX}{record['id']}", document, etag)
            checks = {
                str(c.get("id")): str(c.get("status"))
                for c in record.get("checks") or []
                if isinstance(c, dict)
            }
            await self._record(
                "fix-verified", actor or Principal(""), record, str(document["requester"]["key"]),
                fixed=record["status"] == "fixed", results=checks,
            )  # fmt: skip
        await self._update_card(document)

    async def _tell_requester(
        self,
        context: TurnContext,
        document: Mapping[str, Any],
        record: Mapping[str, Any],
        run_turn: RunTurn,
        activity_id: str,
    ) -> None:
        requester = document["requester"]
        reference = requester["reference"]
        conversation = reference.get("conversation") or {}
        kind = conversation.get("conversationType")
        inbound = Inbound(
            kind="submit",
            conversation_id=str(conversation.get("id") or ""),
            conversation_type="groupChat"
            if kind == "groupChat"
            else "channel"
            if kind == "channel"
            else "personal",
            user_id=str(requester.get("user_id") or ""),
            user_name=str(record.get("requester_name") or ""),
            value={"action": FIX_UPDATE, "fix": dict(record)},
            tenant_id=str(conversation.get("tenantId") or ""),
        )
        await run_turn(context, str(requester["key"]), inbound, activity_id)

    async def _update_card(self, document: Mapping[str, Any]) -> None:
        location = document.get("card") or {}
        activity_id = str(location.get("activity") or "")
        if not activity_id:
            return
        update = card_activity(approval_card(document["record"]))
        update.id = activity_id

        async def send(context: TurnContext) -> None:
            await context.update_activity(update)

        try:
            await self._in_conversation(location["reference"], send)
        except Exception:
            logger.exception("could not update the approval card of fix %s", document["record"].get("id"))

    async def _post_thread(
        self, target: ChannelTarget, record: dict[str, Any], bot_id: str
    ) -> dict[str, Any] | None:
        """The approval card as a new thread in `target`; where it is (to update it later), or None."""
        if not self._hosts.is_allowed(target.service_url):
            logger.warning("approval not posted: %s is not an allowed service host", target.label)
            return None
        record["where"] = target.label
        target = replace(target, bot_id=target.bot_id or bot_id)  # the bot the cards come from
        post = await self._escalations.start_thread(approval_card(record), target)
        if post is None or not post.conversation_id:
            return None
        return {
            "reference": channel_reference(target, post.conversation_id),
            "activity": post.activity_id,
            "label": target.label,
        }

    async def _in_conversation(
        self, reference: Mapping[str, Any], turn: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        """Run `turn` in a proactive turn on `reference`; its error is raised here, never handed to the
        adapter's turn-error handler (which would apologise in that conversation)."""
        continuation = ConversationReference.model_validate(reference).get_continuation_activity()
        failures: list[Exception] = []

        async def guarded(context: TurnContext) -> None:
            try:
                await turn(context)
            except Exception as error:
                failures.append(error)

        await self._adapter.continue_conversation_with_claims(self._identity, continuation, guarded)
        if failures:
            raise failures[0]

    # Records

    async def _conversation_state(self, key: str) -> JsonObject:
        document, _ = await self._store.read(key)
        return {k: v for k, v in document.items() if k != "_host"}

    async def _load(self, fix_id: str) -> tuple[dict[str, Any], str | None]:
        if not fix_id or not fix_id.replace("-", "").replace("_", "").isalnum():
            return {}, None
        return await self._store.read(f"{FIX_PREFIX}{fix_id}")

    async def _refuse(
        self,
        context: TurnContext,
        principal: Principal,
        inbound: Inbound,
        why: str,
        *,
        fix_id: str = "",
        remediation: str = "",
    ) -> None:
        await self._audit.append(
            AuditRecord(
                "fix-refused", principal.object_id, principal.name, conversation=inbound.conversation_id,
                tenant=principal.tenant_id,
                detail={"fix": fix_id, "remediation": remediation, "action": str(inbound.value.get("action") or inbound.value.get("verb") or ""), "reason": why},
            )
        )  # fmt: skip
        logger.info("fix action refused for %s: %s", principal.object_id or "?", why)
        await context.send_activity(MessageFactory.text(why))

    async def _record(
        self, kind: str, principal: Principal, record: Mapping[str, Any], conversation: str, **detail: Any
    ) -> str:
        return await self._audit.append(
            AuditRecord(
                kind, principal.object_id, principal.name,
                mailboxes=tuple(str(m) for m in record.get("mailboxes") or []),
                conversation=conversation, tenant=principal.tenant_id,
                detail={"fix": record.get("id"), "remediation": record.get("remediation"), "cause": record.get("cause"),
                        "servers": list(record.get("servers") or []), "status": record.get("status"), **detail},
            )
        )  # fmt: skip

    def _step_audit(self, principal: Principal, record: Mapping[str, Any], conversation: str) -> StepAudit:
        desk = self

        class Steps:
            async def append(self, kind: str, **fields: Any) -> None:
                await desk._record(f"fix-{kind}", principal, record, conversation, **fields)

        return Steps()
