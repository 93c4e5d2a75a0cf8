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
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core import (
    AgentAuthConfiguration,
    ClaimsIdentity,
    Connections,
    OutboundHostValidator,
)
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
from bot.fixes import FixDesk
from bot.guard import GuardedConversation, MailboxScope
from bot.host import TeamsHost, build_application
from bot.jobs import JobEngine, JobWorker
from bot.jobs.queue import QueueJobs
from bot.jobs.sqlite import JOBS_FILE, SqliteJobs
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
    answer_seconds: float | None = None,
) -> web.Application:
    """Build the server for `conversation` (an object, or a factory given the runbook publisher).

    `connections` builds the token providers for outbound calls from the bot's identity (MSAL unless given:
    tests use a loopback identity provider); `outbound_hosts` is the host validator for service URLs (the
    settings' unless given: tests allow their loopback connector with `bot.testing.LoopbackHostValidator`);
    `graph_url` is where group membership is read (`TRIAGE_ROLES_FROM_GROUPS`); `clock` drives link expiry,
    retention and how long activity ids are kept (redelivery); `answer_seconds` how long an activity's HTTP
    answer waits for its turn to finish (the settings' TRIAGE_ANSWER_WITHIN_MS unless given).
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
    wait = settings.answer_within_ms / 1000 if answer_seconds is None else answer_seconds
    root.cleanup_ctx.append(
        _lifecycle(settings, conversation, adapter, validator, outbound, groups, clock, wait)
    )
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
    body = await request.read()
    document = json.loads(body)
    problem = _shape_problem(body, document)
    if problem:
        logger.warning("refused an activity: %s", problem)
        return web.json_response({"error": f"Invalid activity: {problem}"}, status=400)
    try:
        if TeamsHost.takes(document):
            activity = Activity.model_validate(document)
            # A job's activity never passes through the SDK's process_request: check its serviceUrl here as
            # the SDK would (the outbound host check, and the host bound to the token's serviceurl claim).
            identity = request.get("claims_identity") or ClaimsIdentity()
            if not runtime.adapter._validate_service_url(identity, activity):
                logger.warning("refused an activity whose serviceUrl the bot may not post to")
                return web.json_response({"error": "serviceUrl not allowed"}, status=401)
            status, answer = await runtime.host.accept(activity, document)
            return (
                web.json_response(answer, status=status)
                if answer is not None
                else web.Response(status=status)
            )
        async with runtime.slots.hold():
            response = await start_agent_process(request, runtime.application, runtime.adapter)
    except ValidationError as invalid:
        # The SDK reads the activity into its models before the turn: a field of the wrong type ends here.
        fields = sorted({".".join(str(p) for p in e["loc"]) or "activity" for e in invalid.errors()})
        logger.warning("refused an activity the SDK cannot read (%s)", ", ".join(fields)[:200])
        return web.json_response({"error": "Invalid activity"}, status=400)
    return response if response is not None else web.Response(status=202)


def _shape_problem(body: bytes, activity: Any) -> str:
    """What an activity (`body`, read as `activity`) lacks for the SDK to take it and reply, "" when nothing
    does (the JSON is valid: the tenant guard has read it)."""
    if not isinstance(activity, dict):
        return "not a JSON object"
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
    answer_seconds: float,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(settings)
        engine: JobEngine | None = None
        worker: JobWorker | None = None
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
                escalations = Escalations(
                    store, adapter, settings, validator, policy=policy, audit=audit, clock=clock
                )
                # A conversation built with a write side (`bot.fixes.OffersFixes`) gets "Fix it".
                fixer = getattr(inner, "fixer", None)
                fixes = None
                if fixer is not None:
                    identity = _identity(adapter, settings)
                    fixes = FixDesk(store, fixer, policy, audit, escalations, adapter, identity, validator)
                    fixes.configure(
                        ttl_seconds=settings.fix_ttl_seconds,
                        clock=clock,
                        requester_may_approve=settings.fix_requester_may_approve,
                    )
                slots = TurnSlots(TURNS_IN_FLIGHT)
                runner = TurnRunner(store, handler, seen_seconds=settings.seen_seconds, clock=clock)
                host = TeamsHost(
                    store,
                    runner,
                    escalations,
                    adapter,
                    identity=_identity(adapter, settings),
                    slots=slots,
                    answer_seconds=answer_seconds,
                    fixes=fixes,
                )
                adapter.on_turn_error = host.on_error
                application = build_application(host, connections)
                engine = await _open_jobs(settings, store, clock)
                worker = JobWorker(engine, host.run_job, host.give_up, max_attempts=settings.job_attempts)
                host.worker = worker
                app[RUNTIME] = Runtime(settings, store, adapter, application, links, slots, host, worker)
                retention = Retention(store, rules_from(settings), clock)
                purging = asyncio.create_task(retention.run(settings.purge_interval_minutes * 60))
                await worker.start()
                logger.info("bot ready: %s", _describe(settings, store, engine))
                try:
                    yield
                finally:
                    await worker.stop()
                    purging.cancel()
                    await asyncio.gather(purging, return_exceptions=True)
        finally:
            if engine is not None:
                await engine.close()
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


async def _open_jobs(settings: Settings, store: Store, clock: Clock) -> JobEngine:
    if settings.job_queue:
        if settings.blob_connection_string is None:
            raise ValueError("TRIAGE_JOB_QUEUE needs TRIAGE_BLOB_CONNECTION_STRING (one storage account)")
        return await QueueJobs.open(
            settings.blob_connection_string.get_secret_value(),
            settings.job_queue,
            store,
            visibility_seconds=settings.job_visibility_seconds,
            poll_seconds=settings.job_poll_seconds,
            keep_seconds=settings.seen_seconds,
            clock=clock,
        )
    return SqliteJobs(settings.state_dir / JOBS_FILE, keep_seconds=settings.seen_seconds, clock=clock)


def _identity(adapter: CloudAdapter, settings: Settings) -> ClaimsIdentity:
    """Who proactive turns run as: the bot's app id (claims-less when anonymous, local development only)."""
    if settings.anonymous:
        return ClaimsIdentity()
    identity: ClaimsIdentity = adapter.create_claims_identity(settings.client_id)
    return identity


def _describe(settings: Settings, store: Store, engine: JobEngine) -> str:
    facts: Mapping[str, object] = {
        "auth": "anonymous (development mode, loopback only)"
        if settings.anonymous
        else f"bot {settings.client_id}",
        "tenants": len(settings.tenants) or "any",
        "storage": store.kind,
        "jobs": f"queue {settings.job_queue}" if settings.job_queue else engine.kind,
        "backend": settings.backend,
        "outbound host check": "on" if settings.check_outbound_hosts else "off",
        "links": settings.base_url,
    }
    return ", ".join(f"{name}={value}" for name, value in facts.items())
