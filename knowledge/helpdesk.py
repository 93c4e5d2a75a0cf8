"""What a first-line helpdesk agent does now, in their words: a step they take or ask a user to take, "run
these read-only commands and paste back what they print", or escalate to the Exchange team with why.

Pure: the advice comes from the assessment and the knowledge base's data (a cause's `helpdesk` advice, else its
category's reason in helpdesk.yaml), never from code that knows a cause. People are named by display name
(`requester.name`, `target.name`, or the directory lookup's `people.found`), else by address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from knowledge.assessment import Assessment
from knowledge.conditions import FactsView
from knowledge.jsonvalue import JsonObject, JsonValue, json_list
from knowledge.loader import KnowledgeBase
from knowledge.model import HelpdeskAdvice
from knowledge.unknowns import unknown

__all__ = ["ESCALATE", "Advice", "AdviceKind", "advise", "fill", "person"]

AdviceKind = Literal["step", "escalate", "paste"]
ESCALATE = "Escalate to the Exchange team: "  # how every escalation's text begins, its reason after it

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_MAX_VALUE = 160  # characters of one filled value: names, servers, sites
_ROLE_WORDS = {
    "Requester": "the user who cannot see the calendar",
    "Target": "the person whose calendar it is",
}


@dataclass(frozen=True)
class Advice:
    """One line for "What to do now": its kind, the text, who acts (helpdesk, requester, target, or the
    Exchange team), and the public pages a step comes from."""

    kind: AdviceKind
    text: str
    who: str
    sources: list[str] = field(default_factory=list)
    how: str = ""
    """For a step: how it is done and why it helps."""

    def as_dict(self) -> JsonObject:
        return {
            "kind": self.kind,
            "text": self.text,
            "how": self.how,
            "who": self.who,
            "sources": json_list(self.sources),
        }


def _bounded(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= _MAX_VALUE else value[: _MAX_VALUE - 1] + "…"


def _found_name(facts: FactsView, address: str) -> str:
    """The display name the directory lookup gave for `address`, or ""."""
    found = facts.get("people.found")
    for record in found if isinstance(found, list) else []:
        candidates = record.get("candidates") if isinstance(record, dict) else None
        for candidate in candidates if isinstance(candidates, list) else []:
            if (
                isinstance(candidate, dict)
                and str(candidate.get("address", "")).casefold() == address.casefold()
                and candidate.get("name")
            ):
                return str(candidate["name"])
    return ""


def person(facts: FactsView, role: Literal["requester", "target"], *, first: bool = False) -> str:
    """How to name the requester or the target to a helpdesk agent: their display name, else their address,
    else what they are. `first`: the first name alone, for a second mention, when the display name reads as
    first name then surname ("Carol Díaz"; not "Díaz, Carol" nor an address)."""
    name = facts.get(f"{role}.name")
    address = facts.get(role)
    if not (isinstance(name, str) and name.strip()) and isinstance(address, str):
        name = _found_name(facts, address)
    if isinstance(name, str) and name.strip():
        words = name.split()
        if first and len(words) > 1 and "," not in name and words[0].isalpha():
            return _bounded(words[0])
        return _bounded(name)
    if isinstance(address, str) and address:
        return _bounded(address)
    return _ROLE_WORDS[role.capitalize()]


def _shown(value: JsonValue) -> str:
    if isinstance(value, list):
        return ", ".join(_bounded(str(v)) for v in value if v not in (None, ""))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else _bounded(str(value))


def fill(advice: HelpdeskAdvice, facts: FactsView, text: str | None = None) -> str:
    """The advice's text (or `text`, another of its texts) with its placeholders filled from `facts` (a param's `otherwise` where the fact is
    unknown or empty); one pass, so a value that reads like a placeholder stays as it is."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("Requester", "RequesterFirst"):
            return person(facts, "requester", first=name.endswith("First"))
        if name in ("Target", "TargetFirst"):
            return person(facts, "target", first=name.endswith("First"))
        param = advice.params[name]
        return _shown(facts.get(param.fact)) or param.otherwise

    return _PLACEHOLDER.sub(value, advice.text if text is None else text)


def _escalate(why: str) -> Advice:
    return Advice("escalate", f"{ESCALATE}{why.rstrip('.')}.", "exchange-team")


def advise(kb: KnowledgeBase, assessment: Assessment, *, could_not_look: bool = False) -> Advice:
    """What to do now about `assessment`. `could_not_look`: some checks could not look and left read-only
    commands to run and paste back."""
    best = assessment.best
    if best is None or not assessment.confident:
        honest = unknown(kb, assessment)
        if could_not_look or (honest is not None and honest.ask is not None and honest.ask.commands):
            return Advice(
                "paste",
                "Run the read-only commands above (or ask an Exchange admin to) and paste back "
                "everything they print: I will look again with it. Or escalate to the Exchange team now.",
                "helpdesk",
            )
        return _escalate("I could not pin the cause down, and they get everything I found")
    cause = kb.causes[best.id]
    advice = cause.helpdesk
    if advice is not None and advice.step is not None:
        how = fill(advice, assessment.facts, advice.how).strip() if advice.how else ""
        who = advice.who or "helpdesk"
        return Advice("step", fill(advice, assessment.facts), who, list(advice.sources), how)
    if advice is not None:
        return _escalate(fill(advice, assessment.facts))
    reason = kb.escalate[cause.category]
    return _escalate(fill(HelpdeskAdvice(escalate=reason), assessment.facts))
