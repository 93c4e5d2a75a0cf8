"""Teams manners that depend on where the conversation is: in a group chat Teams delivers a message to the
bot only when it is @mentioned, so the cards say so instead of "You can also type your answer"."""

from __future__ import annotations

from typing import Any

from dialogs.api import Card
from dialogs.cards import COMMANDS_HINT

__all__ = ["GROUP_HINT", "for_conversation"]

GROUP_HINT = (
    "To type an answer here, @mention me first (Teams shows me only messages that mention me). "
    "help, back, restart, cancel and status work the same way."
)


def _hinted(value: Any) -> Any:
    if isinstance(value, dict):
        if (
            value.get("type") == "TextBlock"
            and isinstance(value.get("text"), str)
            and COMMANDS_HINT in value["text"]
        ):
            return {**value, "text": value["text"].replace(COMMANDS_HINT, GROUP_HINT)}
        return {k: _hinted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hinted(v) for v in value]
    return value


def for_conversation(card: Card, conversation_type: str) -> Card:
    """`card` as it should read in this kind of conversation (personal chats: as it is)."""
    if conversation_type != "groupChat":
        return card
    hinted: Card = _hinted(card)
    return hinted
