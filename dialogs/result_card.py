"""The progress card (updated in place as checks finish) and the result card."""

from __future__ import annotations

from collections.abc import Sequence

from checks.api import CheckResult
from dialogs.api import Card
from dialogs.cards import (
    STATUS_ICONS,
    Element,
    card,
    code,
    container,
    fact_set,
    heading,
    open_url,
    submit,
    subtle,
    text,
)
from dialogs.findings import Findings, evidence_rows
from dialogs.remedies import PASTE_OUTPUT, merge_remedies, waiting
from knowledge.inference import RankedCause
from knowledge.loader import KnowledgeBase
from knowledge.runbook import FilledRemediation

__all__ = ["ProgressRow", "progress_card", "result_card"]

MAX_EVIDENCE_ROWS = 12

ProgressRow = tuple[str, str, str]
"""(status or "pending"/"running", check title, one-line summary)."""


def check_title(kb: KnowledgeBase, check_id: str) -> str:
    return kb.checks[check_id].title if check_id in kb.checks else check_id


def progress_card(rows: Sequence[ProgressRow], *, finished: bool) -> Card:
    done = sum(status not in ("pending", "running") for status, _, _ in rows)
    title = "Checks finished." if finished else f"Running the checks: {done} of {len(rows)} done."
    lines = [(f"{STATUS_ICONS.get(status, '•')} {name}", summary or status) for status, name, summary in rows]
    return card([heading(title), fact_set(lines)])


def _percent(confidence: float) -> str:
    return f"{round(confidence * 100)}%"


def _cause_section(kb: KnowledgeBase, findings: Findings) -> list[Element]:
    best = findings.best
    if best is None or not findings.confident:
        body = [
            text("I could not find a cause I am confident about.", weight="Bolder", color="Warning"),
            text(
                "The checks below are what I looked at. Escalate to hand this triage, with everything I "
                "found, to the Exchange team."
            ),
        ]
        if best is not None:
            body.append(text(f"The best lead so far: {best.title} ({_percent(best.confidence)} confidence)."))
        return body
    return [
        text(f"Likely cause: {best.title}", weight="Bolder", size="Large", color="Attention"),
        text(f"Confidence: {_percent(best.confidence)}", weight="Bolder"),
        text(kb.causes[best.id].explanation.strip()),
    ]


def _evidence_section(kb: KnowledgeBase, findings: Findings, best: RankedCause) -> list[Element]:
    rows = evidence_rows(kb, findings, best)[:MAX_EVIDENCE_ROWS]
    body: list[Element] = [heading("Evidence"), *(text(f"• {line}") for line in best.evidence)]
    if rows:
        body.append(
            fact_set(
                [
                    (" · ".join(p for p in (row.source, row.server) if p), f"{row.property} = {row.value}")
                    for row in rows
                ]
            )
        )
    return body


def _candidates_section(findings: Findings) -> list[Element]:
    others = findings.inference.causes[1:4] if findings.confident else findings.inference.causes[:4]
    body: list[Element] = []
    if others:
        heading_text = "Other candidates" if findings.confident else "Candidates"
        body += [heading(heading_text), fact_set([(_percent(c.confidence), c.title) for c in others])]
    if findings.inference.ruled_out:
        body.append(
            subtle("Ruled out: " + "; ".join(f"{r.title} ({r.reason})" for r in findings.inference.ruled_out))
        )
    return body


def _checks_section(kb: KnowledgeBase, results: list[CheckResult]) -> list[Element]:
    if not results:
        return [heading("Checks"), text("No checks ran.")]
    rows = [(f"{STATUS_ICONS[r.status]} {check_title(kb, r.id)}", r.summary) for r in results]
    body: list[Element] = [heading("Checks"), fact_set(rows)]
    stuck = waiting(results)
    if stuck:
        names = ", ".join(check_title(kb, r.id) for r in stuck)
        body += [
            heading("Let me look anyway"),
            text(
                f"{names} could not look. Run these read-only commands and paste back everything they "
                "print (press Paste command output, or paste it as a message): I will run those checks "
                "again on it."
            ),
            code(merge_remedies(r.remedy for r in stuck)),
        ]
    return body


def _remediation(remediation: FilledRemediation) -> Element:
    effect = "changes the configuration" if remediation.changes else "read-only"
    items: list[Element] = [
        text(remediation.summary, weight="Bolder"),
        subtle(f"Risk: {remediation.risk}; {effect}."),
        code(remediation.commands),
    ]
    if remediation.missing:
        items.append(
            text(
                "I could not fill "
                + ", ".join(f"<{m}>" for m in remediation.missing)
                + ": replace it before running.",
                color="Warning",
            )
        )
    if remediation.verify:
        items += [text("To verify:", weight="Bolder"), code(remediation.verify)]
    if remediation.notes:
        items.append(subtle(remediation.notes))
    if remediation.docs:
        items.append(
            text("Documentation: " + " · ".join(f"[{_link_name(u)}]({u})" for u in remediation.docs))
        )
    return container(items, separator=True)


def _link_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1][:60] or url


def result_card(
    kb: KnowledgeBase,
    findings: Findings,
    *,
    heading_text: str,
    runbook_url: str | None,
    escalated_to: str = "",
) -> Card:
    body: list[Element] = [heading(heading_text), *_cause_section(kb, findings)]
    best = findings.best
    if best is not None:
        body += _evidence_section(kb, findings, best)
    body += _candidates_section(findings)
    body += _checks_section(kb, findings.results)
    if best is not None and findings.confident and best.remediations:
        body.append(heading("Remediation"))
        body += [_remediation(r) for r in best.remediations]
    if escalated_to:
        body.append(text(f"Escalated to {escalated_to}.", weight="Bolder", color="Good"))
    actions: list[Element] = []
    if runbook_url:
        actions.append(open_url("Open remediation", runbook_url))
    if waiting(findings.results):
        actions.append(submit("Paste command output", PASTE_OUTPUT))
    actions += [submit("Escalate", "escalate"), submit("Start over", "restart")]
    return card(body, actions)
