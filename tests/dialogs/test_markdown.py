"""User text shows as typed on every card: one escaping function, applied by the card primitives.

Before, a display name, a paste or "already tried" went into the escalation card as markdown: the bot posted
clickable `[label](https://evil)` links into the Exchange team's channel.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from dialogs.api import Card
from dialogs.cards import fact_set, markdown, text
from dialogs.markdown import escape_markdown
from tests.dialogs.harness import Chat, unescape_markdown
from tests.texts import pasted_text
from tests.world import SEED_000, scenario_runner

ROOT = Path(__file__).resolve().parents[2]
EVIL = "[Reset your password](https://evil.example/login)"
# A link or an image in markdown: [label](target), the [ not escaped.
_LINK = re.compile(r"(?<!\\)!?\[[^\]]*(?<!\\)\]\(")
_EMPHASIS = re.compile(r"(?<!\\)(\*\*|__)[^*_]+(?<!\\)\1")


@pytest.mark.parametrize(
    "value",
    [
        EVIL,
        "**bold** and __bold__",
        "*it* _it_ ~~gone~~ `code`",
        "![img](https://evil.example/x.png)",
        "a\\[b",
    ],
)
def test_escaped_text_holds_no_markdown_and_reads_as_typed(value: str) -> None:
    escaped = escape_markdown(value)
    assert not _LINK.search(escaped) and not _EMPHASIS.search(escaped)
    assert unescape_markdown(escaped) == value


def test_a_backslash_before_a_letter_is_left_alone() -> None:
    # EX02\owa and C:\Program Files read the same escaped or not: CommonMark escapes only punctuation.
    assert escape_markdown("EX02\\owa (Default Web Site)") == "EX02\\owa (Default Web Site)"
    assert escape_markdown("$_.Thumbprint -eq '*'") == "$\\_.Thumbprint -eq '\\*'"


def test_the_card_primitives_escape_and_only_markdown_takes_markdown() -> None:
    assert text(EVIL)["text"] == escape_markdown(EVIL)
    facts = fact_set([(EVIL, EVIL)])["facts"][0]
    assert facts == {"title": escape_markdown(EVIL), "value": escape_markdown(EVIL)}
    assert markdown("[docs](https://learn.microsoft.com/)")["text"] == "[docs](https://learn.microsoft.com/)"


def _card_builder_sources() -> list[Path]:
    return sorted(path for path in (ROOT / "dialogs").glob("*.py") if path.name != "cards.py")


@pytest.mark.parametrize("path", _card_builder_sources(), ids=lambda p: p.name)
def test_every_card_builder_goes_through_the_escaping_primitives(path: Path) -> None:
    # No card builder writes a text element itself: every TextBlock and FactSet comes from dialogs.cards.
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant):
                    assert value.value not in ("TextBlock", "FactSet", "RichTextBlock", "TextRun"), path.name
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "markdown":
            assert path.name == "result_card.py", f"{path.name} calls markdown()"


def _texts(card: Card) -> list[str]:
    found: list[str] = []

    def walk(element: Any) -> None:
        if isinstance(element, dict):
            if element.get("type") == "TextBlock":
                found.append(str(element.get("text", "")))
            if element.get("type") == "FactSet":
                found.extend(f"{f['title']}\n{f['value']}" for f in element.get("facts", []))
            for value in element.values():
                walk(value)
        elif isinstance(element, list):
            for item in element:
                walk(item)

    walk(card)
    return found


async def test_no_card_of_a_whole_triage_shows_a_users_link_or_formatting() -> None:
    chat = Chat(runner=scenario_runner(SEED_000), user_name=f"Ada {EVIL} **Lovelace**")
    await chat.say("hi " + EVIL)
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Everyone in that direction")
    await chat.say(f"alice@contoso.com can't see bjorn@contoso.com {EVIL}")
    await chat.say(pasted_text("seed-000-event-4002.txt") + "\n" + EVIL + "\n**look here**")
    await chat.say("status")
    await chat.press("Escalate")
    await chat.press("Escalate now", tried=f"Clicked {EVIL} and __restarted__ IIS")
    cards = chat.cards()
    escalation = [o.card for o in chat.recorder.sent if o.kind == "escalation" and o.card]
    assert escalation, "the triage reached the escalation card"
    shown = [t for card in [*cards, *escalation] for t in _texts(card)]
    assert any("Reset your password" in t for t in shown), "the hostile text is on the cards, escaped"
    for block in shown:
        assert not _LINK.search(block) or "learn.microsoft.com" in block, block
        assert not _EMPHASIS.search(block), block
