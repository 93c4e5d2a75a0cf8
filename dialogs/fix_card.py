"""A fix asked for from the result card: the "Fix it" button, the approval card and how both show a fix.

A fix is one plain-JSON record the host keeps (its proposal) and hands to the conversation after each change:
`id`, `triage` (the triage it was asked from), `remediation`, `summary`, `cause`, `cause_title`, `risk`,
`status` (`pending`, `approved`, `rejected`, `applied`, `fixed`, `not-fixed`, `failed`, `rolled-back`,
`rollback-failed`), `requester_name`, `decided_by_name`, `where` (where the approval card went), `steps`
(each as an admin reads it; a one-time password only as `<one-time password>`), `preview` (what Exchange said
to -WhatIf, per step), `preview_text`, `rollback` (the steps that undo it), `applied` (each step run, with
its status and redacted output), `verify_checks`, `checks` (the re-run checks: id, status, summary),
`servers`, `expires` (when the approval lapses, in words) and `fingerprint`. Pure: cards from records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dialogs.api import Card
from dialogs.card_budget import clip, size
from dialogs.cards import STATUS_ICONS, Element, card, code, fact_set, heading, submit, subtle, text
from knowledge.inference import RankedCause

__all__ = [
    "DONE",
    "FIX",
    "FIX_ACTIONS",
    "FIX_APPROVE",
    "FIX_REJECT",
    "FIX_ROLLBACK",
    "FIX_UPDATE",
    "approval_card",
    "audit_line",
    "fix_block",
    "fix_buttons",
    "fix_line",
]

FIX = "fix"  # the result card's "Fix it": {"action": "fix", "remediation": id}
FIX_APPROVE = "fix-approve"  # {"action": ..., "fix": id, "fingerprint": the plan's}
FIX_REJECT = "fix-reject"
FIX_ROLLBACK = "fix-rollback"  # {"action": ..., "fix": id}
FIX_UPDATE = "fix-update"  # from the host only: {"action": ..., "fix": record}
FIX_ACTIONS = frozenset({FIX, FIX_APPROVE, FIX_REJECT, FIX_ROLLBACK, FIX_UPDATE})
DONE = frozenset({"fixed", "not-fixed", "failed", "rolled-back", "rollback-failed"})
MAX_STEPS = 12
# Bytes for each step's or check's line: the approval card tries each in turn until it fits CARD_LIMIT.
ROW_BYTES = (600, 300, 160, 80)
CARD_LIMIT = 23_000  # serialized, as the result card (Teams refuses a message over about 28 KB)
RESULT_ROW_BYTES = 240  # on the result card, which has its own sections to fit

_HEADLINES = {
    "pending": ("Waiting for approval", "Accent"),
    "approved": ("Approved: applying the change now", "Accent"),
    "applied": ("Applied: checking again", "Accent"),
    "fixed": ("Fixed", "Good"),
    "not-fixed": ("Not fixed", "Attention"),
    "failed": ("Not fixed: a step failed", "Attention"),
    "rejected": ("Rejected: nothing was changed", "Warning"),
    "rolled-back": ("Rolled back", "Warning"),
    "rollback-failed": ("The rollback failed", "Attention"),
}


def _str(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _rows(record: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = record.get(key)
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _texts(record: Mapping[str, Any], key: str) -> list[str]:
    value = record.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def audit_line(record: Mapping[str, Any]) -> str:
    return f"Audit trail: triage audit --fix {_str(record, 'id')}"


def fix_line(record: Mapping[str, Any]) -> str:
    """The fix's state in one sentence (for a chat line, and under the headline on the cards)."""
    status = _str(record, "status")
    who = _str(record, "decided_by_name") or "an approver"
    summary = _str(record, "summary").rstrip(".") or "the fix"
    if status == "pending":
        where = _str(record, "where")
        asked = f"I asked for approval in {where}" if where else "An approver has to approve it"
        expires = _str(record, "expires")
        return f"{asked}: {summary}." + (f" The request lapses at {expires}." if expires else "")
    if status in ("approved", "applied"):
        return f"Approved by {who}: {summary}."
    if status == "rejected":
        return f"Rejected by {who}: {summary} was not applied, nothing was changed."
    if status == "fixed":
        return f"{summary}: applied (approved by {who}), and the checks now pass."
    if status == "not-fixed":
        return f"{summary}: applied (approved by {who}), but the checks still do not all pass."
    if status == "failed":
        ran = sum(1 for s in _rows(record, "applied") if s.get("status") == "done")
        undo = " Roll back undoes what ran." if ran and _texts(record, "rollback") else ""
        return f"{summary}: a step failed after {ran} ran; the rest did not run.{undo}"
    if status == "rolled-back":
        return f"{summary}: rolled back by {_str(record, 'rolled_back_by') or 'an approver'}."
    if status == "rollback-failed":
        return f"{summary}: the rollback failed; see the steps below and the audit trail."
    return summary


def _status_block(record: Mapping[str, Any], row: int) -> list[Element]:
    headline, color = _HEADLINES.get(_str(record, "status"), ("Fix", "Default"))
    body: list[Element] = [
        text(headline, weight="Bolder", size="Medium", color=color),
        text(fix_line(record)),
    ]
    applied = _rows(record, "applied")[:MAX_STEPS]
    if applied:
        body.append(
            fact_set(
                [
                    (
                        str(s.get("status") or ""),
                        clip(
                            _plain(
                                f"{s.get('step') or ''}" + (f" ({s['detail']})" if s.get("detail") else "")
                            ),
                            row,
                        ),
                    )
                    for s in applied
                ]
            )
        )
    checks = _rows(record, "checks")[:MAX_STEPS]
    if checks:
        body.append(text("Checked again:", weight="Bolder"))
        body.append(
            fact_set(
                [
                    (
                        f"{STATUS_ICONS.get(str(c.get('status')), '•')} · {c.get('id') or ''}",
                        clip(str(c.get("summary") or ""), row),
                    )
                    for c in checks
                ]
            )
        )
    body.append(subtle(audit_line(record)))
    return body


def fix_block(record: Mapping[str, Any] | None) -> list[Element]:
    """What the result card shows of the fix asked for from it (nothing when none was)."""
    if not record:
        return []
    return [heading("Fix"), *_status_block(record, RESULT_ROW_BYTES)]


def _can_roll_back(record: Mapping[str, Any]) -> bool:
    """A change ran (some step done) that has a rollback, and it was not rolled back yet."""
    ran = any(s.get("status") == "done" for s in _rows(record, "applied"))
    return (
        _str(record, "status") in ("fixed", "not-fixed", "failed")
        and bool(_texts(record, "rollback"))
        and ran
    )


def _fixable_remediation(best: RankedCause | None, fixable: frozenset[str]) -> str:
    if best is None:
        return ""
    return next((r.id for r in best.remediations if r.id in fixable), "")


def fix_buttons(
    best: RankedCause | None, confident: bool, fixable: frozenset[str], record: Mapping[str, Any] | None
) -> list[Element]:
    """Fix it (an enabled remediation of a confident cause, no fix under way) or Roll back (after a change
    that has a rollback)."""
    status = _str(record, "status") if record else ""
    if record and _can_roll_back(record):
        return [submit("Roll back", FIX_ROLLBACK, fix=_str(record, "id"))]
    if record and status != "rejected":
        return []  # waiting for approval, being applied, or done
    remediation = _fixable_remediation(best, fixable) if confident else ""
    return [submit("Fix it", FIX, remediation=remediation)] if remediation else []


def _plain(step: str) -> str:
    """A step as shown on a card: `<one-time password>` and `<CertificateData>` (values only known while the
    fix runs) in ‹ › so no renderer takes them for markup and drops them."""
    return step.replace("<", "‹").replace(">", "›")


def _step_lines(steps: Sequence[str], row: int) -> list[Element]:
    shown = [clip(_plain(s), row) for s in steps[:MAX_STEPS]]
    more = [subtle(f"… and {len(steps) - len(shown)} more steps.")] if len(steps) > len(shown) else []
    return [code(shown), *more] if shown else []


def approval_card(record: Mapping[str, Any]) -> Card:
    """The approval card, within CARD_LIMIT bytes (long steps and outputs clipped further as needed)."""
    built = _approval(record, ROW_BYTES[0])
    for row in ROW_BYTES[1:]:
        if size(built) <= CARD_LIMIT:
            break
        built = _approval(record, row)
    return built


def _approval(record: Mapping[str, Any], row: int) -> dict[str, Any]:
    """The card an approver decides on: the exact steps, Exchange's preview, the risk and who asked; Approve
    and Reject while it waits, Roll back after a change that has a rollback; the outcome once there is one."""
    status = _str(record, "status")
    facts = [
        ("Cause", _str(record, "cause_title") or _str(record, "cause")),
        ("Asked by", _str(record, "requester_name") or "(unknown)"),
        ("Risk", _str(record, "risk") or "unknown"),
        ("Servers", ", ".join(_texts(record, "servers")) or "(the organisation)"),
        ("Mailboxes", ", ".join(_texts(record, "mailboxes")) or "(none)"),
    ]
    if _str(record, "expires"):
        facts.append(("Approve before", _str(record, "expires")))
    body: list[Element] = [
        heading(f"Approval needed: {_str(record, 'summary') or 'a fix'}"),
        fact_set(facts),
        text("What changes:", weight="Bolder"),
        text(_str(record, "preview_text") or "(no description)"),
        text("The exact steps (run with the write account, in this order):", weight="Bolder"),
        *_step_lines(_texts(record, "steps"), row),
    ]
    preview = _rows(record, "preview")[:MAX_STEPS]
    if preview:
        body.append(text("Preview (-WhatIf, nothing changed):", weight="Bolder"))
        body.append(
            fact_set(
                [
                    (
                        str(p.get("status") or ""),
                        clip(_plain(f"{p.get('step') or ''} — {p.get('detail') or ''}"), row),
                    )
                    for p in preview
                ]
            )
        )
    rollback = _texts(record, "rollback")
    if rollback:
        body += [text("Rollback, if needed:", weight="Bolder"), *_step_lines(rollback, row)]
    else:
        body.append(subtle("This change has no automatic rollback."))
    body += _status_block(record, row)
    actions: list[Element] = []
    fix_id, fingerprint = _str(record, "id"), _str(record, "fingerprint")
    if status == "pending":
        actions = [
            submit("Approve", FIX_APPROVE, fix=fix_id, fingerprint=fingerprint),
            submit("Reject", FIX_REJECT, fix=fix_id, fingerprint=fingerprint),
        ]
    elif _can_roll_back(record):
        actions = [submit("Roll back", FIX_ROLLBACK, fix=fix_id)]
    return card(body, actions)
