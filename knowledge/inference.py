"""Facts in, causes ranked by confidence out. Pure and deterministic: no I/O, no clock.

Confidence is the noisy-OR of the weights of a cause's matched indicators: 1 - prod(1 - w). A known symptom
that a cause does not produce excludes it, and so does any matched rule-out. Ties break on the number of
matched indicators, then on the cause id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.conditions import Facts, holds, holds_all
from knowledge.loader import KnowledgeBase
from knowledge.model import Cause, Indicator
from knowledge.remediation import FilledRemediation, fill_remediation

__all__ = ["Inference", "RankedCause", "RuledOut", "combine_facts", "implied_symptom", "infer"]

# Facts the reader finds that stand for conversation facts when the user has not given them.
_READER_STANDS_IN = {"requester": "request.requester", "target": "request.target"}


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "confidence": self.confidence,
            "evidence": self.evidence,
            "checks": self.checks,
            "cases": self.cases,
            "remediations": [r.as_dict() for r in self.remediations],
        }


@dataclass(frozen=True)
class RuledOut:
    id: str
    title: str
    reason: str


@dataclass(frozen=True)
class Inference:
    causes: list[RankedCause]
    ruled_out: list[RuledOut] = field(default_factory=list)

    @property
    def best(self) -> RankedCause | None:
        return self.causes[0] if self.causes else None


def combine_facts(conversation: Facts, pasted: Facts, checks: Facts | None = None) -> Facts:
    """One fact set: checks, then the paste, then what the user said (the user wins: they may correct us)."""
    combined: Facts = {**(checks or {}), **pasted}
    for fact, stand_in in _READER_STANDS_IN.items():
        if fact not in conversation and stand_in in pasted:
            combined[fact] = pasted[stand_in]
    combined.update({k: v for k, v in conversation.items() if v is not None})
    return combined


def implied_symptom(kb: KnowledgeBase, facts: Facts) -> str | None:
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


def _evidence(indicator: Indicator, facts: Facts) -> str:
    return indicator.says.replace("{value}", _shown(facts.get(indicator.fact)))


def _rule_out(kb: KnowledgeBase, cause: Cause, facts: Facts) -> str | None:
    symptom = facts.get("symptom")
    if isinstance(symptom, str) and symptom in kb.symptoms and symptom not in cause.symptoms:
        return f"It does not produce the symptom '{kb.symptoms[symptom].title}'."
    for rule_out in cause.rule_outs:
        if holds_all(rule_out, facts):
            return rule_out.says.replace("{value}", _shown(facts.get(rule_out.fact)))
    return None


def _rank(kb: KnowledgeBase, cause: Cause, facts: Facts, checks_run: frozenset[str]) -> RankedCause | None:
    matched = [i for i in cause.indicators if holds_all(i, facts)]
    if not matched:
        return None
    miss = 1.0
    for indicator in matched:
        miss *= 1.0 - indicator.weight
    return RankedCause(
        id=cause.id,
        title=cause.title,
        confidence=round(1.0 - miss, 3),
        evidence=[_evidence(i, facts) for i in sorted(matched, key=lambda i: -i.weight)],
        checks=[c for c in cause.checks if c not in checks_run],
        cases=list(cause.cases),
        remediations=[fill_remediation(kb.remediations[r], facts) for r in cause.remediations],
        matched=len(matched),
    )


def infer(kb: KnowledgeBase, facts: Facts, *, checks_run: frozenset[str] = frozenset()) -> Inference:
    """Rank the causes `facts` point to. `checks_run` drops those checks from each cause's to-do list."""
    ranked: list[RankedCause] = []
    ruled_out: list[RuledOut] = []
    for cause in kb.causes.values():
        reason = _rule_out(kb, cause, facts)
        if reason is not None:
            if any(holds_all(i, facts) for i in cause.indicators):
                ruled_out.append(RuledOut(cause.id, cause.title, reason))
            continue
        result = _rank(kb, cause, facts, checks_run)
        if result is not None:
            ranked.append(result)
    ranked.sort(key=lambda c: (-c.confidence, -c.matched, c.id))
    ruled_out.sort(key=lambda r: r.id)
    return Inference(causes=ranked, ruled_out=ruled_out)
