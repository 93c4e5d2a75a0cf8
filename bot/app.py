"""The aiohttp application: `/api/messages` (authenticated), `/healthz` and `/remediation/{token}`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core import AgentAuthConfiguration, Connections, OutboundHostValidator
from pydantic import ValidationError

from bot.access import AccessPolicy, GroupMembership
from bot.audit import AuditLog
from bot.auth import (
    activity_guard,
    auth_configuration,
    connection_manager,
    host_validator,
    local_requests_only,
    unreadable_tokens_refused,
)
from bot.directory import GRAPH_URL, GraphGroups
from bot.escalation_channel import Escalations
from bot.guard import GuardedConversation, MailboxScope
from bot.host import TeamsHost, build_application
from bot.links import Clock, LinkService, LinkSigner, PublishRunbook, load_link_keys
from bot.retention import Retention, rules_from
from bot.runtime import RUNTIME, Runtime
from bot.settings import Settings, SettingsError
from bot.storage import Store
from bot.storage.factory import open_store
from bot.turns import TurnRunner, TurnSlots
from bot.web import healthz, remediation
from dialogs.api import Conversation

__all__ = ["ConversationFactory", "create_app"]

logger = logging.getLogger(__name__)

# Activities taken into the SDK and the conversation at once (the rest wait as plain requests): enough to
# keep both cores busy, few enough that a burst of a thousand does not hold a thousand turns' objects.
TURNS_IN_FLIGHT = 32

ConversationFactory = Callable[[PublishRunbook], Conversation | AbstractAsyncContextManager[Conversation]]


def create_app(
    settings: Settings,
    conversation: Conversation | ConversationFactory,
    *,
    connections: Callable[[AgentAuthConfiguration], Connections] | None = None,
    outbound_hosts: OutboundHostValidator | None = None,
    graph_url: str = GRAPH_URL,
    clock: Clock = time.time,
) -> web.Application:
    """Build the server for `conversation` (an object, or a factory given the runbook publisher).

    `connections` builds the token providers for outbound calls from the bot's identity (MSAL unless given:
    tests use a loopback identity provider); `outbound_hosts` is the host validator for service URLs (the
    settings' unless given: tests allow their loopback connector with `bot.testing.LoopbackHostValidator`);
    `graph_url` is where group membership is read (`TRIAGE_ROLES_FROM_GROUPS`); `clock` drives link expiry
    and retention.
    """
    configuration = auth_configuration(settings)
    outbound = (connections or connection_manager)(configuration)
    validator = outbound_hosts or host_validator(settings)
    if settings.escalation_service_url and not validator.is_allowed(settings.escalation_service_url):
        raise SettingsError(
            "TRIAGE_ESCALATION_SERVICE_URL: not a service URL the bot may post to (https, on a Bot Framework "
            "or Teams host, not a private or loopback address)"
        )
    adapter = CloudAdapter(connection_manager=outbound, host_validator=validator)

    root = web.Application(middlewares=[local_requests_only(settings)])
    groups = GraphGroups(outbound, graph_url) if settings.roles_from_groups else None  # roles and the scope
    root.cleanup_ctx.append(_lifecycle(settings, conversation, adapter, validator, outbound, groups, clock))
    root.router.add_get("/healthz", healthz)
    root.router.add_get("/remediation/{token}", remediation)

    # The SDK's JWT middleware reads its configuration from the application it is installed on.
    api = web.Application(
        middlewares=[unreadable_tokens_refused, jwt_authorization_middleware, activity_guard(settings)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        api["agent_configuration"] = configuration
    api.router.add_post("/messages", _messages)
    root.add_subapp("/api", api)
    return root


async def _messages(request: web.Request) -> web.StreamResponse:
    runtime = request.config_dict[RUNTIME]
    if request.content_type != "application/json":
        return web.json_response({"error": "Activities are JSON (application/json)"}, status=415)
    problem = _shape_problem(await request.read())
    if problem:
        logger.warning("refused an activity: %s", problem)
        return web.json_response({"error": f"Invalid activity: {problem}"}, status=400)
    try:
        async with runtime.slots.hold():
            response = await start_agent_process(request, runtime.application, runtime.adapter)
    except ValidationError as invalid:
        # The SDK reads the activity into its models before the turn: a field of the wrong type ends here.
        fields = sorted({".".join(str(p) for p in e["loc"]) or "activity" for e in invalid.errors()})
        logger.warning("refused an activity the SDK cannot read (%s)", ", ".join(fields)[:200])
        return web.json_response({"error": "Invalid activity"}, status=400)
    return response if response is not None else web.Response(status=202)


def _shape_problem(body: bytes) -> str:
    """What an activity lacks for the SDK to take it and reply, "" when nothing does (the JSON is valid:
    the tenant guard has read it)."""
    activity = json.loads(body)
    if b"\\ud" in body.lower() and _lone_surrogate(activity):
        return "a string holds half of a UTF-16 surrogate pair"  # it could never be stored or shown
    if not isinstance(activity.get("type"), str) or not activity["type"]:
        return "no type"
    conversation = activity.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str):
        return "no conversation id"
    if not isinstance(activity.get("channelId"), str) or not activity["channelId"]:
        return "no channel id"
    for party in ("from", "recipient"):  # who wrote it, and the bot: every reply is addressed from them
        account = activity.get(party)
        if not isinstance(account, dict) or not isinstance(account.get("id"), str):
            return f"no {party} id"
    service_url = activity.get("serviceUrl")
    parts = urlsplit(service_url) if isinstance(service_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "no absolute http(s) serviceUrl"
    return ""


def _lone_surrogate(activity: object) -> bool:
    try:
        json.dumps(activity, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _lifecycle(
    settings: Settings,
    conversation: Conversation | ConversationFactory,
    adapter: CloudAdapter,
    validator: OutboundHostValidator,
    connections: Connections,
    groups: GroupMembership | None,
    clock: Clock,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(settings)
        try:
            key, *previous = load_link_keys(
                settings.link_secret.get_secret_value() if settings.link_secret else None,
                settings.link_previous_secret.get_secret_value() if settings.link_previous_secret else None,
                settings.state_dir,
            )
            signer = LinkSigner(key, settings.link_ttl_seconds, clock, previous=tuple(previous))
            links = LinkService(store, signer, settings.base_url, clock)
            async with _entered(conversation, links.publish) as inner:
                policy = AccessPolicy.from_settings(settings, groups)
                audit = AuditLog(store, clock)
                handler = GuardedConversation(
                    inner,
                    policy,
                    audit,
                    MailboxScope(settings.mailbox_scope, groups),
                    budget_seconds=settings.turn_budget_seconds,
                )
                escalations = Escalations(store, adapter, settings, validator, policy=policy, audit=audit)
                host = TeamsHost(store, TurnRunner(store, handler), escalations)
                adapter.on_turn_error = host.on_error
                application = build_application(host, connections)
                app[RUNTIME] = Runtime(
                    settings, store, adapter, application, links, TurnSlots(TURNS_IN_FLIGHT)
                )
                retention = Retention(store, rules_from(settings), clock)
                purging = asyncio.create_task(retention.run(settings.purge_interval_minutes * 60))
                logger.info("bot ready: %s", _describe(settings, store))
                try:
                    yield
                finally:
                    purging.cancel()
                    await asyncio.gather(purging, return_exceptions=True)
        finally:
            await store.close()

    return lifecycle


@asynccontextmanager
async def _entered(
    conversation: Conversation | ConversationFactory, publish: PublishRunbook
) -> AsyncIterator[Conversation]:
    """The conversation itself, or what its factory builds (entered, if it is an async context manager)."""
    if not isinstance(conversation, type) and callable(getattr(conversation, "handle", None)):
        yield cast(Conversation, conversation)
        return
    built: Any = cast(ConversationFactory, conversation)(publish)
    if isinstance(built, AbstractAsyncContextManager):
        async with built as entered:
            yield entered
    else:
        yield built


def _describe(settings: Settings, store: Store) -> str:
    facts: Mapping[str, object] = {
        "auth": "anonymous (development mode, loopback only)"
        if settings.anonymous
        else f"bot {settings.client_id}",
        "tenants": len(settings.tenants) or "any",
        "storage": store.kind,
        "backend": settings.backend,
        "outbound host check": "on" if settings.check_outbound_hosts else "off",
        "links": settings.base_url,
    }
    return ", ".join(f"{name}={value}" for name, value in facts.items())
