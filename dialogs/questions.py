"""Question cards that close once answered, as Teams users expect: the card is updated in place to show the
question and the answer ("You chose: Only one pair of users") without its buttons, so an answered card can
not be pressed again. A question asked again (a re-prompt, an explanation, help) closes the earlier card with
"Asked again below."; one answered by a message that said something else ("carol can't see erin, only her"
where the symptom was asked) shows what was written; one abandoned by restart or cancel says so.

Each question card gets its own key (`question-{triage}-{n}`); the state keeps the one still open (`Asked`).
"""

from __future__ import annotations

from typing import Any

from dialogs.api import Card
from dialogs.bounds import collapse
from dialogs.card_budget import clip
from dialogs.cards import card, subtle, text
from dialogs.redact import redact
from dialogs.state import Asked
from dialogs.turn import Turn

__all__ = [
    "ASKED_AGAIN",
    "PICK",
    "answer_line",
    "answered_card",
    "close_as_written",
    "close_question",
    "send_question",
]

ASKED_AGAIN = "Asked again below."
WRITTEN_CHARS = 200  # what is shown of a typed answer on its closed question card
WRITTEN_BYTES = 400
PICK = "people"  # the node of a pick-list of people (`dialogs.people`)


async def send_question(turn: Turn, question: Card, *, node: str, prompt: str, facts: list[str]) -> None:
    """Send a question card (closing the one still open first); its answer fills `facts`."""
    await close_question(turn)
    state = turn.state
    state.questions += 1
    key = f"question-{state.id}-{state.questions}"
    state.asked = Asked(key, node, prompt, list(facts))
    await turn.send(question, key)


async def close_question(turn: Turn, unanswered: str = ASKED_AGAIN) -> None:
    """Update the open question card in place: its answer, or `unanswered`, and no buttons."""
    asked = turn.state.asked
    if asked is None:
        return
    turn.state.asked = None
    await turn.send(answered_card(asked.prompt, answer_line(turn, asked) or unanswered), asked.key)


async def close_as_written(turn: Turn) -> None:
    """Close the open question after an answer that was taken: a typed one that said something else than
    the question asked (the pair and the scope, where the symptom was asked, the lookup then answering it) is
    shown as written, one line, secrets redacted, rather than as a question asked again."""
    typed = "" if turn.action else clip(redact(collapse(turn.inbound.text, WRITTEN_CHARS)), WRITTEN_BYTES)
    await close_question(turn, f"You wrote: {typed}" if typed else ASKED_AGAIN)


def answered_card(prompt: str, line: str) -> Card:
    return card([subtle(prompt), text(line, weight="Bolder")])


def answer_line(turn: Turn, asked: Asked) -> str:
    """What answered `asked`, in words ("" while it is not answered)."""
    said = turn.state.said
    node = turn.node(asked.node)
    if asked.node in turn.state.skipped or (asked.facts == ["pasted"] and said.get("pasted") is False):
        return "You skipped this question."
    values = [said.get(fact) for fact in asked.facts]
    if not values or any(v in (None, "", []) for v in values):
        return ""
    if asked.facts == ["pasted"]:
        return "You pasted the error text."
    if node is None:
        # A person picked from a list, or a question outside the tree (what was tried before escalating).
        said_it = "You chose: " if asked.node == PICK else "Your answer: "
        return said_it + ", ".join(_shown(v) for v in values)
    if node.kind == "choice":
        return f"You chose: {_label(turn, node.options, values[0])}"
    if node.kind == "pair" and len(values) == 2:
        return f"Your answer: {_shown(values[0])} can't see {_shown(values[1])}"
    return "Your answer: " + ", ".join(_shown(v) for v in values)


def _label(turn: Turn, options: Any, value: Any) -> str:
    if options == "symptoms":
        symptom = turn.kb.symptoms.get(str(value))
        return symptom.title if symptom else _shown(value)
    return next((o.label for o in options if o.value == value), _shown(value))


def _shown(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
