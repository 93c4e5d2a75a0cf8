"""Teams-shaped activities (the JSON Teams posts to /api/messages), for driving the bot in tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TEAMS_TENANT", "TeamsActivities"]

TEAMS_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@dataclass
class TeamsActivities:
    """Builds activities for one bot, one tenant and one (loopback) service URL."""

    service_url: str
    tenant_id: str = TEAMS_TENANT
    bot_id: str = "28:00000000-0000-0000-0000-00000000b07"
    bot_name: str = "Triage"
    user_id: str = "29:1user"
    user_name: str = "Ada Lovelace"
    user_aad_id: str = "00000000-0000-0000-0000-0000000000a1"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def message(
        self, text: str, *, conversation: str = "a:personal-1", mention: bool = False
    ) -> dict[str, Any]:
        """A message in a personal chat (or, with `mention`, text that @mentions the bot)."""
        body = f"<at>{self.bot_name}</at> {text}" if mention else text
        activity = self._base("message", conversation, "personal")
        activity["text"] = body
        if mention:
            activity["entities"] = [self._mention()]
        return activity

    def submit(self, value: dict[str, Any], *, conversation: str = "a:personal-1") -> dict[str, Any]:
        """An Action.Submit: Teams posts the card's data as a message with no text."""
        activity = self._base("message", conversation, "personal")
        activity["value"] = value
        return activity

    def execute(
        self, verb: str, data: dict[str, Any], *, reply_to_id: str, conversation: str = "a:personal-1"
    ) -> dict[str, Any]:
        """An Action.Execute: an `adaptiveCard/action` invoke from the card message `reply_to_id`."""
        activity = self._base("invoke", conversation, "personal")
        activity["name"] = "adaptiveCard/action"
        activity["replyToId"] = reply_to_id
        activity["value"] = {
            "action": {"type": "Action.Execute", "verb": verb, "data": data},
            "trigger": "manual",
        }
        return activity

    def channel_message(
        self,
        text: str,
        *,
        channel_id: str = "19:general@thread.tacv2",
        team_id: str = "19:team@thread.tacv2",
        team_name: str = "Exchange",
        channel_name: str | None = None,
        mention: bool = True,
        thread_id: str = "",
    ) -> dict[str, Any]:
        """A post in a team channel (a new thread unless `thread_id` names the message it replies to)."""
        root = thread_id or self._next("msg")
        activity = self._base("message", f"{channel_id};messageid={root}", "channel")
        activity["text"] = f"<at>{self.bot_name}</at> {text}" if mention else text
        if mention:
            activity["entities"] = [self._mention()]
        activity["channelData"] = self._channel_data(channel_id, team_id, team_name, channel_name)
        return activity

    def channel_card_submit(
        self,
        value: dict[str, Any],
        *,
        conversation: str,
        reply_to_id: str,
        channel_id: str = "19:general@thread.tacv2",
        team_id: str = "19:team@thread.tacv2",
        team_name: str = "Exchange",
    ) -> dict[str, Any]:
        """An Action.Submit pressed on a card the bot posted in a channel thread (`conversation`, the card's
        message `reply_to_id`): Teams posts the card's data as a message with no text, and no mention."""
        activity = self._base("message", conversation, "channel")
        activity["value"] = value
        activity["replyToId"] = reply_to_id
        activity["channelData"] = self._channel_data(channel_id, team_id, team_name, None)
        return activity

    def bot_added_to_team(
        self, *, team_id: str = "19:team@thread.tacv2", team_name: str = "Exchange"
    ) -> dict[str, Any]:
        """The conversationUpdate Teams sends when the app is added to a team (into its General channel)."""
        activity = self._base("conversationUpdate", team_id, "channel")
        activity["membersAdded"] = [{"id": self.bot_id}]
        data = self._channel_data(team_id, team_id, team_name, None)
        data["eventType"] = "teamMemberAdded"
        activity["channelData"] = data
        return activity

    def bot_installed(self, *, conversation: str = "a:personal-1") -> dict[str, Any]:
        """The conversationUpdate Teams sends when a user installs the app in their personal chat."""
        activity = self._base("conversationUpdate", conversation, "personal")
        activity["membersAdded"] = [{"id": self.bot_id}]
        return activity

    def bot_added_to_group_chat(self, *, conversation: str = "19:group-1@thread.v2") -> dict[str, Any]:
        """The conversationUpdate Teams sends when the app is added to a group chat."""
        activity = self._base("conversationUpdate", conversation, "groupChat")
        activity["conversation"]["isGroup"] = True
        activity["membersAdded"] = [{"id": self.bot_id}]
        return activity

    def _base(self, kind: str, conversation: str, conversation_type: str) -> dict[str, Any]:
        return {
            "type": kind,
            "id": self._next("in"),
            "timestamp": "2026-11-21T10:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": {"id": self.user_id, "name": self.user_name, "aadObjectId": self.user_aad_id},
            "recipient": {"id": self.bot_id, "name": self.bot_name},
            "conversation": {
                "id": conversation,
                "conversationType": conversation_type,
                "tenantId": self.tenant_id,
            },
            "channelData": {"tenant": {"id": self.tenant_id}},
            "locale": "en-GB",
        }

    def _channel_data(
        self, channel_id: str, team_id: str, team_name: str, channel_name: str | None
    ) -> dict[str, Any]:
        channel: dict[str, str] = {"id": channel_id}
        if channel_name:
            channel["name"] = channel_name
        return {
            "tenant": {"id": self.tenant_id},
            "team": {"id": team_id, "name": team_name},
            "channel": channel,
        }

    def _mention(self) -> dict[str, Any]:
        return {
            "type": "mention",
            "text": f"<at>{self.bot_name}</at>",
            "mentioned": {"id": self.bot_id, "name": self.bot_name},
        }

    def _next(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"
