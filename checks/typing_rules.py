"""A check's facts must be among those its catalogue entry `establishes`, each of its declared type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from knowledge.loader import KnowledgeBase

__all__ = ["fact_problems", "has_type"]


def has_type(value: Any, fact_type: str) -> bool:
    if fact_type == "string":
        return isinstance(value, str)
    if fact_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if fact_type == "boolean":
        return isinstance(value, bool)
    if fact_type == "strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if fact_type == "integers":
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if fact_type == "records":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return False


def fact_problems(kb: KnowledgeBase, check_id: str, facts: Mapping[str, Any]) -> list[str]:
    spec = kb.checks.get(check_id)
    declared = set(spec.establishes) if spec else set()
    problems = []
    for name, value in facts.items():
        if name not in declared:
            problems.append(f"{name} is not in {check_id}'s establishes")
        elif name in kb.facts and not has_type(value, kb.facts[name].type):
            problems.append(f"{name} should be {kb.facts[name].type}, got {type(value).__name__}")
    return problems
