"""The runbook a triage hands to `publish_runbook`: the likely cause's remediations, filled with the
values the checks found. The shape is the one the host's remediation page validates (bot/runbook_schema.py)."""

from __future__ import annotations

from typing import Any

from dialogs.findings import Findings
from dialogs.state import TriageState
from knowledge.loader import KnowledgeBase

__all__ = ["build_runbook"]


def _summary(kb: KnowledgeBase, state: TriageState, findings: Findings) -> str:
    best = findings.best
    assert best is not None
    said = state.said
    parts = [kb.causes[best.id].explanation.strip()]
    if said.get("requester") or said.get("target"):
        pair = " → ".join(a for a in (said.get("requester"), said.get("target")) if a)
        parts.append(f"Triage {state.id} for {pair}.")
    parts.append("Found: " + " ".join(best.evidence))
    return " ".join(parts)[:4000]


def build_runbook(kb: KnowledgeBase, state: TriageState, findings: Findings) -> dict[str, Any] | None:
    """The runbook for the likely cause, or None when there is no confident cause with a remediation."""
    best = findings.best
    if best is None or not findings.confident or not best.remediations:
        return None
    steps = []
    parameters: dict[str, str] = {}
    for remediation in best.remediations:
        steps.append(
            {
                "summary": remediation.summary,
                "commands": remediation.commands[:50],
                "changes": remediation.changes,
                "risk": (remediation.risk + (f". {remediation.notes}" if remediation.notes else ""))[:500],
                "verify": remediation.verify[:50],
                "docs": remediation.docs[:20],
            }
        )
        for name, values in remediation.parameters.items():
            parameters[name] = ", ".join(values)
    return {
        "title": f"Remediation: {best.title}"[:200],
        "cause_id": best.id,
        "cause_title": best.title,
        "summary": _summary(kb, state, findings),
        "steps": steps,
        "parameters": parameters,
        "created_for": (state.user.name or state.user.id or "")[:200],
    }
