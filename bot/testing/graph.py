"""A loopback stand-in for Microsoft Graph's `checkMemberGroups`, for tests of roles given to groups."""

from __future__ import annotations

from aiohttp import web

from bot.testing.server import LoopbackServer

__all__ = ["LoopbackGraph"]


class LoopbackGraph:
    """Answers `POST /v1.0/users/{id}/checkMemberGroups` from `memberships` (user id -> group ids); records
    each request's bearer token. `failing` makes every request a 503."""

    def __init__(self, memberships: dict[str, set[str]]) -> None:
        self.memberships = memberships
        self.tokens: list[str] = []
        self.failing = False
        self._server: LoopbackServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the loopback Graph is not running")
        return f"{self._server.url}/v1.0"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1.0/users/{user}/checkMemberGroups", self._check)
        self._server = LoopbackServer(app)
        return await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    async def _check(self, request: web.Request) -> web.Response:
        self.tokens.append(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if self.failing:
            return web.json_response({"error": {"code": "serviceNotAvailable"}}, status=503)
        wanted = (await request.json()).get("groupIds", [])
        if len(wanted) > 20:
            return web.json_response({"error": {"code": "Request_BadRequest"}}, status=400)
        member = self.memberships.get(request.match_info["user"], set())
        return web.json_response({"value": [g for g in wanted if g in member]})
