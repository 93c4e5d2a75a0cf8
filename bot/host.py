"""The SDK side of a turn: the AgentApplication's routes, handing each activity to the right part of the host."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, AdaptiveCardInvokeResponse
from microsoft_agents.hosting.core import (
    AgentApplication,
    Connections,
    MemoryStorage,
    MessageFactory,
    TurnContext,
    TurnState,
)

from bot.escalation_channel import ChannelTarget, Escalations, principal_from_activity, team_key
from bot.inbound import Classified, classify
from bot.outbound import ADAPTIVE_CARD, TurnEmitter
from bot.storage import ConflictError, Store
from bot.turns import TurnRunner, apology, correlation_id
from dialogs.api import Inbound

__all__ = ["TeamsHost", "build_application"]

logger = logging.getLogger(__name__)

MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"


class TeamsHost:
    """Receives every routed activity and answers for it."""

    def __init__(self, store: Store, runner: TurnRunner, escalations: Escalations) -> None:
        self._store = store
        self._runner = runner
        self._escalations = escalations

    async def on_activity(self, context: TurnContext, _state: TurnState) -> None:
        classified = classify(context.activity)
        if classified.command == "set_escalation_channel":
            await self._set_escalation_channel(context)
            return
        if classified.bot_added_to_team and classified.inbound is not None:
            await self._remember_team(context.activity, classified.inbound.team_id)
        if classified.inbound is not None:
            await self._turn(context, classified.inbound)

    async def on_execute(
        self, context: TurnContext, _state: TurnState, _data: Any
    ) -> AdaptiveCardInvokeResponse:
        """Action.Execute: a submit for the conversation; Teams gets the clicked card back if it changed."""
        emitter = await self._turn(context, _inbound_of(classify(context.activity)))
        clicked = context.activity.reply_to_id or ""
        card = emitter.updated_cards.get(clicked) if emitter is not None else None
        if card is not None:
            return AdaptiveCardInvokeResponse(status_code=200, type=ADAPTIVE_CARD, value=card)
        return AdaptiveCardInvokeResponse(status_code=200, type=MESSAGE_RESPONSE, value="Received")

    async def on_error(self, context: TurnContext, error: Exception) -> None:
        """Anything the turn runner did not catch: log it with a reference, apologise in chat without details."""
        reference = correlation_id()
        logger.error("turn failed [ref %s]", reference, exc_info=error)
        if context.activity is not None and context.activity.type in (
            ActivityTypes.message,
            ActivityTypes.invoke,
        ):
            await _say_safely(context, apology(reference))

    async def _turn(self, context: TurnContext, inbound: Inbound) -> TurnEmitter | None:
        return await self._runner.run(
            _state_key(context.activity),
            inbound,
            lambda cards, checkpoint: TurnEmitter(context, cards, self._escalations.post, checkpoint),
            lambda text: _say_safely(context, text),
        )

    async def _set_escalation_channel(self, context: TurnContext) -> None:
        target = ChannelTarget.from_activity(context.activity)
        if not target.channel_id or not target.service_url:
            await context.send_activity(MessageFactory.text("I can only do that in a team channel."))
            return
        answer = await self._escalations.choose(target, principal_from_activity(context.activity))
        await context.send_activity(MessageFactory.text(answer))

    async def _remember_team(self, activity: Activity, team_id: str) -> None:
        target = ChannelTarget.from_activity(activity)
        reference = activity.get_conversation_reference().model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        document = {"team": asdict(target), "reference": reference}
        for _ in range(3):
            _, etag = await self._store.read(team_key(team_id))
            try:
                await self._store.write(team_key(team_id), document, etag)
            except ConflictError:
                continue
            logger.info("bot added to team %s", target.label)
            return


def build_application(host: TeamsHost, connections: Connections) -> AgentApplication[TurnState]:
    """The SDK application with the host's routes. Conversation state lives in our store, not the SDK's."""
    application = AgentApplication[TurnState](
        storage=MemoryStorage(),
        connection_manager=connections,
        remove_recipient_mention=False,
        start_typing_timer=False,
    )
    application.activity([ActivityTypes.message, ActivityTypes.conversation_update])(host.on_activity)
    application.adaptive_card.action_execute(re.compile(r".*"))(host.on_execute)
    application.error(host.on_error)
    return application


def _inbound_of(classified: Classified) -> Inbound:
    if classified.inbound is None:
        raise ValueError("not an Action.Execute invoke")
    return classified.inbound


def _state_key(activity: Activity) -> str:
    conversation = activity.conversation.id if activity.conversation else ""
    return f"conv/{activity.channel_id}/{conversation}"


async def _say_safely(context: TurnContext, text: str) -> None:
    try:
        await context.send_activity(MessageFactory.text(text))
    except Exception:
        logger.exception("could not send a message to conversation %s", context.activity.conversation.id)
