"""From check results to the inference: one fact set (checks, then the paste, then what the user said)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from checks.api import CheckResult
from knowledge.inference import Inference, combine_facts, infer
from knowledge.loader import KnowledgeBase

__all__ = ["checks_run", "diagnose_results", "merged_facts"]


def merged_facts(results: Iterable[CheckResult]) -> dict[str, Any]:
    """Every check's facts; where two checks say the same fact, the first (catalogue order) wins."""
    facts: dict[str, Any] = {}
    for result in results:
        for name, value in result.facts.items():
            facts.setdefault(name, value)
    return facts


def checks_run(results: Iterable[CheckResult]) -> frozenset[str]:
    """The checks that looked (ok, warn or fail): a cause need not ask for them again."""
    return frozenset(r.id for r in results if r.status in ("ok", "warn", "fail"))


def diagnose_results(
    kb: KnowledgeBase,
    results: list[CheckResult],
    *,
    conversation: Mapping[str, Any] | None = None,
    pasted: Mapping[str, Any] | None = None,
) -> Inference:
    facts = combine_facts(dict(conversation or {}), dict(pasted or {}), merged_facts(results))
    return infer(kb, facts, checks_run=checks_run(results))
