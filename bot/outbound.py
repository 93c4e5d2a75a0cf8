"""The conversation's `Outbound`s → Teams activities, sent through the turn's SDK context."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from microsoft_agents.activity import Activity, ActivityTypes, Attachment
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext

from dialogs.api import Card, Outbound, State

__all__ = [
    "ADAPTIVE_CARD",
    "Checkpoint",
    "ConversationGone",
    "Escalate",
    "TurnEmitter",
    "Where",
    "card_activity",
]

logger = logging.getLogger(__name__)

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

Escalate = Callable[[Card, str], Awaitable[str | None]]
"""Posts an escalation card (with its key: a key already posted updates that post); answers where it went."""
Where = Callable[[], Awaitable[str | None]]
"""Where an escalation would go now, or None when no escalation channel is set."""
Checkpoint = Callable[[State, dict[str, str]], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

# Bot Connector throttling (429): tries in all, and the longest Retry-After honoured.
CONNECTOR_TRIES = 5
MAX_RETRY_AFTER = 60.0


class ConversationGone(Exception):
    """The Bot Connector will not take messages for this conversation any more (403/404: the bot was removed,
    the conversation deleted)."""


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
        self,
        context: TurnContext,
        cards: dict[str, str],
        escalate: Escalate,
        checkpoint: Checkpoint,
        *,
        where: Where | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._context = context
        self.cards = dict(cards)
        self._escalate = escalate
        self._where = where
        self._checkpoint = checkpoint
        self._sleep = sleep
        self.sent = 0
        self.updated_cards: dict[str, Card] = {}
        self.gone = False  # the connector refused this conversation (403/404): nothing more is sent

    async def _connector(self, call: Callable[[], Awaitable[T]]) -> T:
        """One Bot Connector call: 429 retried after its Retry-After; 403/404 end the conversation's posts."""
        if self.gone:
            raise ConversationGone("the conversation can no longer be posted to")
        for attempt in range(1, CONNECTOR_TRIES + 1):
            try:
                return await call()
            except aiohttp.ClientResponseError as error:
                if error.status in (403, 404):
                    self.gone = True
                    conversation = self._context.activity.conversation
                    logger.warning(
                        "conversation %s can no longer be posted to (Bot Connector HTTP %d); its job ends here",
                        conversation.id if conversation else "?",
                        error.status,
                    )
                    raise ConversationGone(f"Bot Connector HTTP {error.status}") from None
                if error.status != 429 or attempt == CONNECTOR_TRIES:
                    raise
                wait = _retry_after(error.headers)
                logger.info("Bot Connector throttled (429); retrying in %.1f s", wait)
                await self._sleep(wait)
        raise AssertionError("unreachable")

    async def __call__(self, outbound: Outbound) -> str | None:
        if outbound.kind == "text":
            await self._send(MessageFactory.text(outbound.text))
        elif outbound.kind == "typing":
            await self._connector(lambda: self._context.send_activity(Activity(type=ActivityTypes.typing)))
        elif outbound.kind == "card":
            await self._card(_require_card(outbound), outbound.card_key, outbound.text)
        elif outbound.kind == "escalation":
            return await self._escalate(_require_card(outbound), outbound.card_key)
        elif outbound.kind == "escalation_target":
            return await self._where() if self._where is not None else None
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
                await self._connector(lambda: self._context.update_activity(update))
            except ConversationGone:
                raise
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
        response: Any = await self._connector(lambda: self._context.send_activity(activity))
        self.sent += 1
        return str(getattr(response, "id", "") or "")


def _retry_after(headers: Any) -> float:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        seconds = float(value) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _require_card(outbound: Outbound) -> Card:
    if not isinstance(outbound.card, dict):
        raise ValueError(f"a {outbound.kind!r} outbound needs a card")
    return outbound.card
