"""Plain JSON as types: what crosses a seam (a stored state, a card, a fact's value) is one of these."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

__all__ = ["JsonObject", "JsonValue", "json_list"]

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


def json_list(values: Iterable[JsonValue]) -> list[JsonValue]:
    """`values` as a JSON list (a list of str is not a list of JsonValue to the type checker: lists are
    invariant)."""
    return list(values)
