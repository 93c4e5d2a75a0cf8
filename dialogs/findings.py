"""What a triage found: the facts from every source, the ranked causes, and the evidence behind the best one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.api import CheckResult
from dialogs.api import State
from knowledge.conditions import Facts, holds_all
from knowledge.inference import Inference, RankedCause, combine_facts, infer
from knowledge.loader import KnowledgeBase

__all__ = ["CONFIDENT", "EvidenceRow", "Findings", "check_facts", "find", "results_of"]

# Below this the result card says plainly that there is no confident cause and offers escalation.
CONFIDENT = 0.6


@dataclass(frozen=True)
class EvidenceRow:
    """One observation behind the likely cause: which check (or the user, or the paste), where, what value."""

    source: str
    server: str
    property: str
    value: str


@dataclass(frozen=True)
class Findings:
    facts: Facts
    inference: Inference
    results: list[CheckResult]

    @property
    def best(self) -> RankedCause | None:
        return self.inference.best

    @property
    def confident(self) -> bool:
        return self.best is not None and self.best.confidence >= CONFIDENT


def results_of(state: State) -> list[CheckResult]:
    """Every check result the triage holds: the last run's (which includes the sites lookup), or the lookup."""
    raw: list[dict[str, Any]] = state.get("results") or ([state["lookup"]] if state.get("lookup") else [])
    return [CheckResult.from_dict(r) for r in raw]


def check_facts(results: list[CheckResult]) -> Facts:
    merged: Facts = {}
    for result in results:
        merged.update(result.facts)
    return merged


def find(kb: KnowledgeBase, state: State) -> Findings:
    results = results_of(state)
    facts = combine_facts(state["said"], state["pasted"], check_facts(results))
    ran = frozenset(r.id for r in results if r.status != "skipped")
    return Findings(facts=facts, inference=infer(kb, facts, checks_run=ran), results=results)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def evidence_rows(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[EvidenceRow]:
    """For each indicator of `cause` that matched: the check's own evidence for it, or where the fact came from."""
    rows: list[EvidenceRow] = []
    for indicator in kb.causes[cause.id].indicators:
        if not holds_all(indicator, findings.facts):
            continue
        source = next((r for r in findings.results if indicator.fact in r.facts), None)
        if source is None:
            origin = kb.facts[indicator.fact].source
            label = {"conversation": "you said", "reader": "your pasted error"}.get(origin, origin)
            rows.append(EvidenceRow(label, "", indicator.fact, _shown(findings.facts[indicator.fact])))
            continue
        title = kb.checks[source.id].title if source.id in kb.checks else source.id
        observed = source.evidence or ()
        if not observed:
            rows.append(EvidenceRow(title, "", indicator.fact, _shown(source.facts[indicator.fact])))
        for item in observed:
            row = EvidenceRow(title, item.server, item.property, item.value)
            if row not in rows:
                rows.append(row)
    return rows
