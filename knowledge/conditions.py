"""Evaluating one condition against the facts. Strings compare case-insensitively, as Exchange does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from knowledge.jsonvalue import JsonValue
from knowledge.model import Condition, Indicator, RuleOut

__all__ = ["Facts", "FactsView", "holds", "holds_all", "is_known"]

Facts = dict[str, JsonValue]
"""What a triage knows: fact names (facts.yaml) and their plain-JSON values."""
FactsView = Mapping[str, JsonValue]
"""Facts only read (any mapping of fact names to plain-JSON values)."""


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _same(left: Any, right: Any) -> bool:
    # bool is an int in Python; never let True equal 1 here.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(_fold(left) == _fold(right))


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def is_known(value: JsonValue) -> bool:
    return value is not None


def _is_empty(value: Any) -> bool:
    return value in ("", []) or (isinstance(value, dict) and not value)


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def holds(condition: Condition, facts: FactsView) -> bool:
    """Whether `condition` holds for `facts`. An unknown fact satisfies only `present: false`."""
    value = facts.get(condition.fact)
    op, operand = condition.operator, condition.operand
    if op == "present":
        present = is_known(value) and not _is_empty(value)
        return present is operand
    if op == "empty":
        return (is_known(value) and _is_empty(value)) is operand
    if not is_known(value):
        return False
    if op == "equals":
        return _same(value, operand)
    if op == "in":
        return any(_same(value, option) for option in operand)
    if op == "contains":
        return any(_same(item, operand) for item in _items(value))
    if op == "any_of":
        return any(_same(item, option) for item in _items(value) for option in operand)
    if op == "matches":
        regex = _regex(operand)
        return any(isinstance(item, str) and regex.search(item) for item in _items(value))
    if op in ("gte", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return bool(value >= operand) if op == "gte" else bool(value <= operand)
    raise AssertionError(f"unhandled operator {op}")


def holds_all(condition: Indicator | RuleOut, facts: FactsView) -> bool:
    """An indicator's or rule-out's own condition and every one of its `also` conditions."""
    return holds(condition, facts) and all(holds(extra, facts) for extra in condition.also)
