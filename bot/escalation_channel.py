"""The escalation channel: where it is (set by an admin in Teams, or configured), posting cards to it as new
threads, remembering those posts and updating them in place.

A new channel thread is a new conversation: the host continues a conversation with the channel's service URL
and, through that turn's connector, creates a conversation in the channel with the card as its first message
(`POST /v3/conversations` with `isGroup` and `channelData.channel.id`), which is how Teams starts a thread.
Teams answers the thread's conversation id and the id of that first message; a post made under a key is
remembered in the store (`channel-post/{key}`: where it is, the card, and what a feature keeps with it) and
updated in place later (`PUT /v3/conversations/{thread}/activities/{message}`) for everyone in the channel.

An escalation is posted under its triage's key: escalating the same triage again updates its post (no
duplicate), and "I'll take it" on the card records who took it (`take`, audited) and updates the card.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.hosting.core import (
    ChannelServiceAdapter,
    ClaimsIdentity,
    MessageFactory,
    OutboundHostValidator,
    TurnContext,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from bot.access import AccessPolicy, Principal
from bot.audit import AuditLog, AuditRecord
from bot.inbound import channel_data, tenant_of
from bot.outbound import card_activity
from bot.settings import Settings
from bot.storage import ConflictError, StorageError, Store
from dialogs.api import Card
from dialogs.escalation import Owner, is_escalation_key, owned
from dialogs.markdown import escape_markdown
from knowledge.jsonvalue import JsonObject

__all__ = [
    "CONFIRM_ESCALATION",
    "ESCALATION_KEY",
    "GONE",
    "MOVED",
    "NOT_ADMIN_CHANNEL",
    "POST_PREFIX",
    "ChannelPost",
    "ChannelTarget",
    "Escalations",
    "RememberedPost",
    "channel_reference",
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
POST_PREFIX = "channel-post/"
GONE = "I no longer have this escalation (it is older than what I keep), so I could not record who took it."
HAS_IT = "{name} has had this since {when}. If you are taking it over from them, press Take over on the card."
YOURS = "You have this one already (since {when})."
TAKEN_NOTICE = "{name} has taken your escalation of triage {triage} in {where}."
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


@dataclass(frozen=True)
class ChannelPost:
    """A card the bot posted as a new channel thread: the channel, the thread's conversation id and the id of
    its first message (the card), which is what updating it in place needs."""

    target: ChannelTarget
    conversation_id: str
    activity_id: str


@dataclass(frozen=True)
class RememberedPost:
    """A post kept under a key: where it is, the card as the feature built it, what the feature keeps with
    it (`data`: the escalation's owner), and the stored version (`etag`) to write it back with."""

    post: ChannelPost
    card: Card
    data: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None


class Escalations:
    """Finds the escalation channel, starts threads in it, and remembers and updates keyed posts."""

    def __init__(
        self,
        store: Store,
        adapter: ChannelServiceAdapter,
        settings: Settings,
        hosts: OutboundHostValidator | None = None,
        *,
        policy: AccessPolicy | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._adapter = adapter
        self._settings = settings
        self._hosts = hosts or OutboundHostValidator(enabled=settings.check_outbound_hosts)
        self._policy = policy or AccessPolicy.from_settings(settings)
        self._audit = audit or AuditLog(store)
        self._clock = clock

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
            await self.post(_notice(MOVED.format(label=target.label, who=who)), to=before)
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

    async def where(self) -> str | None:
        """Where an escalation would go now (the channel's label), or None when no channel is set."""
        target = await self.target()
        return target.label if target is not None and self._hosts.is_allowed(target.service_url) else None

    async def escalate(self, card: Card, key: str = "", asker: JsonObject | None = None) -> str | None:
        """The conversation's escalation: a new thread, or with a `key` already posted in the escalation
        channel an update of that post (keeping who has taken it). `asker` is the reference of the
        conversation it came from (told when someone takes it). Answers where it went, or None."""
        return await self.post(card, key, asker=asker)

    async def post(
        self, card: Card, key: str = "", *, to: ChannelTarget | None = None, asker: JsonObject | None = None
    ) -> str | None:
        """Post `card` (in the escalation channel, or `to`); answer where it went, or None (no channel set,
        or it failed). With `key` the post is remembered (with `asker`, the conversation reference to tell
        when someone takes it), and a post already made under `key` in the same channel is updated in place
        instead of starting another thread."""
        target = to or await self.target()
        if target is None:
            logger.warning("escalation not posted: no escalation channel is set")
            return None
        if not self._hosts.is_allowed(target.service_url):
            # The same check inbound serviceUrls pass: a stored or configured channel never sends elsewhere.
            logger.warning("escalation not posted: %s is not an allowed service host", target.label)
            return None
        remembered = await self.recall(key) if key else None
        data = remembered.data if remembered is not None else {}
        shown = self._shown(key, card, data)
        if remembered is not None and remembered.post.target.channel_id == target.channel_id:
            if await self.update_post(remembered.post, shown):
                await self._remember(key, remembered.post, card, data, asker)
                return target.label
            logger.warning("updating the post %s failed; posting it as a new thread", key)
        post = await self.start_thread(shown, target)
        if post is None:
            return None
        if key:
            await self._remember(key, post, card, data, asker)
        return target.label

    def _shown(self, key: str, card: Card, data: dict[str, Any]) -> Card:
        """The card as the channel shows it: an escalation's with who has taken it."""
        return owned(card, _owner(data)) if is_escalation_key(key) else card

    async def _remember(
        self, key: str, post: ChannelPost, card: Card, shown_with: dict[str, Any], asker: JsonObject | None
    ) -> None:
        """Keep `post` with its new `card` and what the post kept so far. Someone who took it meanwhile is
        kept too (the card is shown again with them). The post is made: a store that fails is logged only."""
        try:
            for _ in range(3):
                remembered = await self.recall(key)
                data = remembered.data if remembered is not None else {}
                if asker:
                    data = {**data, "asker": asker}
                try:
                    await self.keep_post(key, post, card, data, remembered.etag if remembered else None)
                except ConflictError:
                    continue
                if _owner(data) != _owner(shown_with):
                    await self.update_post(post, self._shown(key, card, data))
                return
            logger.warning("could not remember the post %s: it kept changing", key)
        except StorageError:
            logger.exception("could not remember the post %s", key)

    async def start_thread(self, card: Card, target: ChannelTarget) -> ChannelPost | None:
        """Post `card` as a new thread in `target`; answer the post (its ids), or None when it failed."""
        created: list[ChannelPost] = []

        async def create_thread(context: TurnContext) -> None:
            connector = _connector(context)
            response = await connector.conversations.create_conversation(_thread(target, card))
            created.append(ChannelPost(target, response.id or "", response.activity_id or ""))

        try:
            await self._adapter.continue_conversation_with_claims(
                self._identity(), _continuation(target), _guarded(create_thread)
            )
        except Exception:
            logger.exception("posting to %s failed", target.label)
            return None
        if not created:
            return None
        logger.info("posted to %s (thread %s)", target.label, created[0].conversation_id)
        return created[0]

    async def update_post(self, post: ChannelPost, card: Card) -> bool:
        """Replace the card of a post in place, for everyone in the channel; False when that failed (the
        message was deleted, the bot removed from the team)."""
        if not (post.conversation_id and post.activity_id) or not self._hosts.is_allowed(
            post.target.service_url
        ):
            return False
        updated: list[bool] = []

        async def update(context: TurnContext) -> None:
            activity = card_activity(card)
            activity.id = post.activity_id
            await _connector(context).conversations.update_activity(
                post.conversation_id, post.activity_id, activity
            )
            updated.append(True)

        try:
            await self._adapter.continue_conversation_with_claims(
                self._identity(), _continuation(post.target, post.conversation_id), _guarded(update)
            )
        except Exception:
            logger.exception("updating the post in %s failed", post.target.label)
            return False
        return bool(updated)

    async def recall(self, key: str) -> RememberedPost | None:
        """The post remembered under `key`, or None."""
        document, etag = await self._store.read(POST_PREFIX + key)
        post, card = document.get("post"), document.get("card")
        if etag is None or not isinstance(post, dict) or not isinstance(card, dict):
            return None
        data = document.get("data")
        try:
            where = ChannelPost(
                ChannelTarget(**post["target"]), str(post["conversation_id"]), str(post["activity_id"])
            )
        except (KeyError, TypeError):
            logger.warning("ignoring an unreadable remembered post %s", key)
            return None
        return RememberedPost(where, card, dict(data) if isinstance(data, dict) else {}, etag)

    async def keep_post(
        self, key: str, post: ChannelPost, card: Card, data: dict[str, Any], etag: str | None
    ) -> str:
        """Remember a post under `key` (`etag`: the version read, None for a new key); answer the new version.
        A `ConflictError` means someone else wrote it meanwhile: read it again and decide again."""
        document = {"post": asdict(post), "card": card, "data": data}
        return await self._store.write(POST_PREFIX + key, document, etag)

    async def take(self, key: str, principal: Principal, *, over: bool) -> str:
        """Someone pressed "I'll take it" (or, with `over`, "Take over") on the escalation posted under `key`:
        record them as its owner, update the card in place for everyone and audit it. Answers what to say in
        the thread ("" when the card says it all): who has it when someone else does and `over` is not set."""
        if not is_escalation_key(key):
            return GONE
        me = principal.object_id or principal.name
        for _ in range(3):
            remembered = await self.recall(key)
            if remembered is None:
                return GONE
            current = _owner(remembered.data)
            if current is not None:
                if str(remembered.data["owner"].get("id") or "") == me:
                    return YOURS.format(when=current.when)
                if not over:
                    # Pressed on a card that did not show it yet: the card shows it now, and who has it is said.
                    await self.update_post(remembered.post, owned(remembered.card, current))
                    return HAS_IT.format(name=current.name or "Someone", when=current.when)
            taken = {
                "id": me,
                "name": principal.name or "someone",
                "at": self._clock(),
                "previous": current.name if current else "",
            }
            data = {**remembered.data, "owner": taken}
            try:
                await self.keep_post(key, remembered.post, remembered.card, data, remembered.etag)
            except ConflictError:
                continue  # taken by someone else at the same moment: decide again on what they wrote
            await self._audit.append(
                AuditRecord(
                    "escalation-taken",
                    principal.object_id,
                    principal.name,
                    conversation=remembered.post.conversation_id,
                    tenant=principal.tenant_id,
                    detail={"post": key, "from": taken["previous"]},
                )
            )
            logger.info("escalation %s taken by %s", key, principal.object_id or "?")
            await self._tell_asker(data, key, principal.name or "Someone", remembered.post.target.label)
            if not await self.update_post(remembered.post, owned(remembered.card, _owner(data))):
                return f"I recorded that {principal.name or 'you'} took this, but could not update the card."
            return ""
        raise ConflictError(POST_PREFIX + key)

    async def _tell_asker(self, data: dict[str, Any], key: str, name: str, where: str) -> None:
        """Tell the conversation an escalation came from who took it (nothing when it is not known)."""
        asker = data.get("asker")
        if not isinstance(asker, dict):
            return
        try:
            reference = ConversationReference.model_validate(asker)
        except ValueError:
            logger.warning("ignoring an unreadable asker reference for %s", key)
            return
        if not self._hosts.is_allowed(reference.service_url or ""):
            return
        triage = key.removeprefix("escalation-")
        told = TAKEN_NOTICE.format(name=name, triage=triage, where=where)

        async def tell(context: TurnContext) -> None:
            await context.send_activity(MessageFactory.text(told))

        try:
            await self._adapter.continue_conversation_with_claims(
                self._identity(), reference.get_continuation_activity(), _guarded(tell)
            )
        except Exception:
            logger.exception("could not tell the asker that %s was taken", key)

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


def _owner(data: dict[str, Any]) -> Owner | None:
    owner = data.get("owner")
    if not isinstance(owner, dict):
        return None
    return Owner(str(owner.get("name") or ""), float(owner.get("at") or 0), str(owner.get("previous") or ""))


def _connector(context: TurnContext) -> ConnectorClientBase:
    connector = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
    if connector is None:
        raise RuntimeError("the proactive turn has no connector client")
    found: ConnectorClientBase = connector
    return found


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
            logger.exception("posting to the channel or updating a post there failed")

    return run


def _continuation(target: ChannelTarget, conversation_id: str = "") -> Activity:
    """A proactive turn in the channel (or in one of its threads, `conversation_id`)."""
    reference = channel_reference(target, conversation_id)
    activity: Activity = ConversationReference.model_validate(reference).get_continuation_activity()
    return activity


def channel_reference(target: ChannelTarget, conversation_id: str = "") -> dict[str, Any]:
    """The conversation reference (as JSON) of the channel, or of one of its threads (`conversation_id`)."""
    reference: dict[str, Any] = {
        "channelId": TEAMS,
        "serviceUrl": target.service_url,
        "conversation": {
            "id": conversation_id or target.channel_id,
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": target.tenant_id,
        },
    }
    if target.bot_id:
        reference["bot"] = {"id": target.bot_id}
    return reference


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
