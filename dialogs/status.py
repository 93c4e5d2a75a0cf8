"""The help text and the status card: where the triage is, what it knows, what the checks found."""

from __future__ import annotations

from typing import Any

from dialogs.api import Card
from dialogs.cards import STATUS_ICONS, card, fact_set, heading, subtle, text
from dialogs.explain import EXAMPLES, explanation, how_to_tell
from dialogs.findings import results_of
from dialogs.result_card import check_title
from dialogs.turn import Turn

__all__ = ["help_text", "status_card"]

COMMANDS = (
    "help: what the current question means · back: undo your last answer · restart: start a new triage · "
    "cancel: stop this triage · status: what I know so far"
)
_PHASES = {
    "new": "Not started.",
    "cancelled": "Cancelled.",
    "asking": "Asking questions.",
    "running": "Running the checks (interrupted: the next message re-runs them).",
    "done": "Finished: the result is above.",
}


def _current(turn: Turn) -> Any:
    awaiting = turn.state.awaiting
    return turn.node(awaiting.node or "") if awaiting else None


def help_text(turn: Turn) -> str:
    node = _current(turn)
    if node is not None:
        meaning = f"{node.help}\n\n{how_to_tell(node.id)}" if node.help else explanation(node.id)
        about = f"{node.prompt}\n\n{meaning}"
        skip = " You can skip this one: say skip." if node.optional else ""
        return f"{about}{skip}\n\nAt any point: {COMMANDS}."
    if turn.state.phase == "done":
        return f"This triage is finished. Escalate hands it to the Exchange team; restart begins a new one. {COMMANDS}."
    examples = "\n".join(f"- {example}" for example in EXAMPLES)
    return (
        "Tell me what is going wrong in your own words: who cannot see whose calendar (names or addresses), "
        "cloud or on-premises, everyone or only them; or paste an error. I look the mailboxes up myself. "
        f"For example:\n{examples}\n\nOn any question, ask “what does that mean?” or “how do I tell?”. {COMMANDS}."
    )


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no (skipped)"
    return str(value)


def status_card(turn: Turn) -> Card:
    state, kb = turn.state, turn.kb
    rows = [("Triage", state.id), ("Where we are", _PHASES.get(state.phase, state.phase))]
    node = _current(turn)
    if node is not None:
        rows.append(("Waiting for", node.prompt))
    said = dict(state.said)
    if said.get("symptom") in kb.symptoms:
        said["symptom"] = kb.symptoms[said["symptom"]].title
    rows += [(fact, _shown(value)) for fact, value in said.items() if value not in (None, "", [])]
    if state.pasted:
        rows.append(("Pasted error", f"{len(state.pasted)} facts read"))
    body = [heading("Status"), fact_set(rows)]
    results = results_of(state)
    if results:
        body += [
            heading("Checks"),
            fact_set([(f"{STATUS_ICONS[r.status]} · {check_title(kb, r.id)}", r.summary) for r in results]),
        ]
    conclusion = state.conclusion
    if conclusion and conclusion.title:
        found = f"{conclusion.title} ({round(conclusion.confidence * 100)}%)"
        body.append(
            text(f"Likely cause: {found}" if conclusion.cause else f"No confident cause; best lead: {found}")
        )
    if state.last_error:
        body.append(subtle(f"Last error reference: {state.last_error}"))
    return card(body)
