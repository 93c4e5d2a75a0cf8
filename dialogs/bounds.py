"""Bounds on what users type, applied before any regular expression sees it.

Every free-text input is collapsed (runs of whitespace become one space) and capped: a card's short answer
(an address, a site, a choice) at `MAX_ANSWER` characters. A message and pasted error text or command output
keep their lines and columns (the readers need them) and are cut one character past `MAX_PASTE`, the readers'
own limit (so a paste that is too long is still refused as such, never silently shortened); the readers are
linear and fuzzed, and each pattern in `dialogs.understand` collapses and caps what it reads first. `bounded` applies this to a whole `Inbound`, once,
as the conversation receives it; the functions that read text (`dialogs.understand`) collapse again, so no
caller can hand them an unbounded string.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dialogs.api import Inbound

__all__ = ["MAX_ANSWER", "MAX_MESSAGE", "MAX_PASTE", "PASTE_FIELDS", "bounded", "collapse", "paste"]

MAX_ANSWER = 1_000
MAX_MESSAGE = 20_000
MAX_PASTE = 1_048_576
# Card inputs that hold pasted text (error text, command output): lines and columns kept.
PASTE_FIELDS = frozenset({"text", "output", "tried"})
_MAX_FIELDS = 50
_MAX_DEPTH = 4


def collapse(text: str, limit: int = MAX_ANSWER) -> str:
    """`text` on one line, runs of whitespace made one space, at most `limit` characters (no regex; linear,
    on at most `MAX_PASTE` characters)."""
    return " ".join(text[:MAX_PASTE].split())[:limit]


def paste(text: str) -> str:
    """Pasted text, lines kept, cut one character past `MAX_PASTE` (the readers refuse it as too long)."""
    return text[: MAX_PASTE + 1]


def bounded(inbound: Inbound) -> Inbound:
    """The inbound with its text and every string of its card data bounded."""
    return replace(
        inbound,
        text=paste(inbound.text),
        value=_value(inbound.value, 0),
        user_name=collapse(inbound.user_name, 200),
    )


def _value(value: dict[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in list(value.items())[:_MAX_FIELDS]:
        name = collapse(str(key), 100)
        out[name] = _item(name, item, depth)
    return out


def _item(name: str, item: Any, depth: int) -> Any:
    if isinstance(item, str):
        return paste(item) if name in PASTE_FIELDS else collapse(item)
    if isinstance(item, dict):
        return _value(item, depth + 1) if depth < _MAX_DEPTH else {}
    if isinstance(item, list):
        return (
            [_item(name, element, depth + 1) for element in item[:_MAX_FIELDS]] if depth < _MAX_DEPTH else []
        )
    return item
