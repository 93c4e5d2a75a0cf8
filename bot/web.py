"""The plain web pages: health, and remediation runbooks behind signed links."""

from __future__ import annotations

import logging
import re
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from bot.links import ExpiredLink, TamperedLink, UnknownLink
from bot.remediation_page import error_page, runbook_page
from bot.runtime import RUNTIME

__all__ = ["healthz", "remediation"]

logger = logging.getLogger(__name__)

# A runbook page needs nothing from anywhere: no script, no frame, no outside resource.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _version() -> str:
    try:
        return version("exchange-triage")
    except PackageNotFoundError:
        return "unknown"


async def healthz(request: web.Request) -> web.Response:
    runtime = request.config_dict[RUNTIME]
    return web.json_response(
        {
            "status": "ok",
            "version": _version(),
            "storage": runtime.store.kind,
            "backend": runtime.settings.backend,
            "auth": "anonymous" if runtime.settings.anonymous else "bot",
        }
    )


async def remediation(request: web.Request) -> web.Response:
    runtime = request.config_dict[RUNTIME]
    if _from_the_internet(request, runtime.settings.internet_host):
        # Runbook pages hold server names, thumbprints and internal URLs: only on the internal URL.
        return _page(404, "Not found", "There is nothing here.")
    try:
        stored = await runtime.links.resolve(request.match_info["token"])
    except TamperedLink:
        return _page(403, "Link not valid", "This link was not issued by the triage bot, or it was altered.")
    except ExpiredLink:
        return _page(410, "Link expired", "This link has expired. Ask the triage bot for a new one.")
    except UnknownLink:
        return _page(
            404, "Runbook not found", "This runbook is no longer available. Ask the triage bot again."
        )
    except Exception:
        logger.exception("could not serve a remediation page")
        return _page(500, "Something went wrong", "The runbook could not be shown. Try again in a moment.")
    return _html(200, runbook_page(stored.runbook, expires_at=stored.expires_at))


def _from_the_internet(request: web.Request, internet_host: str) -> bool:
    """Whether the request came through the Internet-facing host (directly, or as a proxy forwarded it)."""
    if not internet_host:
        return False
    named = [request.headers.get("Host", ""), request.headers.get("X-Forwarded-Host", "")]
    named += re.findall(r"host=\"?([^;,\"\s]+)", request.headers.get("Forwarded", ""), flags=re.I)
    hosts = {_bare(host) for value in named for host in value.split(",") if host.strip()}
    return internet_host in hosts


def _bare(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _page(status: int, title: str, message: str) -> web.Response:
    return _html(status, error_page(title, message))


def _html(status: int, body: str) -> web.Response:
    return web.Response(
        status=status, text=body, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
    )
