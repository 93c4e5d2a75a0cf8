"""Which of the checks' observations bear on a cause: the rule the result card and the escalation render.

A check reports rows (server, property, value) about everything it read; only some show why a cause matched.
For each matched indicator of the cause whose fact a check established, the rows of that check that show the
fact: those whose property matches the fact's `evidence` pattern (facts.yaml), of them the ones naming the
indicator's value (its servers, sites, URLs; for a yes/no fact, the row showing that answer; for a value of
None or an empty list, all of them, which show what is absent). A fact without
a pattern keeps the rows naming a distinctive value (a server, an address, a URL; never a bare True, False or
None, which half the rows of any check show). The rest of each check's rows are counted, not shown.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from knowledge.assessment import Assessment, latest_results
from knowledge.inference import RankedCause
from knowledge.jsonvalue import JsonValue
from knowledge.loader import KnowledgeBase

__all__ = ["Bearing", "EvidenceRow", "ObservedCheck", "bearing"]

# Values too common to point at a row on their own.
_GENERIC = frozenset({"true", "false", "none", "(not set)", "", "yes", "no", "0", "1"})


class EvidenceRow(Protocol):
    """One observation of a check (`checks.api.Evidence` is one)."""

    @builtins.property
    def server(self) -> str: ...

    @builtins.property
    def property(self) -> str: ...

    @builtins.property
    def value(self) -> str: ...


class ObservedCheck(Protocol):
    """A check result with its observations (`checks.api.CheckResult` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def facts(self) -> Mapping[str, JsonValue]: ...

    @property
    def evidence(self) -> Sequence[EvidenceRow]: ...


@dataclass(frozen=True)
class Bearing:
    """The rows that bear on a cause, the strongest indicator's first, each with its check's id; and, per
    check that gave some, how many of its other rows were left out."""

    rows: list[tuple[str, EvidenceRow]] = field(default_factory=list)
    others: dict[str, int] = field(default_factory=dict)


def _tokens(value: JsonValue) -> set[str]:
    """The words of a fact's value that can name a row: list items, a record's values, a scalar."""
    if isinstance(value, list):
        return set().union(*(_tokens(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_tokens(v) for v in value.values())) if value else set()
    if value is None:
        return set()
    if isinstance(value, bool):
        return {"true" if value else "false"}
    return {str(value).casefold()}


def _names(row: EvidenceRow, tokens: set[str]) -> bool:
    return bool({row.server.casefold(), row.value.casefold()} & tokens)


def _shows(kb: KnowledgeBase, fact: str, value: JsonValue, rows: Sequence[EvidenceRow]) -> list[EvidenceRow]:
    """The rows of a check that show `fact` at `value`."""
    spec = kb.facts.get(fact)
    tokens = _tokens(value)
    if spec is None or spec.evidence is None:
        distinctive = tokens - _GENERIC
        return [row for row in rows if _names(row, distinctive)] if distinctive else []
    pattern = re.compile(spec.evidence, re.IGNORECASE)
    about = [row for row in rows if pattern.search(row.property)]
    if isinstance(value, bool):  # the row showing that answer, else every row showing the fact
        return [row for row in about if _names(row, tokens)] or about
    distinctive = tokens - _GENERIC
    if not distinctive:  # None, an empty list: every row showing the fact shows its absence
        return about
    return [row for row in about if _names(row, distinctive)]


def bearing(
    kb: KnowledgeBase, assessment: Assessment, cause: RankedCause, results: Sequence[ObservedCheck]
) -> Bearing:
    """The observations behind `cause`'s matched indicators (see the module's rule)."""
    latest = {r.id: r for r in latest_results(results)}
    chosen: list[tuple[str, EvidenceRow]] = []
    for matched in assessment.indicators(cause):
        source = matched.source
        if source is None or source.kind != "check" or source.check not in latest:
            continue
        result = latest[source.check]
        for row in _shows(kb, matched.match.fact, matched.match.value, result.evidence):
            if (result.id, row) not in chosen:
                chosen.append((result.id, row))
    others: dict[str, int] = {}
    for check_id in dict.fromkeys(c for c, _ in chosen):
        shown = sum(1 for c, _ in chosen if c == check_id)
        left = len(latest[check_id].evidence) - shown
        if left > 0:
            others[check_id] = left
    return Bearing(chosen, others)
