"""The real host on a loopback ephemeral port, with a client that posts activities to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.hosting.core import AgentAuthConfiguration, Connections, OutboundHostValidator

from bot.app import ConversationFactory, create_app
from bot.links import Clock
from bot.runtime import RUNTIME
from bot.settings import Settings
from bot.testing.server import LoopbackServer, reserve_loopback_socket
from dialogs.api import Conversation

__all__ = ["BotResponse", "RunningBot", "running_bot"]

# How long `running_bot` waits at its end for the turns still running.
IDLE_SECONDS = 60.0


@dataclass(frozen=True)
class BotResponse:
    status: int
    body: Any


@dataclass
class RunningBot:
    url: str
    settings: Settings
    session: aiohttp.ClientSession
    app: web.Application | None = None

    async def idle(self) -> None:
        """Until every job this server runs has finished (its replies are posted)."""
        if self.app is not None:
            await self.app[RUNTIME].worker.idle()

    async def post(self, activity: dict[str, Any], *, token: str | None = None) -> BotResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.post(f"{self.url}/api/messages", json=activity, headers=headers) as response:
            text = await response.text()
            body: Any = text
            if response.content_type == "application/json" and text:
                body = await response.json()
            return BotResponse(response.status, body)

    async def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        async with self.session.get(f"{self.url}{path}", allow_redirects=False) as response:
            return response.status, await response.text(), dict(response.headers)


@asynccontextmanager
async def running_bot(
    settings: Settings,
    conversation: Conversation | ConversationFactory,
    *,
    connections: Callable[[AgentAuthConfiguration], Connections] | None = None,
    outbound_hosts: OutboundHostValidator | None = None,
    graph_url: str | None = None,
    clock: Clock | None = None,
    answer_seconds: float | None = None,
) -> AsyncIterator[RunningBot]:
    """Serve the host on 127.0.0.1 (the settings' port is replaced by the one the system picked)."""
    sock = reserve_loopback_socket()
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": sock.getsockname()[1]})
    options: dict[str, Any] = {"connections": connections, "outbound_hosts": outbound_hosts}
    if clock is not None:
        options["clock"] = clock
    if graph_url is not None:
        options["graph_url"] = graph_url
    if answer_seconds is not None:
        options["answer_seconds"] = answer_seconds
    app = create_app(settings, conversation, **options)
    server = LoopbackServer(app, sock)
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            running = RunningBot(url, settings, session, app)
            yield running
            # The activities posted were answered at once; their turns finish before the server stops.
            await asyncio.wait_for(running.idle(), IDLE_SECONDS)
    finally:
        await server.stop()
