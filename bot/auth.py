"""Who may call the bot and how it calls back: the SDK's JWT middleware, issuer and tenant checks, host check.

The SDK ships unsafe defaults (see docs/bot-hosting.md): without its middleware every request is accepted, the
issuer is not checked unless asked, and the outbound service-url check is off. Here the middleware is always
installed, issuer validation is always on, anonymous access is allowed only when there is no bot identity (and
settings already refused that unless the server is on loopback), and a tenant allow-list is enforced.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware
from microsoft_agents.activity import load_configuration_from_env
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.core import (
    AgentAuthConfiguration,
    ClaimsIdentity,
    Connections,
    OutboundHostValidator,
)

from bot.settings import Settings

__all__ = [
    "auth_configuration",
    "connection_manager",
    "host_validator",
    "tenant_guard",
    "unreadable_tokens_refused",
]

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVICE_CONNECTION = "SERVICE_CONNECTION"


def auth_configuration(settings: Settings) -> AgentAuthConfiguration:
    """The bot's identity as the SDK wants it, with our policy laid over whatever the environment says."""
    environment = load_configuration_from_env(dict(settings.sdk_environment))
    raw = environment.get("CONNECTIONS", {}).get(SERVICE_CONNECTION, {}).get("SETTINGS", {})
    raw = {key: value for key, value in raw.items() if key not in ("ANONYMOUS_ALLOWED", "VALIDATE_ISSUER")}
    return AgentAuthConfiguration(
        connection_name=SERVICE_CONNECTION,
        anonymous_allowed=settings.anonymous,
        validate_issuer=True,
        **raw,
    )


def connection_manager(configuration: AgentAuthConfiguration) -> Connections:
    """MSAL token providers for the bot's outbound calls (replies, proactive posts)."""
    return MsalConnectionManager(connections_configurations={SERVICE_CONNECTION: configuration})


def host_validator(settings: Settings) -> OutboundHostValidator:
    """The SDK's outbound check: replies only to Microsoft's service hosts, over https."""
    return OutboundHostValidator(enabled=settings.check_outbound_hosts)


@web.middleware
async def unreadable_tokens_refused(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Runs before the SDK's JWT middleware: a token it chokes on (no `kid`, say) is a 401, not a 500.

    Only failures before a caller was authenticated are turned into 401s; errors in an accepted request
    are left to the turn's own handling.
    """
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if request.get("claims_identity") is not None:
            raise
        logger.warning("refused a request whose token could not be read: %s", type(exc).__name__)
        return web.json_response({"error": "Invalid token or authentication failed."}, status=401)


def tenant_guard(settings: Settings) -> Middleware:
    """Runs after the SDK's JWT middleware: refuse activities from tenants not on the allow-list.

    The tenant comes from the activity (Teams puts it in channelData and conversation) and, when the token
    carries one, from the token's `tid`: both must be allowed. The token's `serviceurl` claim must also name
    the host the activity asks us to reply to.
    """
    allowed = frozenset(settings.tenants)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST":
            return await handler(request)
        try:
            activity = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "Invalid JSON"}, status=400)
        if not isinstance(activity, dict):
            return web.json_response({"error": "Invalid activity"}, status=400)
        identity = request.get("claims_identity")
        claims = identity.claims if isinstance(identity, ClaimsIdentity) else {}
        problem = _tenant_problem(activity, claims, allowed) or _service_url_problem(activity, claims)
        if problem:
            logger.warning("refused an activity: %s", problem)
            return web.json_response({"error": "Invalid token or authentication failed."}, status=401)
        return await handler(request)

    return guard


def _tenant_problem(activity: dict[str, object], claims: dict[str, object], allowed: frozenset[str]) -> str:
    if not allowed:
        return ""
    tenants = {_activity_tenant(activity)}
    if isinstance(claims.get("tid"), str):
        tenants.add(str(claims["tid"]).lower())
    refused = sorted(tenant or "(none)" for tenant in tenants if tenant not in allowed)
    return f"tenant not allowed: {', '.join(refused)}" if refused else ""


def _service_url_problem(activity: dict[str, object], claims: dict[str, object]) -> str:
    claimed = claims.get("serviceurl")
    if not isinstance(claimed, str):
        return ""
    service_url = activity.get("serviceUrl")
    if not isinstance(service_url, str) or _origin(service_url) != _origin(claimed):
        return "the activity's serviceUrl is not the one the token was issued for"
    return ""


def _activity_tenant(activity: dict[str, object]) -> str:
    data = activity.get("channelData")
    tenant = data.get("tenant") if isinstance(data, dict) else None
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
        return str(tenant["id"]).lower()
    conversation = activity.get("conversation")
    if isinstance(conversation, dict) and isinstance(conversation.get("tenantId"), str):
        return str(conversation["tenantId"]).lower()
    return ""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
