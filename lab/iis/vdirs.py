"""Every simulated server's IIS front end over HTTPS: the answer each virtual directory gives a browser.

One loopback listener stands for all servers; the Host header (or SNI name) says which server is meant,
the first path segment which virtual directory (owa, ecp, EWS, Autodiscover). Each answers its
scenario `answer_status` (403 for a vdir that does not accept SSL, as in seed 002). The endpoints map
gives each server FQDN the listener's address, so a probe dials loopback but verifies the real name.
"""

from __future__ import annotations

from aiohttp import web

from lab.context import LabContext
from lab.scenario.model import Server, VirtualDirectory

__all__ = ["build_app"]

_KINDS = {"owa": "owa", "ecp": "ecp", "ews": "ews", "autodiscover": "autodiscover"}
_REASONS = {
    200: "OK",
    302: "Found",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _server(ctx: LabContext, request: web.Request) -> Server | None:
    host = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").startswith("[") else ""
    return ctx.scenario.server(host) if host else None


def _vdir(server: Server, path: str) -> VirtualDirectory | None:
    first = path.strip("/").split("/", 1)[0].lower()
    kind = _KINDS.get(first)
    return getattr(server.virtual_directories, kind) if kind else None


def build_app(ctx: LabContext) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        server = _server(ctx, request)
        vdir = _vdir(server, request.path) if server is not None else None
        if server is None or vdir is None:
            return web.Response(status=404, text="Not Found")
        status = vdir.answer_status
        headers = {"Server": "Microsoft-IIS/10.0", "X-FEServer": server.name}
        if status == 401:
            headers["WWW-Authenticate"] = "Negotiate"
        reason = _REASONS.get(status, "Status")
        return web.Response(status=status, reason=reason, text=f"{status} {reason}", headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app
