"""A bare Microsoft 365 Agents SDK echo bot: the yardstick the triage bot's turn overhead is measured against.

The same hosting stack as `bot/` (aiohttp, `CloudAdapter`, the SDK's JWT middleware, an `AgentApplication`),
anonymous on loopback, and nothing else: each message is answered with its own text.

    .venv/bin/python -m bench.echo_bot --port 3979
"""

from __future__ import annotations

import argparse
import asyncio
import warnings

from aiohttp import web
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    MemoryStorage,
    MessageFactory,
    TurnContext,
    TurnState,
)

__all__ = ["create_echo_app"]


def create_echo_app() -> web.Application:
    configuration = AgentAuthConfiguration(anonymous_allowed=True)
    connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": configuration})
    adapter = CloudAdapter(connection_manager=connections)
    agent = AgentApplication[TurnState](
        storage=MemoryStorage(),
        adapter=adapter,
        connection_manager=connections,
        remove_recipient_mention=False,
        start_typing_timer=False,
    )

    @agent.activity("message")
    async def echo(context: TurnContext, _state: TurnState) -> None:
        await context.send_activity(MessageFactory.text(context.activity.text or ""))

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, agent, adapter)
        return response if response is not None else web.Response(status=202)

    app = web.Application(middlewares=[jwt_authorization_middleware])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["agent_configuration"] = configuration
    app.router.add_post("/api/messages", messages)
    return app


async def _serve(port: int) -> None:
    runner = web.AppRunner(create_echo_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"echo bot listening on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="A bare Agents SDK echo bot on loopback.")
    parser.add_argument("--port", type=int, default=3979)
    args = parser.parse_args()
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
