"""What a triage found: the facts from every source, the ranked causes, and the evidence behind the best one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.api import CheckResult, Evidence
from dialogs.state import TriageState
from knowledge.assessment import Assessment, FactSource, assess, latest_results
from knowledge.conditions import Facts
from knowledge.inference import Inference, RankedCause
from knowledge.loader import KnowledgeBase

__all__ = [
    "EvidenceRow",
    "Findings",
    "evidence_lines",
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


def _tokens(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {str(v).casefold() for v in items if v not in (None, "")}


def _bears_on(row: Evidence, fact: str, value: Any) -> bool:
    """Whether a check's row is about an indicator's fact: it names the value (a server, a site, a setting's
    value). A yes/no value is named by every flag that happens to be off, so there the row's property must
    also name the fact (`target.site.internet_facing` False: "Internet-facing = False", not
    "MAPIBlockOutlookRpcHttp = False")."""
    if isinstance(value, bool):
        words = fact.rsplit(".", 1)[-1].casefold().replace("_", " ").split()
        named = row.property.casefold().replace("-", " ")
        return row.value.casefold() in _tokens(value) and any(word in named for word in words)
    return bool({row.server.casefold(), row.value.casefold()} & _tokens(value))


def evidence_rows(kb: KnowledgeBase, findings: Findings, cause: RankedCause) -> list[EvidenceRow]:
    """The checks' own observations behind the matched indicators of `cause`: the rows about a fact's value
    (its servers, sites or setting). A failing check none of whose rows name the value gives all of them; a
    check that found nothing wrong gives only those rows (the rest describe the organisation, not the fault)."""
    results = {r.id: r for r in latest_results(findings.results)}
    about: dict[str, list[Evidence]] = {}
    for matched in findings.assessment.indicators(cause):
        where = matched.source
        if where is None or where.kind != "check" or where.check not in results:
            continue
        source = results[where.check]
        found = about.setdefault(source.id, [])
        found += [e for e in source.evidence if _bears_on(e, matched.match.fact, matched.match.value)]
    rows: list[EvidenceRow] = []
    for check_id, named in about.items():  # the strongest indicator's check first
        failed = results[check_id].status in ("fail", "warn")
        observed = named or (list(results[check_id].evidence) if failed else [])
        title = kb.checks[check_id].title if check_id in kb.checks else check_id
        for item in observed:
            row = EvidenceRow(title, item.server, item.property, item.value)
            if row not in rows:
                rows.append(row)
    return rows
