"""The result card's two layers: on top, in helpdesk words, the verdict, what to do now and the buttons;
below, collapsed behind one button (Action.ShowCard), the evidence with full values, the filled commands,
the other candidates and what was ruled out."""

from __future__ import annotations

from checks.api import CheckResult
from dialogs.api import Card
from dialogs.card_budget import clip
from dialogs.cards import Element, card, heading, text
from dialogs.findings import Findings
from knowledge.helpdesk import ESCALATE, Advice, advise
from knowledge.loader import KnowledgeBase

__all__ = ["DETAILS", "advice", "layered", "source_name", "what_to_do", "what_to_do_block"]

DETAILS = "Evidence, commands and other causes"


def advice(kb: KnowledgeBase, findings: Findings, stuck: list[CheckResult]) -> Advice:
    """What to do now, from the knowledge base (`knowledge.helpdesk.advise`): a step the helpdesk takes or
    asks a user to take, run and paste back, or escalate to the Exchange team with why."""
    return advise(kb, findings.assessment, could_not_look=bool(stuck))


def what_to_do(
    kb: KnowledgeBase,
    findings: Findings,
    stuck: list[CheckResult],
    escalated_to: str,
    fix_offered: bool = False,
) -> str:
    """The line under "What to do now". `fix_offered`: the card has a Fix it button for the cause, which asks
    an Exchange admin to approve the change: the alternative to escalating, said as such."""
    if escalated_to:
        return f"Escalated to {escalated_to}. The Exchange team has everything below; nothing else to do now."
    found = advice(kb, findings, stuck)
    if found.kind == "paste" and stuck:  # the paste-back commands are collapsed under the details
        return found.text.replace("commands above", f"commands under “{DETAILS}”")
    if found.kind == "escalate" and fix_offered:
        why = found.text.removeprefix(ESCALATE)
        return f"Press Fix it (an Exchange admin approves the change before it is made) or escalate to the Exchange team: {why}"
    return found.text


def layered(top: list[Element], details: list[Element], buttons: list[Element], rest: list[Element]) -> Card:
    """`top` and the main `buttons` (Open runbook, Escalate) first; `details` collapsed behind one button;
    `rest` (Paste command output, Start over) as the card's own actions."""
    body: list[Element] = list(top)
    shown: list[Element] = list(buttons)
    if details:
        shown.append({"type": "Action.ShowCard", "title": DETAILS, "card": card(details)})
    if shown:
        body.append({"type": "ActionSet", "actions": shown})
    return card(body, rest)


def what_to_do_block(
    kb: KnowledgeBase,
    findings: Findings,
    stuck: list[CheckResult],
    escalated_to: str,
    budget: int,
    fix_offered: bool = False,
) -> list[Element]:
    """The heading, the line and, for a step, how it is done (each within `budget` bytes)."""
    block: list[Element] = [
        heading("What to do now"),
        text(clip(what_to_do(kb, findings, stuck, escalated_to, fix_offered), budget), weight="Bolder"),
    ]
    found = advice(kb, findings, stuck)
    if found.how and not escalated_to:
        block.append(text(clip(found.how, budget)))
    return block


def source_name(url: str) -> str:
    """A link's words: "KB 3079932" for a support article by number, else the page's name from its address
    (a support page's trailing id left out)."""
    last = url.rstrip("/").rsplit("/", 1)[-1]
    if last.isdigit():
        return f"KB {last}"
    words = last.split("-")
    if "support.microsoft.com" in url and len(words) > 5:
        words = words[:-5]  # the article's GUID
    return " ".join(words)[:60] or url
