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
from microsoft_agents.hosting.core import (
    ChannelServiceAdapter,
    ClaimsIdentity,
    OutboundHostValidator,
    TurnContext,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from bot.access import AccessPolicy, Principal
from bot.audit import AuditLog, AuditRecord
from bot.inbound import channel_data, tenant_of
from bot.outbound import card_activity
from bot.settings import Settings
from bot.storage import ConflictError, Store
from dialogs.api import Card
from dialogs.markdown import escape_markdown

__all__ = [
    "CONFIRM_ESCALATION",
    "ESCALATION_KEY",
    "MOVED",
    "NOT_ADMIN_CHANNEL",
    "ChannelTarget",
    "Escalations",
    "principal_from_activity",
    "team_key",
]

logger = logging.getLogger(__name__)

ESCALATION_KEY = "host/escalation-channel"
CONFIRM_ESCALATION = "Done: I will post escalations in {label}, each as a new thread."
NOT_ADMIN_CHANNEL = (
    "Only the bot's admins can choose where escalations go. Escalations stay where they are; ask an admin."
)
MOVED = "Escalations from the triage bot are now posted in {label} (set by {who}), no longer here."
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

    def __init__(
        self,
        store: Store,
        adapter: ChannelServiceAdapter,
        settings: Settings,
        hosts: OutboundHostValidator | None = None,
        *,
        policy: AccessPolicy | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._store = store
        self._adapter = adapter
        self._settings = settings
        self._hosts = hosts or OutboundHostValidator(enabled=settings.check_outbound_hosts)
        self._policy = policy or AccessPolicy.from_settings(settings)
        self._audit = audit or AuditLog(store)

    async def choose(self, target: ChannelTarget, principal: Principal) -> str:
        """An admin's "set escalation channel" in `target`: store it (it then wins over the configured one),
        tell the channel escalations went to before, and answer what to say. Anyone else is refused."""
        if not await self._policy.holds(principal, "admin"):
            await self._audit.append(
                AuditRecord(
                    "escalation-channel-refused",
                    principal.object_id,
                    principal.name,
                    tenant=principal.tenant_id,
                    detail={"channel": target.label},
                )
            )
            logger.warning("refused to set the escalation channel for %s (not an admin)", principal.object_id)
            return NOT_ADMIN_CHANNEL
        before = await self.target()
        await self.remember(target, principal)
        await self._audit.append(
            AuditRecord(
                "escalation-channel-set",
                principal.object_id,
                principal.name,
                tenant=principal.tenant_id,
                detail={"channel": target.label, "before": before.label if before else ""},
            )
        )
        if before is not None and before.channel_id != target.channel_id:
            who = principal.name or "an admin"
            await self.post(_notice(MOVED.format(label=target.label, who=who)), before)
        return CONFIRM_ESCALATION.format(label=target.label)

    async def remember(self, target: ChannelTarget, principal: Principal) -> None:
        """Store the channel an admin chose, with who chose it."""
        document = {**asdict(target), "set_by": principal.object_id}
        for _ in range(3):
            _, etag = await self._store.read(ESCALATION_KEY)
            try:
                await self._store.write(ESCALATION_KEY, document, etag)
            except ConflictError:
                continue
            logger.info("escalation channel set to %s", target.label)
            return
        raise ConflictError(ESCALATION_KEY)

    async def target(self) -> ChannelTarget | None:
        """The channel an admin chose, if one did and is still an admin; else the configured one."""
        stored, etag = await self._store.read(ESCALATION_KEY)
        chosen_by = str(stored.pop("set_by", "")) if etag is not None else ""
        if chosen_by and await self._policy.holds(Principal(chosen_by), "admin"):
            return ChannelTarget(**stored)
        if etag is not None:
            logger.warning("ignoring a stored escalation channel not set by a current admin")
        if self._settings.escalation_configured:
            return ChannelTarget(
                service_url=self._settings.escalation_service_url,
                channel_id=self._settings.escalation_channel_id,
                tenant_id=self._settings.escalation_tenant_id,
                label="the escalation channel",
                bot_id=f"28:{self._settings.client_id}" if self._settings.client_id else "",
            )
        return None

    async def post(self, card: Card, to: ChannelTarget | None = None) -> str | None:
        """Post `card` as a new thread (in the escalation channel, or `to`); answer where it went, or None
        (no channel set, or it failed)."""
        target = to or await self.target()
        if target is None:
            logger.warning("escalation not posted: no escalation channel is set")
            return None
        if not self._hosts.is_allowed(target.service_url):
            # The same check inbound serviceUrls pass: a stored or configured channel never sends elsewhere.
            logger.warning("escalation not posted: %s is not an allowed service host", target.label)
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


def principal_from_activity(activity: Activity) -> Principal:
    """Who sent an activity: the Entra object id Teams gives as `from.aadObjectId` (empty when none)."""
    sender = activity.from_property
    return Principal(
        object_id=((sender.aad_object_id or "") if sender else "").lower(),
        name=((sender.name or "") if sender else "")[:200],
        tenant_id=tenant_of(activity),
    )


def _notice(text: str) -> Card:
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": escape_markdown(text), "wrap": True}],
    }


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
