"""What a triage found: the facts from every source, the ranked causes, and the evidence behind the best one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.api import CheckResult, Evidence
from dialogs.api import State
from knowledge.conditions import Facts, holds_all
from knowledge.inference import Inference, RankedCause, combine_facts, infer
from knowledge.loader import KnowledgeBase
from knowledge.model import Indicator

__all__ = [
    "CONFIDENT",
    "EvidenceRow",
    "Findings",
    "check_facts",
    "evidence_lines",
    "evidence_rows",
    "find",
    "results_of",
]

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


def _source(findings: Findings, fact: str) -> CheckResult | None:
    return next((r for r in findings.results if fact in r.facts), None)


def _where(kb: KnowledgeBase, findings: Findings, fact: str) -> str:
    """Where a fact came from, in words."""
    source = _source(findings, fact)
    if source is not None:
        return "check: " + (kb.checks[source.id].title if source.id in kb.checks else source.id)
    origin = kb.facts[fact].source if fact in kb.facts else ""
    return {"conversation": "as you said", "reader": "from your pasted error"}.get(origin, origin)


def _matched(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[Indicator]:
    matched = [i for i in kb.causes[cause.id].indicators if holds_all(i, findings.facts)]
    return sorted(matched, key=lambda i: -i.weight)


def evidence_lines(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[str]:
    """Each matched indicator of `cause` as its sentence, strongest first, with where its fact came from."""
    lines = []
    for indicator in _matched(kb, findings, cause):
        says = indicator.says.replace("{value}", _shown(findings.facts.get(indicator.fact)))
        where = _where(kb, findings, indicator.fact)
        lines.append(f"{says} ({where})" if where else says)
    return lines


def _tokens(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {str(v).casefold() for v in items if v not in (None, "")}


def evidence_rows(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[EvidenceRow]:
    """The checks' own observations behind the matched indicators of `cause`: the rows about a fact's value
    (its servers, sites or setting). A failing check none of whose rows name the value gives all of them; a
    check that found nothing wrong gives only those rows (the rest describe the organisation, not the fault)."""
    about: dict[str, list[Evidence]] = {}
    for indicator in _matched(kb, findings, cause):
        source = _source(findings, indicator.fact)
        if source is None:
            continue
        tokens = _tokens(source.facts[indicator.fact])
        found = about.setdefault(source.id, [])
        found += [e for e in source.evidence if {e.server.casefold(), e.value.casefold()} & tokens]
    rows: list[EvidenceRow] = []
    results: dict[str, CheckResult] = {}
    for result in findings.results:
        results.setdefault(result.id, result)  # as `_source` finds them: the first with the fact
    for check_id, named in about.items():  # the strongest indicator's check first
        failed = results[check_id].status in ("fail", "warn")
        observed = named or (list(results[check_id].evidence) if failed else [])
        title = kb.checks[check_id].title if check_id in kb.checks else check_id
        for item in observed:
            row = EvidenceRow(title, item.server, item.property, item.value)
            if row not in rows:
                rows.append(row)
    return rows
