"""The progress card (updated in place as checks finish) and the result card.

Both stay under Teams' size limit (about 28 KB) whatever they are given: each section of the result card has
a budget of serialized bytes (`dialogs.card_budget`), long lists end with how many more there are, and the
commands of the checks that could not look come a few checks at a time when they do not all fit (the rest on
the next result card, once this output is pasted). A card still too large is built again with every budget
scaled down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.api import CheckResult
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
    markdown,
    open_url,
    submit,
    subtle,
    text,
)
from dialogs.findings import Findings, evidence_lines, evidence_others, evidence_rows
from dialogs.fix_card import DONE, fix_block, fix_buttons
from dialogs.remedy_list import PASTE_OUTPUT, merge_remedies, waiting
from dialogs.result_layout import advice, layered, source_name, what_to_do_block
from knowledge.inference import RankedCause
from knowledge.loader import KnowledgeBase
from knowledge.remediation import FilledRemediation
from knowledge.unknowns import unknown

__all__ = ["CARD_BYTES", "ProgressRow", "progress_card", "result_card"]

CARD_BYTES = 23_000  # serialized; Teams refuses a message over about 28 KB
MAX_EVIDENCE_LINES = 6
MAX_EVIDENCE_ROWS = 12
ROW_BYTES = 1200  # one evidence row: a thumbprint, a URL, a certificate subject always fit whole
MAX_CHECK_ROWS = 20
MAX_RULED_OUT = 6
MAX_REMEDIATIONS = 3
SCALES = (1.0, 0.6, 0.35, 0.2)

ProgressRow = tuple[str, str, str]
"""(status or "pending"/"running", check title, one-line summary)."""


@dataclass(frozen=True)
class Budget:
    """Serialized bytes per section, all scaled by `scale` (1.0: a card with every check down fits)."""

    scale: float = 1.0

    def __call__(self, full: int) -> int:
        return max(40, int(full * self.scale))

    @property
    def title(self) -> int:
        return self(240)


def check_title(kb: KnowledgeBase, check_id: str) -> str:
    return kb.checks[check_id].title if check_id in kb.checks else check_id


def _rows(pairs: Sequence[tuple[str, str]], budget: int) -> Element:
    """A fact set of `pairs` within `budget`: a third of each row's share for the title."""
    each = budget // max(1, len(pairs))
    return fact_set([(clip(title, each // 3), clip(value, each - each // 3)) for title, value in pairs])


def _more(count: int, what: str) -> list[Element]:
    """A line saying `count` more of `what` (plural; its first word loses its s for one) were left out."""
    if count <= 0:
        return []
    noun, _, rest = what.partition(" ")
    one = noun[:-1] if count == 1 and noun.endswith("s") else noun
    return [subtle(f"… and {count} more {' '.join(w for w in (one, rest) if w)}.")]


def progress_card(rows: Sequence[ProgressRow], *, finished: bool) -> Card:
    done = sum(status not in ("pending", "running") for status, _, _ in rows)
    title = "Checks finished." if finished else f"Running the checks: {done} of {len(rows)} done."
    shown = rows[:MAX_CHECK_ROWS]
    lines = [
        (f"{STATUS_ICONS.get(status, '•')} · {name}", summary or status) for status, name, summary in shown
    ]
    return card([heading(title), _rows(lines, 9000), *_more(len(rows) - len(shown), "checks")])


def _percent(confidence: float) -> str:
    return f"{round(confidence * 100)}%"


def _cause_section(kb: KnowledgeBase, findings: Findings, budget: Budget) -> list[Element]:
    best = findings.best
    if best is None or not findings.confident:
        body = [
            text("I could not find a cause I am confident about.", weight="Bolder", color="Warning"),
            text(
                "The checks below are what I looked at. Escalate to hand this triage, with everything I "
                "found, to the Exchange team."
            ),
        ]
        body += _unknown_section(kb, findings, budget)
        if best is not None:
            lead = clip(best.title, budget.title)
            body.append(text(f"The best lead so far: {lead} ({_percent(best.confidence)} confidence)."))
        return body
    return [
        text(
            f"Likely cause: {clip(best.title, budget.title)}",
            weight="Bolder",
            size="Large",
            color="Attention",
        ),
        text(f"Confidence: {_percent(best.confidence)}", weight="Bolder"),
    ]


def _unknown_section(kb: KnowledgeBase, findings: Findings, budget: Budget) -> list[Element]:
    """What the paste held and what it means, the checks that would tell more; or, with nothing recognised,
    what to paste and the exact commands."""
    honest = unknown(kb, findings.assessment)
    if honest is None:
        return []
    body: list[Element] = []
    if honest.recognised:
        body.append(heading("What I recognised"))
        body += [text(clip(f"• {line}", budget(420))) for line in honest.summary[:4]]
        if honest.checks:
            names = ", ".join(check_title(kb, c) for c in honest.checks[:5])
            body.append(text(clip(f"Checks that would tell more: {names}.", budget(420))))
    elif honest.ask is not None:
        body.append(text(clip(honest.ask.text, budget(420))))
        body += [text(clip(command, budget(420)), fontType="Monospace") for command in honest.ask.commands]
    return body


def _explanation(kb: KnowledgeBase, findings: Findings, budget: Budget) -> list[Element]:
    best = findings.best
    if best is None or not findings.confident:
        return []
    return [heading("Why"), text(clip(kb.causes[best.id].explanation.strip(), budget(1400)))]


def _evidence_section(
    kb: KnowledgeBase, findings: Findings, best: RankedCause, budget: Budget
) -> list[Element]:
    said = evidence_lines(kb, findings, best)
    lines = said[:MAX_EVIDENCE_LINES]
    body: list[Element] = [heading("Evidence"), *(text(clip(f"• {line}", budget(320))) for line in lines)]
    body += _more(len(said) - len(lines), "findings")
    found = evidence_rows(kb, findings, best)
    # Text blocks, not a fact set: a thumbprint or a URL wraps in full instead of being cut at a column. Rows
    # are never shortened to fit (only one past ROW_BYTES, which no real value reaches): whole rows are left
    # out instead, and counted.
    room = budget(2400)
    shown = 0
    for row in found[:MAX_EVIDENCE_ROWS]:
        where = " · ".join(p for p in (row.source, row.server) if p)
        line = text(clip(f"{where}: {row.property} = {row.value}", ROW_BYTES), size="Small")
        if shown and size(line) > room:
            break
        body.append(line)
        room -= size(line)
        shown += 1
    body += _more(len(found) - shown, "observations")
    body += [subtle(clip(line, budget(320))) for line in evidence_others(kb, findings, best)[:3]]
    return body


def _candidates_section(kb: KnowledgeBase, findings: Findings, budget: Budget) -> list[Element]:
    others = findings.inference.causes[1:4] if findings.confident else findings.inference.causes[:4]
    body: list[Element] = []
    if others:
        heading_text = "Other candidates" if findings.confident else "Candidates"
        body += [
            heading(heading_text),
            fact_set([(_percent(c.confidence), clip(c.title, budget.title)) for c in others]),
        ]
    # The ones that looked likeliest first: those are what the reader wonders about.
    ruled_out = findings.assessment.ruled_out_by_strength()
    if ruled_out:
        shown = "; ".join(f"{r.title} ({r.reason})" for r in ruled_out[:MAX_RULED_OUT])
        more = f"; and {len(ruled_out) - MAX_RULED_OUT} more" if len(ruled_out) > MAX_RULED_OUT else ""
        body.append(subtle(clip("Ruled out: " + shown, budget(1200)) + more))
    return body


def _first_page(stuck: list[CheckResult], budget: int) -> list[CheckResult]:
    """The checks whose merged commands fit `budget` together (at least the first): one too large for what
    is left waits for the next card while smaller ones after it still come."""
    page: list[CheckResult] = []
    for result in stuck:
        merged = merge_remedies(r.remedy for r in [*page, result])
        if not page or size("\n\n".join(merged)) <= budget:
            page.append(result)
    return page


def _paste_back(kb: KnowledgeBase, stuck: list[CheckResult], room: int, budget: Budget) -> list[Element]:
    """The commands of the checks that could not look, as many checks' as fit in `room` bytes."""
    page = _first_page(stuck, room)
    names = clip(", ".join(check_title(kb, r.id) for r in page), budget(720))
    commands, cut = fit_lines(merge_remedies(r.remedy for r in page), room)
    body = [
        heading("Let me look anyway"),
        text(
            f"{names} could not look. Run these read-only commands and paste back everything they "
            "print (press Paste command output, or paste it as a message): I will run those checks "
            "again on it."
        ),
        code(commands),
        *_more(cut, "commands (too long for this card)"),
    ]
    later = [r for r in stuck if r not in page]
    if later:
        waiting_names = clip(", ".join(check_title(kb, r.id) for r in later), budget(480))
        body.append(
            subtle(f"{waiting_names} could not look either: I will list their commands once you paste this.")
        )
    return body


def _lines(lines: list[str], budget: int, page: bool) -> list[Element]:
    """A code block of `lines` within `budget`, and how many more there are (on the remediation page)."""
    shown, cut = fit_lines(lines, budget)
    return [code(shown), *_more(cut, "lines (on the remediation page)" if page else "lines")]


def _remediation(remediation: FilledRemediation, budget: int, page: bool) -> Element:
    """One remediation within `budget`: half for its commands, a quarter for the verification."""
    effect = "changes the configuration" if remediation.changes else "read-only"
    items: list[Element] = [
        text(clip(remediation.summary, budget // 6), weight="Bolder"),
        subtle(clip(f"Risk: {remediation.risk}; {effect}.", budget // 12)),
        *_lines(remediation.commands, budget // 2, page),
    ]
    if remediation.missing:
        placeholders = clip(", ".join(f"<{m}>" for m in remediation.missing), budget // 12)
        items.append(text(f"I could not fill {placeholders}: replace it before running.", color="Warning"))
    if remediation.verify:
        items += [text("To verify:", weight="Bolder"), *_lines(remediation.verify, budget // 4, page)]
    if remediation.notes:
        items.append(subtle(clip(remediation.notes, budget // 8)))
    links = [f"[{_link_name(u)}]({u})" for u in remediation.docs[:3] if size(u) <= budget // 12]
    if links:
        items.append(markdown("Documentation: " + " · ".join(links)))
    return container(items, separator=True)


def _link_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1][:60] or url


def _remediation_section(best: RankedCause, runbook_url: str | None, budget: Budget) -> list[Element]:
    shown = best.remediations[:MAX_REMEDIATIONS]
    each = budget(4800) // len(shown)
    body = [heading("Remediation"), *(_remediation(r, each, runbook_url is not None) for r in shown)]
    return body + _more(len(best.remediations) - len(shown), "remediations (on the remediation page)")


def _advice_sources(
    kb: KnowledgeBase, findings: Findings, stuck: list[CheckResult], escalated_to: str
) -> list[Element]:
    """Where the step under "What to do now" comes from: Microsoft's pages, as links."""
    links = [f"[{source_name(u)}]({u})" for u in advice(kb, findings, stuck).sources[:3] if size(u) <= 400]
    if not links or escalated_to:
        return []
    return [markdown("From: " + " · ".join(links), size="Small", isSubtle=True)]


def _build(
    kb: KnowledgeBase,
    findings: Findings,
    heading_text: str,
    runbook_url: str | None,
    escalated_to: str,
    budget: Budget,
    fix: Mapping[str, Any] | None = None,
    fixable: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The card within `budget`: the verdict, what to do now and the buttons on top; the evidence, the
    commands and the other causes collapsed below (`dialogs.result_layout`). The checks' list is on the
    progress card above it, not repeated here."""
    stuck = waiting(findings.results)
    # A fix that ran comes first (what the checks say now follows); one waiting comes after what to do.
    ran = fix_block(fix) if fix and fix.get("status") in DONE else []
    labels = {r.id: r.apply.label for r in kb.remediations.values() if r.apply is not None and r.apply.label}
    buttons: list[Element] = fix_buttons(findings.best, findings.confident, fixable, fix, labels)
    offered = any(str(b.get("title") or "").startswith("Fix it") for b in buttons)
    top: list[Element] = [
        heading(clip(heading_text, budget.title * 2)),
        *ran,
        *_cause_section(kb, findings, budget),
        *what_to_do_block(kb, findings, stuck, clip(escalated_to, budget.title), budget(1600), offered),
        *_advice_sources(kb, findings, stuck, escalated_to),
        *([] if ran else fix_block(fix)),
    ]
    best = findings.best
    details: list[Element] = _explanation(kb, findings, budget)
    if best is not None:
        details += _evidence_section(kb, findings, best, budget)
    tail: list[Element] = []
    if best is not None and findings.confident and best.remediations:
        tail += _remediation_section(best, runbook_url, budget)
    tail += _candidates_section(kb, findings, budget)
    if runbook_url:
        buttons.append(open_url("Open runbook", runbook_url))
    buttons.append(submit("Escalate", "escalate"))
    rest: list[Element] = []
    if stuck:
        rest.append(submit("Paste command output", PASTE_OUTPUT))
    rest.append(submit("Start over", "restart"))
    if not stuck:
        return layered(top, details + tail, buttons, rest)
    # The commands get what the rest leaves: with short summaries every check's commands fit at once.
    room = max(budget(4000), CARD_BYTES - size(layered(top, details + tail, buttons, rest)) - budget(1200))
    return layered(top, details + _paste_back(kb, stuck, room, budget) + tail, buttons, rest)


def result_card(
    kb: KnowledgeBase,
    findings: Findings,
    *,
    heading_text: str,
    runbook_url: str | None,
    escalated_to: str = "",
    fix: Mapping[str, Any] | None = None,
    fixable: frozenset[str] = frozenset(),
) -> Card:
    """The result: likely cause, evidence, candidates, checks, commands to paste back, remediation; at most
    CARD_BYTES serialized."""
    for scale in SCALES:
        built = _build(kb, findings, heading_text, runbook_url, escalated_to, Budget(scale), fix, fixable)
        if size(built) <= CARD_BYTES:
            break
    return built
