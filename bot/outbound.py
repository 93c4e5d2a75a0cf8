"""The conversation's `Outbound`s → Teams activities, sent through the turn's SDK context."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, Attachment
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext

from dialogs.api import Card, Outbound, State

__all__ = ["ADAPTIVE_CARD", "Checkpoint", "Escalate", "TurnEmitter", "card_activity"]

logger = logging.getLogger(__name__)

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

Escalate = Callable[[Card], Awaitable[str | None]]
Checkpoint = Callable[[State, dict[str, str]], Awaitable[None]]


def card_activity(card: Card, text: str = "") -> Activity:
    attachment: Attachment = CardFactory.adaptive_card(card)
    activity: Activity = MessageFactory.attachment(attachment, text=text or None)
    return activity


class TurnEmitter:
    """The `emit` handed to the conversation for one turn.

    `cards` maps each card_key to the id of the activity that shows it, so a later card with the same key is
    an `update_activity` of that message. The map comes from the conversation's stored state and goes back
    into it at the end of the turn (and with every checkpoint).
    """

    def __init__(
        self, context: TurnContext, cards: dict[str, str], escalate: Escalate, checkpoint: Checkpoint
    ) -> None:
        self._context = context
        self.cards = dict(cards)
        self._escalate = escalate
        self._checkpoint = checkpoint
        self.sent = 0
        self.updated_cards: dict[str, Card] = {}

    async def __call__(self, outbound: Outbound) -> str | None:
        if outbound.kind == "text":
            await self._send(MessageFactory.text(outbound.text))
        elif outbound.kind == "typing":
            await self._context.send_activity(Activity(type=ActivityTypes.typing))
        elif outbound.kind == "card":
            await self._card(_require_card(outbound), outbound.card_key, outbound.text)
        elif outbound.kind == "escalation":
            return await self._escalate(_require_card(outbound))
        elif outbound.kind == "checkpoint":
            if not isinstance(outbound.state, dict):
                raise ValueError("a checkpoint outbound needs a state")
            await self._checkpoint(outbound.state, self.cards)
        else:
            raise ValueError(f"unknown outbound kind {outbound.kind!r}")
        return None

    async def _card(self, card: Card, key: str, text: str) -> None:
        activity_id = self.cards.get(key) if key else None
        if activity_id:
            update = card_activity(card, text)
            update.id = activity_id
            try:
                await self._context.update_activity(update)
            except Exception:
                # The message may have been deleted in Teams: show the card again rather than lose it.
                logger.warning("updating card %r failed; sending it as a new message", key, exc_info=True)
            else:
                self.sent += 1
                self.updated_cards[activity_id] = card
                return
        response_id = await self._send(card_activity(card, text))
        if key and response_id:
            self.cards[key] = response_id

    async def _send(self, activity: Activity) -> str:
        response: Any = await self._context.send_activity(activity)
        self.sent += 1
        return str(getattr(response, "id", "") or "")


def _require_card(outbound: Outbound) -> Card:
    if not isinstance(outbound.card, dict):
        raise ValueError(f"a {outbound.kind!r} outbound needs a card")
    return outbound.card
