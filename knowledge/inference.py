"""Facts in, causes ranked by confidence out. Pure and deterministic: no I/O, no clock.

Confidence is the noisy-OR of the weights of a cause's matched indicators: 1 - prod(1 - w). Generic evidence
(a reset connection, a bare 401 or 500, a timeout: what many causes share) counts at most GENERIC_WEIGHT
each, and a cause that only generic evidence supports stays at or below GENERIC_CAP, so distinctive evidence
dominates. A known symptom that a cause does not produce excludes it, and so does any matched rule-out. Ties
break on the number of distinctive matched indicators, then of all matched indicators, then on the cause id. Each ranked cause carries its matched indicators (fact, value,
weight, sentence); each ruled-out cause the rule-out that removed it and how strongly it was pointed to.
This is the only place conditions are combined into a confidence; `knowledge.assessment` is its caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from knowledge.conditions import FactsView, holds, holds_all
from knowledge.jsonvalue import JsonObject, JsonValue, json_list
from knowledge.loader import KnowledgeBase
from knowledge.model import Cause, Indicator, RuleOut
from knowledge.remediation import FilledRemediation, fill_remediation

__all__ = [
    "GENERIC_CAP",
    "GENERIC_WEIGHT",
    "Inference",
    "Match",
    "RankedCause",
    "RuledOut",
    "implied_symptom",
    "infer",
    "noisy_or",
]

# What one piece of generic evidence adds at most, and where generic evidence alone stops.
GENERIC_WEIGHT = 0.15
GENERIC_CAP = 0.3


@dataclass(frozen=True)
class Match:
    """One indicator (or rule-out) that held: the fact it names, that fact's value, its weight (0 for a
    rule-out) and its evidence sentence with the value filled in."""

    fact: str
    value: JsonValue
    weight: float
    says: str

    def as_dict(self) -> JsonObject:
        return {"fact": self.fact, "value": self.value, "weight": self.weight, "says": self.says}


@dataclass(frozen=True)
class RankedCause:
    id: str
    title: str
    confidence: float
    evidence: list[str]
    checks: list[str]
    cases: list[str]
    remediations: list[FilledRemediation]
    matched: int
    indicators: list[Match] = field(default_factory=list)
    """The matched indicators, strongest first (`evidence` is their sentences)."""
    distinctive: int = 0
    """How many of them are distinctive (not generic)."""

    def as_dict(self) -> JsonObject:
        remediations: list[JsonValue] = [r.as_dict() for r in self.remediations]
        return {
            "id": self.id,
            "title": self.title,
            "confidence": self.confidence,
            "evidence": json_list(self.evidence),
            "checks": json_list(self.checks),
            "cases": json_list(self.cases),
            "remediations": remediations,
        }


@dataclass(frozen=True)
class RuledOut:
    id: str
    title: str
    reason: str
    strength: float = 0.0
    """How strongly the facts pointed to the cause before it was ruled out (noisy-OR of its matches)."""
    by: Match | None = None
    """The rule-out that held (None when the cause does not produce the symptom)."""


@dataclass(frozen=True)
class Inference:
    causes: list[RankedCause]
    ruled_out: list[RuledOut] = field(default_factory=list)

    @property
    def best(self) -> RankedCause | None:
        return self.causes[0] if self.causes else None


def implied_symptom(kb: KnowledgeBase, facts: FactsView) -> str | None:
    """The one symptom the facts imply (symptoms.yaml `implied_by`), or None when none or several do."""
    implied = [
        symptom.id
        for symptom in kb.symptoms.values()
        if any(all(holds(condition, facts) for condition in group) for group in symptom.implied_by)
    ]
    return implied[0] if len(implied) == 1 else None


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _match(condition: Indicator | RuleOut, facts: FactsView, weight: float) -> Match:
    value = facts.get(condition.fact)
    return Match(condition.fact, value, weight, condition.says.replace("{value}", _shown(value)))


def noisy_or(weights: Iterable[float]) -> float:
    """1 - prod(1 - w): how likely a cause is when each matched indicator alone points to it with w."""
    miss = 1.0
    for weight in weights:
        miss *= 1.0 - weight
    return 1.0 - miss


def _weight(indicator: Indicator) -> float:
    """What an indicator adds: its weight, at most GENERIC_WEIGHT for generic evidence."""
    return min(indicator.weight, GENERIC_WEIGHT) if indicator.generic else indicator.weight


def _held(cause: Cause, facts: FactsView) -> list[Indicator]:
    """The indicators of `cause` that hold, strongest first."""
    matched = [i for i in cause.indicators if holds_all(i, facts)]
    return sorted(matched, key=lambda i: -_weight(i))


def _matches(cause: Cause, facts: FactsView) -> list[Match]:
    """The indicators of `cause` that hold, strongest first."""
    return [_match(i, facts, _weight(i)) for i in _held(cause, facts)]


def _confidence(held: list[Indicator]) -> float:
    confidence = noisy_or(_weight(i) for i in held)
    return confidence if any(not i.generic for i in held) else min(confidence, GENERIC_CAP)


def _rule_out(kb: KnowledgeBase, cause: Cause, facts: FactsView) -> tuple[str, Match | None] | None:
    symptom = facts.get("symptom")
    if isinstance(symptom, str) and symptom in kb.symptoms and symptom not in cause.symptoms:
        return f"It does not produce the symptom '{kb.symptoms[symptom].title}'.", None
    for rule_out in cause.rule_outs:
        if holds_all(rule_out, facts):
            match = _match(rule_out, facts, 0.0)
            return match.says, match
    return None


def _rank(
    kb: KnowledgeBase, cause: Cause, facts: FactsView, checks_run: frozenset[str]
) -> RankedCause | None:
    held = _held(cause, facts)
    if not held:
        return None
    matched = [_match(i, facts, _weight(i)) for i in held]
    return RankedCause(
        id=cause.id,
        title=cause.title,
        confidence=round(_confidence(held), 3),
        evidence=[m.says for m in matched],
        checks=[c for c in cause.checks if c not in checks_run],
        cases=list(cause.cases),
        remediations=[fill_remediation(kb.remediations[r], facts) for r in cause.remediations],
        matched=len(matched),
        indicators=matched,
        distinctive=sum(not i.generic for i in held),
    )


def infer(kb: KnowledgeBase, facts: FactsView, *, checks_run: frozenset[str] = frozenset()) -> Inference:
    """Rank the causes `facts` point to. `checks_run` drops those checks from each cause's to-do list."""
    ranked: list[RankedCause] = []
    ruled_out: list[RuledOut] = []
    for cause in kb.causes.values():
        removed = _rule_out(kb, cause, facts)
        if removed is not None:
            pointed = _held(cause, facts)
            if pointed:
                reason, by = removed
                strength = _confidence(pointed)
                ruled_out.append(RuledOut(cause.id, cause.title, reason, strength, by))
            continue
        result = _rank(kb, cause, facts, checks_run)
        if result is not None:
            ranked.append(result)
    ranked.sort(key=lambda c: (-c.confidence, -c.distinctive, -c.matched, c.id))
    ruled_out.sort(key=lambda r: r.id)
    return Inference(causes=ranked, ruled_out=ruled_out)
