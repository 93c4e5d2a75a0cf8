"""Who may call the bot and how it calls back: the SDK's JWT middleware, issuer and tenant checks, host check.

The SDK ships unsafe defaults (see docs/bot-hosting.md): without its middleware every request is accepted, the
issuer is not checked unless asked, and the outbound service-url check is off. Here the middleware is always
installed, issuer validation is always on, anonymous access is allowed only in the explicit development mode
(`TRIAGE_DEV_ANONYMOUS=1`, which settings refuse with the live backend or off loopback, and whose requests must
come straight from loopback), and a tenant allow-list is enforced.

Tokens: the Bot Framework's (issuer `https://api.botframework.com`) must carry a `serviceurl` claim naming the
activity's `serviceUrl`; a token Entra ID issued for the tenant itself (`login.microsoftonline.com/{tid}/v2.0`,
`sts.windows.net/{tid}/`) carries none and can be requested by any client app of the tenant, so it is taken
only from the client apps named in `TRIAGE_TRUSTED_CLIENT_APPS` (its `azp` or `appid`). `deliveryMode:
expectReplies` (replies in the HTTP response, not through the connector) is refused: Teams never sends it.
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

from bot.settings import DEV_ANONYMOUS, Settings, is_loopback

__all__ = [
    "FORWARDING_HEADERS",
    "activity_guard",
    "auth_configuration",
    "connection_manager",
    "host_validator",
    "local_requests_only",
    "unreadable_tokens_refused",
]

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVICE_CONNECTION = "SERVICE_CONNECTION"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP")
_REFUSED = "Invalid token or authentication failed."


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


def local_requests_only(settings: Settings) -> Middleware:
    """The anonymous development mode answers only requests made on this machine, straight to it: a request
    that came through a proxy (`Forwarded`, `X-Forwarded-*`), names another host, or comes from another
    address is refused, so a reverse proxy in front of a server without identity cannot expose it."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not settings.anonymous:
            return await handler(request)
        problem = _not_local(request)
        if problem:
            logger.warning("refused a request in the anonymous development mode: %s", problem)
            return web.json_response(
                {
                    "error": f"This server runs in the anonymous development mode ({DEV_ANONYMOUS}) and answers "
                    "only local requests."
                },
                status=403,
            )
        return await handler(request)

    return guard


def _not_local(request: web.Request) -> str:
    forwarded = [name for name in FORWARDING_HEADERS if name in request.headers]
    forwarded += [name for name in request.headers if name.lower().startswith("x-forwarded-")]
    if forwarded:
        return f"forwarded ({sorted(set(forwarded))[0]})"
    host = request.headers.get("Host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if not host or not is_loopback(name):
        return "the Host header is not a loopback address"
    if request.remote is not None and not is_loopback(request.remote):
        return "the client is not on loopback"
    return ""


def activity_guard(settings: Settings) -> Middleware:
    """Runs after the SDK's JWT middleware: refuse activities the token was not issued for.

    - the tenant (the activity's `channelData.tenant.id` and `conversation.tenantId`, which must agree, and the
      token's `tid`) must be on the allow-list;
    - a Bot Framework token must carry `serviceurl`, naming the host the activity asks us to reply to;
    - a token the tenant itself issued must come from a client app on `TRIAGE_TRUSTED_CLIENT_APPS`;
    - `deliveryMode: expectReplies` is refused.
    """
    allowed = frozenset(settings.tenants)
    trusted_apps = frozenset(settings.trusted_client_apps)

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
        if activity.get("deliveryMode") == "expectReplies":
            logger.warning("refused an activity asking for expectReplies")
            return web.json_response(
                {"error": "Invalid activity: expectReplies is not supported"}, status=400
            )
        identity = request.get("claims_identity")
        claims = identity.claims if isinstance(identity, ClaimsIdentity) else {}
        problem = (
            _tenant_problem(activity, claims, allowed)
            or ("" if settings.anonymous else _token_problem(activity, claims, trusted_apps))
            or _service_url_problem(activity, claims)
        )
        if problem:
            logger.warning("refused an activity: %s", problem)
            return web.json_response({"error": _REFUSED}, status=401)
        return await handler(request)

    return guard


def _tenant_problem(activity: dict[str, object], claims: dict[str, object], allowed: frozenset[str]) -> str:
    named = _activity_tenants(activity)
    if len(named) > 1:
        return f"the activity names two tenants: {', '.join(sorted(named))}"
    if not allowed:
        return ""
    tenants = set(named) or {""}
    if isinstance(claims.get("tid"), str):
        tenants.add(str(claims["tid"]).lower())
    refused = sorted(tenant or "(none)" for tenant in tenants if tenant not in allowed)
    return f"tenant not allowed: {', '.join(refused)}" if refused else ""


def _token_problem(activity: dict[str, object], claims: dict[str, object], trusted: frozenset[str]) -> str:
    issuer = claims.get("iss")
    if issuer == BOT_FRAMEWORK_ISSUER:
        if not isinstance(claims.get("serviceurl"), str):
            return "a Bot Framework token without a serviceurl claim"
        return ""
    client = claims.get("azp") or claims.get("appid")
    if not isinstance(client, str) or client.lower() not in trusted:
        return (
            f"a token issued by {str(issuer)[:80]} for client app {str(client)[:40]}, which is not on "
            "TRIAGE_TRUSTED_CLIENT_APPS"
        )
    return ""


def _service_url_problem(activity: dict[str, object], claims: dict[str, object]) -> str:
    claimed = claims.get("serviceurl")
    if not isinstance(claimed, str):
        return ""
    service_url = activity.get("serviceUrl")
    if not isinstance(service_url, str) or _origin(service_url) != _origin(claimed):
        return "the activity's serviceUrl is not the one the token was issued for"
    return ""


def _activity_tenants(activity: dict[str, object]) -> set[str]:
    tenants = set()
    data = activity.get("channelData")
    tenant = data.get("tenant") if isinstance(data, dict) else None
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
        tenants.add(str(tenant["id"]).lower())
    conversation = activity.get("conversation")
    if isinstance(conversation, dict) and isinstance(conversation.get("tenantId"), str):
        tenants.add(str(conversation["tenantId"]).lower())
    return tenants


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
