"""Adaptive Cards as terminal text: text blocks, fact sets and containers as lines, actions as numbered
choices (typing a number submits that action's data, or shows its link)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Choice", "Rendered", "render_card"]

_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+|file://[^)\s]+)\)")


@dataclass(frozen=True)
class Choice:
    title: str
    data: dict[str, Any] | None = None
    url: str = ""


@dataclass
class Rendered:
    lines: list[str] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


def _plain(text: str) -> str:
    return _LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>", text).replace("**", "")


def _text_block(element: dict[str, Any], out: Rendered, indent: str) -> None:
    text = _plain(str(element.get("text", "")))
    if element.get("fontType") == "Monospace":
        out.lines += [f"{indent}    {line}" for line in text.split("\n") if line.strip()]
        return
    if element.get("weight") == "Bolder" and element.get("size") in ("Medium", "Large", "ExtraLarge"):
        out.lines.append("")
        text = text.upper() if element.get("size") != "Medium" else f"## {text}"
    out.lines += [f"{indent}{line}" for line in text.split("\n")]


def _element(element: dict[str, Any], out: Rendered, indent: str) -> None:
    kind = element.get("type")
    if element.get("separator"):
        out.lines.append("")
    if kind == "TextBlock":
        _text_block(element, out, indent)
    elif kind == "FactSet":
        out.lines += [f"{indent}  {f['title']}: {_plain(f['value'])}" for f in element.get("facts", [])]
    elif kind in ("Container", "Column"):
        for item in element.get("items", []):
            _element(item, out, indent)
    elif kind == "ColumnSet":
        for column in element.get("columns", []):
            _element(column, out, indent)
    elif kind == "ActionSet":
        actions = element.get("actions", [])
        out.choices += [_choice(a) for a in actions if a.get("type") != "Action.ShowCard"]
        for action in actions:
            if action.get("type") == "Action.ShowCard":
                _shown_card(action, out, indent)
    elif kind == "Input.Text":
        label = element.get("label") or element.get("placeholder") or element.get("id")
        out.inputs.append(str(element.get("id")))
        out.lines.append(f"{indent}  [{label}] (type it as a message)")


def _shown_card(action: dict[str, Any], out: Rendered, indent: str) -> None:
    """An Action.ShowCard's card, printed in place (a terminal has nothing to expand)."""
    out.lines.append(f"{indent}▸ {action.get('title', 'Details')}")
    inner = action.get("card")
    if isinstance(inner, dict):
        for element in inner.get("body", []):
            _element(element, out, indent + "  ")
        out.choices += [_choice(a) for a in inner.get("actions", []) if a.get("type") != "Action.ShowCard"]


def _choice(action: dict[str, Any]) -> Choice:
    if action.get("type") == "Action.OpenUrl":
        return Choice(str(action.get("title", "Open")), url=str(action.get("url", "")))
    data = action.get("data")
    return Choice(str(action.get("title", "")), data=dict(data) if isinstance(data, dict) else {})


def render_card(card: dict[str, Any]) -> Rendered:
    """The card's lines and its actions, numbered in order (body action sets first, then the card's)."""
    out = Rendered()
    for element in card.get("body", []):
        _element(element, out, "")
    out.choices += [_choice(a) for a in card.get("actions", [])]
    for number, choice in enumerate(out.choices, start=1):
        link = f" <{choice.url}>" if choice.url else ""
        out.lines.append(f"  {number}) {choice.title}{link}")
    return out
