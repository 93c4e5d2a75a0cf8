"""The escalation channel: where it is (set by an admin in Teams, or configured) and posting new threads to it.

A new channel thread is a new conversation: the host continues a conversation with the channel's service URL
and, through that turn's connector, creates a conversation in the channel with the card as its first message
(`POST /v3/conversations` with `isGroup` and `channelData.channel.id`), which is how Teams starts a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.hosting.core import ChannelServiceAdapter, ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from bot.inbound import channel_data, tenant_of
from bot.outbound import card_activity
from bot.settings import Settings
from bot.storage import ConflictError, Store
from dialogs.api import Card

__all__ = ["ESCALATION_KEY", "ChannelTarget", "Escalations", "team_key"]

logger = logging.getLogger(__name__)

ESCALATION_KEY = "host/escalation-channel"
TEAMS = "msteams"


def team_key(team_id: str) -> str:
    return f"team/{team_id}"


@dataclass(frozen=True)
class ChannelTarget:
    """A Teams channel the bot can post to."""

    service_url: str
    channel_id: str
    tenant_id: str
    label: str
    bot_id: str = ""

    @classmethod
    def from_activity(cls, activity: Activity) -> ChannelTarget:
        data = channel_data(activity)
        team_name = _field(data, "team", "name") or "Team"
        # Teams leaves the name out for a team's General channel.
        channel_name = _field(data, "channel", "name") or "General"
        return cls(
            service_url=activity.service_url or "",
            channel_id=_field(data, "channel", "id"),
            tenant_id=tenant_of(activity),
            label=f"{team_name} › {channel_name}",
            bot_id=activity.recipient.id if activity.recipient else "",
        )


class Escalations:
    """Finds the escalation channel and starts threads in it."""

    def __init__(self, store: Store, adapter: ChannelServiceAdapter, settings: Settings) -> None:
        self._store = store
        self._adapter = adapter
        self._settings = settings

    async def remember(self, target: ChannelTarget) -> None:
        """Store the channel an admin chose (it then wins over the configured one)."""
        for _ in range(3):
            _, etag = await self._store.read(ESCALATION_KEY)
            try:
                await self._store.write(ESCALATION_KEY, asdict(target), etag)
            except ConflictError:
                continue
            logger.info("escalation channel set to %s", target.label)
            return
        raise ConflictError(ESCALATION_KEY)

    async def target(self) -> ChannelTarget | None:
        stored, etag = await self._store.read(ESCALATION_KEY)
        if etag is not None:
            return ChannelTarget(**stored)
        if self._settings.escalation_configured:
            return ChannelTarget(
                service_url=self._settings.escalation_service_url,
                channel_id=self._settings.escalation_channel_id,
                tenant_id=self._settings.escalation_tenant_id,
                label="the escalation channel",
                bot_id=f"28:{self._settings.client_id}" if self._settings.client_id else "",
            )
        return None

    async def post(self, card: Card) -> str | None:
        """Post `card` as a new thread; answer where it went, or None (no channel set, or it failed)."""
        target = await self.target()
        if target is None:
            logger.warning("escalation not posted: no escalation channel is set")
            return None
        created: list[str] = []

        async def create_thread(context: TurnContext) -> None:
            connector = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
            if connector is None:
                raise RuntimeError("the proactive turn has no connector client")
            response = await connector.conversations.create_conversation(_thread(target, card))
            created.append(response.id or "")

        try:
            await self._adapter.continue_conversation_with_claims(
                self._identity(), _continuation(target), _guarded(create_thread)
            )
        except Exception:
            logger.exception("posting the escalation to %s failed", target.label)
            return None
        if not created:
            return None
        logger.info("escalation posted to %s (thread %s)", target.label, created[0])
        return target.label

    def _identity(self) -> ClaimsIdentity:
        if self._settings.anonymous:
            # Claims-less identity: the SDK's anonymous token provider (local development only).
            return ClaimsIdentity()
        return self._adapter.create_claims_identity(self._settings.client_id)


def _field(data: dict[str, Any], section: str, name: str) -> str:
    part = data.get(section)
    value = part.get(name) if isinstance(part, dict) else None
    return value if isinstance(value, str) else ""


def _guarded(callback: Callable[[TurnContext], Awaitable[None]]) -> Callable[[TurnContext], Awaitable[None]]:
    """Keep the proactive turn's errors away from the adapter's turn-error handler (which would chat)."""

    async def run(context: TurnContext) -> None:
        try:
            await callback(context)
        except Exception:
            logger.exception("creating the escalation thread failed")

    return run


def _continuation(target: ChannelTarget) -> Activity:
    reference: dict[str, Any] = {
        "channelId": TEAMS,
        "serviceUrl": target.service_url,
        "conversation": {
            "id": target.channel_id,
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": target.tenant_id,
        },
    }
    if target.bot_id:
        reference["bot"] = {"id": target.bot_id}
    activity: Activity = ConversationReference.model_validate(reference).get_continuation_activity()
    return activity


def _thread(target: ChannelTarget, card: Card) -> ConversationParameters:
    parameters: dict[str, Any] = {
        "isGroup": True,
        "channelData": {"channel": {"id": target.channel_id}, "tenant": {"id": target.tenant_id}},
        "activity": card_activity(card),
    }
    if target.bot_id:
        parameters["bot"] = {"id": target.bot_id}
    if target.tenant_id:
        parameters["tenantId"] = target.tenant_id
    return ConversationParameters.model_validate(parameters)
