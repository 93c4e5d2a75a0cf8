"""Teams activities → what the host does with them: an `Inbound` for the conversation, or a host command."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from microsoft_agents.activity import Activity, ActivityTypes

from dialogs.api import Inbound
from dialogs.escalation import TAKE

__all__ = ["SET_ESCALATION_CHANNEL", "Classified", "channel_data", "classify", "tenant_of"]

SET_ESCALATION_CHANNEL = "set escalation channel"
_ACTION_EXECUTE = "adaptiveCard/action"
_SPACES = re.compile(r"\s+")

ConversationType = Literal["personal", "groupChat", "channel"]


@dataclass(frozen=True)
class Classified:
    """What one activity asks of the host. At most one of `inbound` and `command` is set."""

    inbound: Inbound | None = None
    command: Literal["set_escalation_channel", "take_escalation"] | None = None
    bot_added_to_team: bool = False
    value: dict[str, Any] = field(default_factory=dict)  # a command's card data (take_escalation)


def classify(activity: Activity) -> Classified:
    if activity.type == ActivityTypes.message:
        return _message(activity)
    if activity.type == ActivityTypes.invoke and activity.name == _ACTION_EXECUTE:
        return _execute(activity)
    if activity.type == ActivityTypes.conversation_update and _bot_added_to_team(activity):
        return Classified(inbound=_inbound(activity, "added_to_team"), bot_added_to_team=True)
    if activity.type == ActivityTypes.conversation_update and _bot_added(activity):
        # The app installed in a personal chat or added to a group chat (a team has its own message above).
        return Classified(inbound=_inbound(activity, "installed"))
    return Classified()


def channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    if hasattr(data, "model_dump"):
        data = data.model_dump(by_alias=True, exclude_none=True)
    return cast(dict[str, Any], data) if isinstance(data, dict) else {}


def tenant_of(activity: Activity) -> str:
    tenant = _nested(channel_data(activity), "tenant", "id")
    if not tenant and activity.conversation is not None:
        tenant = activity.conversation.tenant_id or ""
    return tenant.lower()


def _message(activity: Activity) -> Classified:
    value = _dict(activity.value)
    if value and not (activity.text or "").strip():
        # An Action.Submit from a card: Teams posts the card's data as a message with no text.
        return _submitted(activity, value)
    text = _SPACES.sub(" ", activity.remove_recipient_mention() or "").strip()
    if _conversation_type(activity) != "channel":
        return Classified(inbound=_inbound(activity, "message", text=text))
    if not _mentions_bot(activity):
        return Classified()
    if text.lower().rstrip(".!") == SET_ESCALATION_CHANNEL:
        return Classified(command="set_escalation_channel")
    return Classified(inbound=_inbound(activity, "mention_in_channel", text=text))


def _execute(activity: Activity) -> Classified:
    action = _dict(_dict(activity.value).get("action"))
    value = {**_dict(action.get("data")), "verb": str(action.get("verb") or "")}
    return _submitted(activity, value)


def _submitted(activity: Activity, value: dict[str, Any]) -> Classified:
    """A card's button: the host's own (I'll take it, on an escalation in the channel), or the conversation's."""
    if value.get("action") == TAKE or value.get("verb") == TAKE:
        return Classified(command="take_escalation", value=value)
    return Classified(inbound=_inbound(activity, "submit", value=value))


def _inbound(
    activity: Activity,
    kind: Literal["message", "submit", "added_to_team", "installed", "mention_in_channel"],
    *,
    text: str = "",
    value: dict[str, Any] | None = None,
) -> Inbound:
    sender = activity.from_property
    data = channel_data(activity)
    return Inbound(
        kind=kind,
        conversation_id=activity.conversation.id if activity.conversation else "",
        conversation_type=_conversation_type(activity),
        user_id=(sender.aad_object_id or sender.id or "") if sender else "",
        user_name=(sender.name or "") if sender else "",
        text=text,
        value=dict(value or {}),
        team_id=_nested(data, "team", "id"),
        channel_id=_nested(data, "channel", "id"),
        tenant_id=tenant_of(activity),
    )


def _conversation_type(activity: Activity) -> ConversationType:
    kind = activity.conversation.conversation_type if activity.conversation else None
    if kind in ("groupChat", "channel"):
        return cast(ConversationType, kind)
    return "personal"


def _mentions_bot(activity: Activity) -> bool:
    bot_id = activity.recipient.id if activity.recipient else None
    return bool(bot_id) and any(
        mention.mentioned is not None and mention.mentioned.id == bot_id
        for mention in activity.get_mentions()
    )


def _bot_added(activity: Activity) -> bool:
    """Whether the bot itself is among the members a conversationUpdate adds."""
    bot_id = activity.recipient.id if activity.recipient else None
    return bool(bot_id) and any(m.id == bot_id for m in activity.members_added or [])


def _bot_added_to_team(activity: Activity) -> bool:
    return _bot_added(activity) and bool(_nested(channel_data(activity), "team", "id"))


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _nested(data: dict[str, Any], *path: str) -> str:
    node: Any = data
    for name in path:
        node = node.get(name) if isinstance(node, dict) else None
    return node if isinstance(node, str) else ""
