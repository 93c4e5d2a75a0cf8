"""The result card's two layers: on top, in helpdesk words, the verdict, what to do now and the buttons;
below, collapsed behind one button (Action.ShowCard), the evidence with full values, the filled commands,
the other candidates and what was ruled out."""

from __future__ import annotations

from checks.api import CheckResult
from dialogs.api import Card
from dialogs.cards import Element, card, heading, text
from dialogs.findings import Findings

__all__ = ["DETAILS", "layered", "what_to_do", "what_to_do_block"]

DETAILS = "Evidence, commands and other causes"


def what_to_do(findings: Findings, stuck: list[CheckResult], escalated_to: str) -> str:
    """One of: escalate to the Exchange team (with why), a step the helpdesk can take, or run and paste."""
    if escalated_to:
        return f"Escalated to {escalated_to}. The Exchange team has everything below; nothing else to do now."
    best = findings.best
    if best is None or not findings.confident:
        if stuck:
            return (
                "Some checks could not look. Run the read-only commands under “" + DETAILS + "” (or ask an "
                "Exchange admin to) and paste back what they print; or escalate to the Exchange team now."
            )
        return (
            "Escalate to the Exchange team: I could not pin the cause down, and they get everything I found."
        )
    first = best.remediations[0] if best.remediations else None
    if first is None:
        return "Escalate to the Exchange team: they get the cause and the evidence."
    if first.changes:
        return (
            f"Escalate to the Exchange team: the fix changes the Exchange configuration ({first.summary.rstrip('.')}). "
            "The filled commands and the runbook are ready for them."
        )
    return f"{first.summary.rstrip('.')}. Nothing on the servers needs changing."


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


def what_to_do_block(findings: Findings, stuck: list[CheckResult], escalated_to: str) -> list[Element]:
    return [heading("What to do now"), text(what_to_do(findings, stuck, escalated_to), weight="Bolder")]
