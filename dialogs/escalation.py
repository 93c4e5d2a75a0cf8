"""Escalation: the card posted in the escalation channel for the Exchange team to act on, secrets redacted.

The card says who asked, the verdict, the evidence behind it, the filled commands (and the runbook link),
the error that was pasted, the checks and what was already tried. Its last line says who has taken it, and
its button is "I'll take it" (`TAKE`, with the post's key): the host records who pressed it and updates the
card in place for everyone with `owned` ("Taken by Grace Hopper at 10:02 UTC"). Someone else pressing it
later is told who has it; "Take over" (the button once it is taken) hands it over explicitly, and the card
names both. A triage escalated again updates its one post (`escalation_key`): the channel gets no duplicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dialogs.api import Card
from dialogs.card_budget import clip, fit_lines, size
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
    text_input,
)
from dialogs.findings import Findings, evidence_lines, evidence_rows
from dialogs.redact import redact, redact_all
from dialogs.result_card import check_title
from dialogs.state import TriageState
from knowledge.loader import KnowledgeBase
from knowledge.unknowns import recognised

__all__ = [
    "CARD_BYTES",
    "NO_CHANNEL",
    "NO_CHANNEL_YET",
    "OWNER_ID",
    "TAKE",
    "TRIED_QUESTION",
    "Owner",
    "escalation_card",
    "escalation_key",
    "is_escalation_key",
    "owned",
    "tried_prompt_card",
]

NO_CHANNEL = (
    "No escalation channel is set, so I could not post this triage. An admin sets one by adding me to a "
    "team and mentioning me in the channel with: set escalation channel"
)
NO_CHANNEL_YET = (
    "No escalation channel is set yet, so I cannot post this triage to the Exchange team now. An admin sets "
    "one by adding me to a team and mentioning me in the channel with: set escalation channel. Tell me what "
    "has been tried anyway: I keep it, and post it without asking again once the channel is set."
)
TRIED_QUESTION = "Before I escalate: what has already been tried?"
TAKE = "escalation_take"  # the action of "I'll take it" and "Take over" on the channel card
OWNER_ID = "escalation-owner"  # the TextBlock that says who has taken the escalation
CARD_BYTES = 23_000  # serialized; Teams refuses a message over about 28 KB
MAX_EVIDENCE_LINES = 6
MAX_EVIDENCE_ROWS = 8
MAX_EXCERPT_LINES = 40
MAX_COMMANDS = 2  # remediations whose filled commands the card shows (all of them are on the runbook)
_SIGNATURE_FACTS = ("event.source", "event.id", "error.codes", "http.statuses", "proxy.type", "target.url")
_KEY = re.compile(r"^escalation-[0-9A-Za-z]{1,40}$")
_UNTAKEN = "Nobody has taken this yet: press I'll take it if you are on it."


@dataclass(frozen=True)
class Owner:
    """Who took an escalation, when (Unix seconds), and from whom when they took it over."""

    name: str
    at: float
    previous: str = ""

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%H:%M UTC on %d %b %Y")

    def line(self) -> str:
        taken = f"Taken by {self.name or 'someone'} at {self.when}"
        return f"{taken} (taken over from {self.previous})." if self.previous else f"{taken}."


def escalation_key(state: TriageState) -> str:
    """The key of a triage's channel post: the same triage escalated again updates that post."""
    return f"escalation-{state.id}"


def is_escalation_key(value: str) -> bool:
    """Whether `value` (from a card's data: untrusted) is a key `escalation_key` makes."""
    return bool(_KEY.match(value))


def tried_prompt_card(*, channel: bool = True) -> Card:
    """What has been tried; without a channel the button keeps it for later instead of escalating now."""
    body: list[Element] = [
        heading(TRIED_QUESTION),
        text_input(
            "tried", "Already tried", "Restarted IIS on EX02, re-ran the Hybrid wizard...", multiline=True
        ),
        subtle("Or type it in a message. Skip if nothing was tried."),
    ]
    send = "Escalate now" if channel else "Keep it for the escalation"
    return card(body, [submit(send, "escalate_send"), submit("Skip", "escalate_send", skip=True)])


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
    return f"{best.title} ({confidence} confidence)."


def _evidence(kb: KnowledgeBase, findings: Findings, scale: float) -> list[Element]:
    best = findings.best
    if best is None:
        return []
    lines = evidence_lines(kb, findings, best)
    rows = evidence_rows(kb, findings, best)[:MAX_EVIDENCE_ROWS]
    if not (lines or rows):
        return []
    body: list[Element] = [heading("Evidence")]
    body += [text(clip(f"• {line}", int(400 * scale))) for line in lines[:MAX_EVIDENCE_LINES]]
    for row in rows:
        where = " · ".join(p for p in (row.source, row.server) if p)
        body.append(text(clip(f"{where}: {row.property} = {row.value}", int(300 * scale)), size="Small"))
    return body


def _commands(findings: Findings, runbook_url: str, scale: float) -> list[Element]:
    """The filled commands of the best cause's remediations, and where the whole runbook is."""
    best = findings.best
    if best is None or not findings.confident or not best.remediations:
        return []
    body: list[Element] = [heading("Commands")]
    for remediation in best.remediations[:MAX_COMMANDS]:
        effect = "changes the configuration" if remediation.changes else "read-only"
        shown, cut = fit_lines(remediation.commands, int(2400 * scale))
        body += [text(clip(f"{remediation.summary} ({effect})", int(400 * scale)), weight="Bolder")]
        if shown:
            body.append(code(shown))
        if cut:
            body.append(subtle(f"… and {cut} more lines on the runbook."))
        if remediation.missing:
            body.append(text(f"Fill in before running: {', '.join(remediation.missing)}.", color="Warning"))
    if runbook_url:
        body.append(
            subtle("The runbook (Open runbook) has every step, the checks before and after, and links.")
        )
    return body


def _excerpt(pasted: str) -> Element:
    """The pasted error as it was, one line a block: a TextBlock's markdown would join its single line breaks."""
    lines = [line for line in pasted.splitlines() if line.strip()][:MAX_EXCERPT_LINES]
    return container(
        [text(line, fontType="Monospace", size="Small", spacing="None") for line in lines], separator=True
    )


def _checks(kb: KnowledgeBase, findings: Findings, scale: float) -> list[Element]:
    """The checks that found something or could not look, each with its summary; the others in one line."""
    if not findings.results:
        return [heading("Checks"), text("No checks ran.")]
    rows = [
        (f"{STATUS_ICONS[r.status]} · {check_title(kb, r.id)}", clip(r.summary, int(300 * scale)))
        for r in findings.results
        if r.status != "ok"
    ]
    fine = [check_title(kb, r.id) for r in findings.results if r.status == "ok"]
    body: list[Element] = [heading("Checks")]
    if rows:
        body.append(fact_set(rows))
    if fine:
        body.append(subtle(clip(f"{STATUS_ICONS['ok']}: {', '.join(fine)}.", int(2000 * scale))))
    return body


def _build(
    kb: KnowledgeBase, state: TriageState, findings: Findings, tried: str, runbook_url: str, scale: float
) -> dict[str, Any]:
    facts = findings.facts
    body: list[Element] = [
        text("Escalated triage: Exchange free/busy and proxying", weight="Bolder", size="Large"),
        text(_UNTAKEN, id=OWNER_ID, weight="Bolder", color="Attention"),
        fact_set(_request_rows(kb, state, facts)),
        heading("Likely cause"),
        text(clip(_cause_line(findings), int(1600 * scale))),
        *_evidence(kb, findings, scale),
        *_commands(findings, runbook_url, scale),
        heading("Error signature"),
    ]
    signature = _signature_rows(kb, facts)
    body.append(fact_set(signature) if signature else text("No error text was recognised."))
    if state.paste_excerpt:
        body.append(_excerpt(clip(state.paste_excerpt, int(1600 * scale))))
    body += _checks(kb, findings, scale)
    said = clip(redact(tried), int(2000 * scale)) if tried.strip() else "Nothing reported."
    body += [heading("Already tried"), text(said)]
    actions: list[Element] = [open_url("Open runbook", runbook_url)] if runbook_url else []
    actions.append(_take_action(escalation_key(state), taken=False))
    redacted: dict[str, Any] = redact_all(card(body, actions))
    return redacted


def escalation_card(
    kb: KnowledgeBase, state: TriageState, findings: Findings, tried: str, runbook_url: str = ""
) -> Card:
    """Everything the Exchange team needs to pick the triage up, with secrets and tokens redacted, at most
    CARD_BYTES serialized; nobody has taken it yet."""
    for scale in (1.0, 0.5, 0.25):
        built = _build(kb, state, findings, tried, runbook_url, scale)
        if size(built) <= CARD_BYTES:
            break
    return built


def _take_action(key: str, *, taken: bool) -> Element:
    if taken:
        return submit("Take over", TAKE, post=key, over=True)
    return submit("I'll take it", TAKE, post=key)


def owned(escalation: Card, owner: Owner | None) -> Card:
    """`escalation` (a card `escalation_card` made) saying who has it, with the button that fits: "I'll take
    it" while nobody has, "Take over" once someone has."""
    line = owner.line() if owner is not None else _UNTAKEN
    body = [
        text(line, id=OWNER_ID, weight="Bolder", color="Good" if owner else "Attention")
        if isinstance(element, dict) and element.get("id") == OWNER_ID
        else element
        for element in _elements(escalation.get("body"))
    ]
    actions: list[Any] = []
    for action in _elements(escalation.get("actions")):
        data = action.get("data") if isinstance(action, dict) else None
        if isinstance(data, dict) and data.get("action") == TAKE:
            actions.append(_take_action(str(data.get("post") or ""), taken=owner is not None))
        else:
            actions.append(action)
    updated: Card = {**escalation, "body": body, "actions": actions}
    return updated


def _elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []
