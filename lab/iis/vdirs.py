"""Every simulated server's IIS front end over HTTPS: the answer each virtual directory gives a browser.

One loopback listener stands for all servers; the Host header (or SNI name) says which server is meant,
the first path segment which virtual directory (owa, ecp, EWS, Autodiscover). Each answers its
scenario `answer_status` (403 for a vdir that does not accept SSL, as in seed 002). The endpoints map
gives each server FQDN the listener's address, so a probe dials loopback but verifies the real name.
"""

from __future__ import annotations

from typing import NamedTuple

from aiohttp import web

from lab.context import LabContext
from lab.scenario.model import Scenario, Server, VirtualDirectory

__all__ = ["IisAnswer", "answer_for", "build_app"]

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


class IisAnswer(NamedTuple):
    """What one server's IIS answers to an HTTPS request: status, reason phrase and headers."""

    status: int
    reason: str
    headers: dict[str, str]


def _vdir(server: Server, path: str) -> VirtualDirectory | None:
    first = path.strip("/").split("/", 1)[0].lower()
    kind = _KINDS.get(first)
    return getattr(server.virtual_directories, kind) if kind else None


def answer_for(scenario: Scenario, host: str, path: str) -> IisAnswer:
    """The answer of the server named `host` (name or FQDN) to a request for `path` (also used in-process
    by test fakes of the HTTPS probe, so they cannot disagree with the listener)."""
    server = scenario.server(host) if host else None
    vdir = _vdir(server, path) if server is not None else None
    if server is None or vdir is None:
        return IisAnswer(404, "Not Found", {})
    status = vdir.answer_status
    headers = {"Server": "Microsoft-IIS/10.0", "X-FEServer": server.name}
    if status == 401:
        headers["WWW-Authenticate"] = "Negotiate"
    return IisAnswer(status, _REASONS.get(status, "Status"), headers)


def build_app(ctx: LabContext) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        host = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").startswith("[") else ""
        found = answer_for(ctx.scenario, host, request.path)
        if found.status == 404 and not found.headers:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            status=found.status,
            reason=found.reason,
            text=f"{found.status} {found.reason}",
            headers=found.headers,
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app
