"""What one message tells us: the answer to the question asked, and anything else it answers ahead.

A pasted error gives the reader's facts (and the pair, when the error names it); a typed sentence can name
the symptom, the scope and the pair at once ("only alice@contoso.com can't see bob@contoso.com's free/busy
since the cloud move"). The current question's answer overwrites; anything else is only added when unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dialogs.paste import Paste, is_long, read_paste
from dialogs.turn import Turn
from dialogs.understand import match_option, match_scope, match_symptom, read_pair
from knowledge.inference import implied_symptom
from knowledge.model import TreeNode
from knowledge.reader.command_output import read_command_output, without_command_output
from knowledge.reader.error_text import PasteTooLarge

__all__ = ["Learned", "learn", "noted"]


@dataclass
class Learned:
    answer: dict[str, Any] = field(default_factory=dict)
    ahead: dict[str, Any] = field(default_factory=dict)
    paste: Paste = field(default_factory=Paste)
    problem: str = ""
    command_output: list[dict[str, Any]] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.answer or self.ahead or self.paste.facts or self.paste.is_paste)


def _choice(turn: Turn, node: TreeNode, text: str) -> tuple[dict[str, Any], str]:
    fact = node.asks[0]
    if node.options == "symptoms":
        numbered = list(turn.kb.symptoms)
        stripped = text.strip().rstrip(".")
        if stripped.isascii() and stripped.isdigit() and 1 <= int(stripped) <= len(numbered):
            return {fact: numbered[int(stripped) - 1]}, ""
        symptom = match_symptom(turn.kb, text)
        if symptom:
            return {fact: symptom}, ""
        return {}, (
            "I could not match that to one of the symptoms. Pick the closest button, or put it another way "
            "(for example: cloud users can't see on-premises free/busy)."
        )
    options = [] if isinstance(node.options, str) else node.options
    value = match_option(options, text) or (match_scope(text) if fact == "scope" else None)
    if value and value in {o.value for o in options}:
        return {fact: value}, ""
    labels = "; ".join(o.label for o in options)
    if fact == "scope":
        return {}, f"I could not tell who is affected from that. Is it one of these: {labels}?"
    return {}, f"That is not one of the choices. Pick one of: {labels}."


def _pair(node: TreeNode, text: str) -> tuple[dict[str, Any], str]:
    wanted = 2 if "requester" in node.asks else 1
    reading = read_pair(text, wanted)
    if reading.problem:
        return {}, reading.problem
    if reading.target is None:
        example = "alice@contoso.com can't see bob@contoso.com" if wanted == 2 else "bob@contoso.com"
        return (
            {},
            f"I need {'two email addresses' if wanted == 2 else 'an email address'}, for example {example}.",
        )
    answer: dict[str, Any] = {"target": reading.target}
    if wanted == 2:
        answer["requester"] = reading.requester
    return answer, ""


def _ahead(turn: Turn, node: TreeNode | None, text: str) -> dict[str, Any]:
    """Facts a typed sentence answers beyond the current question."""
    asks = set(node.asks) if node else set()
    found: dict[str, Any] = {}
    if "symptom" not in asks:
        symptom = match_symptom(turn.kb, text)
        if symptom:
            found["symptom"] = symptom
    if "scope" not in asks:
        scope = match_scope(text)
        # "site" is read from loose words (site, branch, office): only trusted when the question is asked.
        if scope in ("pair", "all"):
            found["scope"] = scope
    if not asks & {"requester", "target"}:
        reading = read_pair(text)
        if reading.requester and reading.target:
            found.update(requester=reading.requester, target=reading.target)
    return found


def _label(turn: Turn, fact: str, value: Any) -> str:
    """A choice fact's value as its option reads (a symptom's title, a scope's label)."""
    if fact == "symptom" and value in turn.kb.symptoms:
        return turn.kb.symptoms[value].title
    for node in turn.kb.tree.nodes:
        if fact in node.asks and not isinstance(node.options, str):
            label = next((o.label for o in node.options if o.value == value), None)
            if label:
                return label[:1].lower() + label[1:]
    return str(value)


def noted(turn: Turn, facts: dict[str, Any]) -> str:
    """What a message told us ahead of the question asked, in words ("" when nothing)."""
    parts = [_label(turn, fact, facts[fact]) for fact in ("symptom", "scope") if fact in facts]
    if facts.get("requester") and facts.get("target"):
        parts.append(f"{facts['requester']} can't see {facts['target']}'s free/busy")
    return f"Noted: {'; '.join(parts)}." if parts else ""


def learn(turn: Turn, node: TreeNode | None, text: str) -> Learned:
    """Read `text` as the answer to `node` (None: no question asked yet) and whatever else it says."""
    try:
        # Output of the checks' commands, pasted ahead of the checks, answers them when they run; its
        # listings are evidence for them, not error text (a property named InternalNLBBypassUrl is no error).
        # The reader reads the rest, once.
        output = read_command_output(text) if is_long(text) else []
        paste = read_paste(turn.services.read_text, without_command_output(text) if output else text)
        if output:
            paste = replace(paste, is_paste=True)
    except PasteTooLarge as too_large:
        return Learned(problem=str(too_large))
    learned = Learned(paste=paste, command_output=output)
    if paste.is_paste:
        # A pasted error's words (OWA, proxy, site...) are not the user describing the symptom, but the
        # facts it holds can imply one (symptoms.yaml `implied_by`), which answers that question.
        learned.ahead["pasted"] = True
        if "symptom" not in turn.state.said:
            symptom = implied_symptom(turn.kb, {**turn.facts(), **paste.facts})
            if symptom is not None:
                learned.ahead["symptom"] = symptom
        if node is not None and node.kind == "text":
            learned.answer["pasted"] = True
        return learned
    learned.ahead = _ahead(turn, node, text)
    if node is None:
        return learned
    if node.kind == "choice":
        learned.answer, learned.problem = _choice(turn, node, text)
    elif node.kind == "pair":
        learned.answer, learned.problem = _pair(node, text)
    elif node.kind == "text":
        learned.problem = (
            "I did not find an error message in that. Paste the whole error (the event entry, the OWA error "
            "details or the cmdlet output), or say skip."
        )
    return learned
