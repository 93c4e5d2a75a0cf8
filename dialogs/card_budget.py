"""Keeping a card under Teams' size limit (about 28 KB) whatever it shows: text clipped to a budget of
serialized bytes, lists cut short with a line that says how many more there are.

Sizes are counted as the host sends them: JSON with non-ASCII characters escaped (an emoji costs 12 bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["clip", "fit_lines", "size"]

ELLIPSIS = "…"
_SEPARATOR = "\n\n"  # between the lines of a code block (`dialogs.cards.code`)


def size(value: Any) -> int:
    """Bytes `value` takes in the card's JSON."""
    return len(json.dumps(value))


def clip(value: str, budget: int) -> str:
    """`value`, cut short (ending in …) so that it takes at most `budget` bytes as a JSON string."""
    if size(value) <= budget:
        return value
    room = budget - size(ELLIPSIS)
    kept: list[str] = []
    for char in value:
        room -= size(char) - 2  # without the quotes
        if room < 0:
            break
        kept.append(char)
    return "".join(kept) + ELLIPSIS


def fit_lines(lines: Sequence[str], budget: int, *, line_budget: int = 2000) -> tuple[list[str], int]:
    """The first `lines` (each clipped to `line_budget`) that fit in `budget` bytes as one code block, at
    least one of them; and how many were left out."""
    kept: list[str] = []
    used = 2
    for line in lines:
        shown = clip(line, line_budget)
        cost = size(shown) - 2 + (size(_SEPARATOR) - 2 if kept else 0)
        if kept and used + cost > budget:
            break
        kept.append(shown)
        used += cost
    return kept, len(lines) - len(kept)
