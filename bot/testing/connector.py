"""A loopback Bot Connector: the Bot Framework REST v3 endpoints a bot calls back, recording every call.

Point an activity's `serviceUrl` at it and the bot's replies, card updates and new channel threads land here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.testing.server import LoopbackServer

__all__ = ["LoopbackConnector", "Recorded"]


@dataclass(frozen=True)
class Recorded:
    """One call the bot made."""

    operation: str  # "send", "reply", "update", "delete" or "create_conversation"
    conversation_id: str
    activity_id: str
    body: dict[str, Any]
    authorization: str
    returned_id: str = ""  # the id the connector gave a new message (what the bot later updates)

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def type(self) -> str:
        return str(self.body.get("type") or "")

    @property
    def cards(self) -> list[dict[str, Any]]:
        attachments = self.body.get("attachments") or []
        return [
            a["content"]
            for a in attachments
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]


@dataclass
class LoopbackConnector:
    """Serves /v3/conversations/... on 127.0.0.1 and keeps what it was sent, in order."""

    calls: list[Recorded] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: LoopbackServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{cid}/activities", self._activity)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._activity)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._activity)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._activity)
        self._server = LoopbackServer(app)
        return await self._server.start() + "/"

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def in_conversation(self, conversation_id: str) -> list[Recorded]:
        return [call for call in self.calls if call.conversation_id == conversation_id]

    def messages(self, conversation_id: str) -> list[Recorded]:
        """Messages posted (not updates, not typing) to a conversation."""
        return [
            c
            for c in self.in_conversation(conversation_id)
            if c.operation in ("send", "reply") and c.type == "message"
        ]

    def texts(self, conversation_id: str) -> list[str]:
        return [c.text for c in self.messages(conversation_id) if c.text]

    def of(self, operation: str) -> list[Recorded]:
        return [call for call in self.calls if call.operation == operation]

    def clear(self) -> None:
        self.calls.clear()

    async def _activity(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        activity_id = request.match_info.get("aid", "")
        operation = {"PUT": "update", "DELETE": "delete"}.get(
            request.method, "reply" if activity_id else "send"
        )
        returned = self._next("act") if operation in ("send", "reply") else activity_id
        self._record(request, operation, request.match_info["cid"], activity_id, body, returned)
        if operation == "delete":
            return web.Response(status=200)
        return web.json_response({"id": returned})

    async def _create_conversation(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = (body.get("channelData") or {}).get("channel") or {}
        first_message = self._next("act")
        # Teams names a channel thread after the channel and the id of the thread's first message.
        conversation_id = f"{channel.get('id', 'conversation')};messageid={first_message}"
        self._record(request, "create_conversation", conversation_id, first_message, body, first_message)
        return web.json_response({"id": conversation_id, "activityId": first_message})

    def _record(
        self, request: web.Request, operation: str, cid: str, aid: str, body: Any, returned: str
    ) -> None:
        authorization = request.headers.get("Authorization", "")
        document = body if isinstance(body, dict) else {}
        self.calls.append(Recorded(operation, cid, aid, document, authorization, returned))

    def _next(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"
