"""Escalation: the summary card posted as a new thread in the escalation channel, secrets redacted."""

from __future__ import annotations

from typing import Any

from dialogs.api import Card
from dialogs.cards import STATUS_ICONS, Element, card, fact_set, heading, submit, subtle, text, text_input
from dialogs.findings import Findings
from dialogs.redact import redact, redact_all
from dialogs.result_card import check_title
from dialogs.state import TriageState
from knowledge.loader import KnowledgeBase
from knowledge.unknowns import recognised

__all__ = ["NO_CHANNEL", "escalation_card", "tried_prompt_card"]

NO_CHANNEL = (
    "No escalation channel is set, so I could not post this triage. An admin sets one by adding me to a "
    "team and mentioning me in the channel with: set escalation channel"
)
_SIGNATURE_FACTS = ("event.source", "event.id", "error.codes", "http.statuses", "proxy.type", "target.url")


def tried_prompt_card() -> Card:
    return card(
        [
            heading("Before I escalate: what has already been tried?"),
            text_input(
                "tried", "Already tried", "Restarted IIS on EX02, re-ran the Hybrid wizard...", multiline=True
            ),
            subtle("Or type it in a message. Skip if nothing was tried."),
        ],
        [submit("Escalate now", "escalate_send"), submit("Skip", "escalate_send", skip=True)],
    )


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _request_rows(kb: KnowledgeBase, state: TriageState, facts: dict[str, Any]) -> list[tuple[str, str]]:
    symptom = facts.get("symptom")
    rows = [
        ("Asked by", state.user.name or state.user.id or "unknown"),
        ("Triage", state.id),
    ]
    if symptom:
        rows.append(("Symptom", kb.symptoms[symptom].title if symptom in kb.symptoms else str(symptom)))
    labels = {"scope": "Scope", "requester": "Requester", "target": "Target"}
    rows += [(label, str(facts[fact])) for fact, label in labels.items() if facts.get(fact)]
    sites = [f"{who}: {facts[f'{who}.site']}" for who in ("requester", "target") if facts.get(f"{who}.site")]
    if sites:
        rows.append(("AD sites", "; ".join(sites)))
    return rows


def _signature_rows(kb: KnowledgeBase, facts: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [(fact, _shown(facts[fact])) for fact in _SIGNATURE_FACTS if facts.get(fact) not in (None, "", [])]
    rows += [("recognised", item.title) for item in recognised(kb, facts)[:8]]
    titles = {s.id: s.title for s in kb.signatures}
    for signature in facts.get("signatures") or []:
        rows.append(("signature", titles.get(signature, signature)))
    return rows


def _cause_line(findings: Findings) -> str:
    best = findings.best
    if best is None:
        return "No cause matched what was found."
    confidence = f"{round(best.confidence * 100)}%"
    if not findings.confident:
        return f"No confident cause. Best lead: {best.title} ({confidence})."
    return f"{best.title} ({confidence}). " + " ".join(best.evidence)


def escalation_card(kb: KnowledgeBase, state: TriageState, findings: Findings, tried: str) -> Card:
    """Everything the Exchange team needs to pick the triage up, with secrets and tokens redacted."""
    facts = findings.facts
    body: list[Element] = [
        text("Escalated triage: Exchange free/busy and proxying", weight="Bolder", size="Large"),
        fact_set(_request_rows(kb, state, facts)),
        heading("Likely cause"),
        text(_cause_line(findings)),
        heading("Error signature"),
    ]
    signature = _signature_rows(kb, facts)
    body.append(fact_set(signature) if signature else text("No error text was recognised."))
    if state.paste_excerpt:
        body.append(text(state.paste_excerpt, fontType="Monospace", size="Small"))
    body.append(heading("Checks"))
    if findings.results:
        body.append(
            fact_set(
                [(f"{STATUS_ICONS[r.status]} · {check_title(kb, r.id)}", r.summary) for r in findings.results]
            )
        )
    else:
        body.append(text("No checks ran."))
    body += [heading("Already tried"), text(redact(tried) if tried.strip() else "Nothing reported.")]
    redacted: Card = redact_all(card(body))
    return redacted
