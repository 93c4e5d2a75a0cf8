"""What a triage found: the facts from every source, the ranked causes, and the evidence behind the best one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.api import CheckResult
from dialogs.state import TriageState
from knowledge.assessment import Assessment, FactSource, assess, latest_results
from knowledge.conditions import Facts
from knowledge.evidence import bearing
from knowledge.inference import Inference, RankedCause
from knowledge.loader import KnowledgeBase

__all__ = [
    "EvidenceRow",
    "Findings",
    "evidence_lines",
    "evidence_others",
    "evidence_rows",
    "find",
    "findings_of",
    "results_of",
]


@dataclass(frozen=True)
class EvidenceRow:
    """One observation behind the likely cause: which check (or the user, or the paste), where, what value."""

    source: str
    server: str
    property: str
    value: str


@dataclass(frozen=True)
class Findings:
    """The triage's one `Assessment` (knowledge.assessment) and the check results it was made from, whose
    evidence rows and remedies the cards show."""

    assessment: Assessment
    results: list[CheckResult]

    @property
    def facts(self) -> Facts:
        return self.assessment.facts

    @property
    def inference(self) -> Inference:
        return self.assessment.inference

    @property
    def best(self) -> RankedCause | None:
        return self.assessment.best

    @property
    def confident(self) -> bool:
        return self.assessment.confident


def results_of(state: TriageState) -> list[CheckResult]:
    """Every check result the triage holds: the last run's (which includes the sites lookup), or the lookup."""
    if state.results:
        return list(state.results)
    return [state.lookup.result] if state.lookup else []


def findings_of(kb: KnowledgeBase, said: Facts, pasted: Facts, results: list[CheckResult]) -> Findings:
    return Findings(assess(kb, said=said, pasted=pasted, results=results), results)


def find(kb: KnowledgeBase, state: TriageState) -> Findings:
    return findings_of(kb, state.said, state.pasted, results_of(state))


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _where(kb: KnowledgeBase, source: FactSource | None, fact: str) -> str:
    """Where a fact came from, in words."""
    if source is not None and source.kind == "check":
        return "check: " + (kb.checks[source.check].title if source.check in kb.checks else source.check)
    origin = kb.facts[fact].source if fact in kb.facts else ""
    return {"conversation": "as you said", "reader": "from your pasted error"}.get(origin, origin)


def evidence_lines(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[str]:
    """Each matched indicator of `cause` as its sentence, strongest first, with where its fact came from."""
    lines = []
    for item in findings.assessment.indicators(cause):
        says = item.match.says
        where = _where(kb, item.source, item.match.fact)
        lines.append(f"{says} ({where})" if where else says)
    return lines


def evidence_rows(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[EvidenceRow]:
    """The checks' own observations that bear on `cause` (the rule is `knowledge.evidence.bearing`), the
    strongest indicator's first, each with its check's title."""
    found = bearing(kb, findings.assessment, cause, latest_results(findings.results))
    return [
        EvidenceRow(_title(kb, check_id), item.server, item.property, item.value)
        for check_id, item in found.rows
    ]


def evidence_others(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[str]:
    """One line per check that gave rows: how many of its other rows were left out as not bearing on it."""
    found = bearing(kb, findings.assessment, cause, latest_results(findings.results))
    return [
        f"{_title(kb, check_id)} read {count} more {'value' if count == 1 else 'values'}, "
        "none of them behind this cause."
        for check_id, count in found.others.items()
    ]


def _title(kb: KnowledgeBase, check_id: str) -> str:
    return kb.checks[check_id].title if check_id in kb.checks else check_id
