"""The write side the bot gets as a port (`bot.fixes.Fixer`): plans from a triage's facts, -WhatIf previews and
applying over the separate write account, wired here (the composition root) so the bot never sees a backend.

Against the lab every remediation that declares how it is applied is enabled, with the lab's writer account;
against a real organisation only those the configuration's `write.enabled_remediations` lists, with the
`write` account, and approvers from `write.approvers` besides the bot's approver role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from bot.fixes import FixUnavailable, StepAudit
from checks.fixing import StepWriter, apply_plan, preview_plan
from checks.writes import plan_cmdlets, plan_problems
from dialogs.findings import find
from dialogs.state import StateError, load
from knowledge.fix_plan import FixPlan, plan_fix
from knowledge.jsonvalue import JsonObject
from knowledge.loader import KnowledgeBase

__all__ = ["WriteFixer", "fixer_for_config", "fixer_for_lab"]


class WriteFixer:
    """`bot.fixes.Fixer` over write-account settings (`triage.fix.lab_writers` / `live_writers`)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        writers: dict[str, Any],
        enabled: Iterable[str] | None,
        *,
        approvers: Iterable[str] = (),
        requester_may_approve: bool = False,
    ) -> None:
        self._kb = kb
        self._writers = writers
        applicable = {r.id for r in kb.remediations.values() if r.apply is not None}
        self._fixable = frozenset(applicable if enabled is None else applicable & set(enabled))
        self._approvers = frozenset(a.lower() for a in approvers)
        self._requester_may_approve = requester_may_approve

    @property
    def fixable(self) -> frozenset[str]:
        return self._fixable

    @property
    def approvers(self) -> frozenset[str]:
        return self._approvers

    @property
    def requester_may_approve(self) -> bool:
        return self._requester_may_approve

    def _plan(self, state: JsonObject, remediation_id: str) -> tuple[FixPlan, Any, Any]:
        try:
            triage = load(state)
        except StateError:
            raise FixUnavailable("This triage cannot be read any more: start it again.") from None
        remediation = self._kb.remediations.get(remediation_id)
        if remediation is None or remediation.apply is None or remediation_id not in self._fixable:
            raise FixUnavailable(f"{remediation_id} cannot be applied from Teams: nothing was changed.")
        findings = find(self._kb, triage)
        best = findings.best
        if best is None or not findings.confident or remediation_id not in {r.id for r in best.remediations}:
            raise FixUnavailable(
                "The checks no longer point to the cause this fix is for: nothing was changed. Run the triage "
                "again."
            )
        plan = plan_fix(remediation, findings.assessment.facts)
        if plan is None or not plan.ready:
            missing = ", ".join(plan.missing) if plan is not None else "its parameters"
            raise FixUnavailable(f"The checks did not establish {missing}: nothing was changed.")
        if problems := plan_problems(plan):
            raise FixUnavailable(
                f"The write allow-list refuses this plan ({problems[0]}): nothing was changed."
            )
        if plan.side not in self._writers:
            raise FixUnavailable(
                f"No write access is configured for the {plan.side} side: nothing was changed."
            )
        if any(s.template for s in (*plan.steps, *plan.rollback)) and "host" not in self._writers:
            raise FixUnavailable(
                "No write access to the Windows hosts (WinRM) is configured: nothing was changed."
            )
        return plan, best, findings

    @asynccontextmanager
    async def _writer(self, plan: FixPlan) -> AsyncIterator[StepWriter]:
        from checks.backends.psrp_write import PsrpWriter
        from checks.backends.winrm_write import WinrmWriter

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-fix") as executor:
            allowed = plan_cmdlets(plan)
            host = self._writers.get("host")
            writer = StepWriter(
                PsrpWriter(self._writers[plan.side], executor, allowed),
                WinrmWriter(host, executor, allowed) if host is not None else None,
            )
            try:
                yield writer
            finally:
                await writer.close()

    async def propose(self, state: JsonObject, remediation: str) -> JsonObject:
        plan, cause, findings = self._plan(state, remediation)
        async with self._writer(plan) as writer:
            preview = await preview_plan(plan, writer)
        facts = findings.assessment.facts
        mailboxes = [str(facts.get(n)) for n in ("requester", "target") if facts.get(n)]
        return {
            "plan": plan.as_dict(),
            "fingerprint": plan.fingerprint(),
            "cause": cause.id,
            "cause_title": cause.title,
            "summary": plan.summary,
            "risk": plan.risk,
            "preview_text": plan.preview,
            "steps": [s.text() for s in plan.steps],
            "preview": [{"step": r.text, "status": r.status, "detail": r.detail} for r in preview.steps],
            "rollback": [s.text() for s in plan.rollback],
            "verify_checks": list(plan.verify_checks),
            "servers": _servers(plan),
            "mailboxes": list(mailboxes),
        }

    async def fingerprint(self, state: JsonObject, remediation: str) -> str:
        return self._plan(state, remediation)[0].fingerprint()

    async def apply(self, plan: JsonObject, audit: StepAudit, *, rollback: bool = False) -> list[JsonObject]:
        approved = FixPlan.from_dict(dict(plan))
        if plan_problems(approved):
            return [{"step": "(the plan)", "status": "failed", "detail": "refused by the write allow-list"}]
        async with self._writer(approved) as writer:
            run = await apply_plan(
                approved, writer, audit, steps=approved.rollback if rollback else None,
                kind="rollback" if rollback else "step",
            )  # fmt: skip
        return [dict(row) for row in run.as_dict()]


def _servers(plan: FixPlan) -> list[str]:
    """The servers the steps change, as named in their parameters (the organisation itself: none)."""
    found: list[str] = []
    for step in plan.steps:
        server = step.params.get("Server")
        identity = step.params.get("Identity")
        if isinstance(server, str):
            found.append(server)
        elif isinstance(identity, str) and "\\" in identity:
            found.append(identity.split("\\", 1)[0])
    return list(dict.fromkeys(found))


def fixer_for_lab(endpoints: dict[str, Any], kb: KnowledgeBase, **options: Any) -> WriteFixer:
    """Every applicable remediation, with the lab's writer account (the lab is ours to change)."""
    from triage.writers import lab_writers

    return WriteFixer(kb, lab_writers(endpoints), None, **options)


def fixer_for_config(config: Any, kb: KnowledgeBase) -> WriteFixer | None:
    """The configuration's `write:` section's remediations and approvers; None without one."""
    from triage.writers import live_writers

    write = getattr(config, "write", None)
    if write is None or getattr(config, "exchange", None) is None:
        return None
    return WriteFixer(
        kb, live_writers(config), write.enabled_remediations, approvers=write.approvers,
        requester_may_approve=write.requester_may_approve,
    )  # fmt: skip
