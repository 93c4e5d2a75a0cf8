"""Inbound authentication with a bot identity: the SDK's JWT middleware, issuer and tenant checks, for real.

Tokens are minted and their signing keys served by a loopback identity provider; replies go out with a token
the bot obtained from that provider by client credentials.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.settings import Settings
from bot.testing import (
    TEAMS_TENANT,
    LoopbackConnector,
    LoopbackIdentityProvider,
    RunningBot,
    TeamsActivities,
    loopback_connections,
    running_bot,
    signing_keys_from,
)
from tests.bot.conversations import ScriptedConversation

APP_ID = "0b0b0b0b-1111-2222-3333-444444444444"
SECRET = "loopback-client-secret-value"
OTHER_TENANT = "99999999-9999-9999-9999-999999999999"
ENTRA_KEYS = f"https://login.microsoftonline.com/{TEAMS_TENANT}/discovery/v2.0/keys"


@dataclass
class Secured:
    bot: RunningBot
    idp: LoopbackIdentityProvider
    conversation: ScriptedConversation
    activities: TeamsActivities
    connector: LoopbackConnector

    def token(self, **claims: Any) -> str:
        claims.setdefault("service_url", self.activities.service_url)
        return self.idp.mint(**claims)


@pytest.fixture
async def secured(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> AsyncIterator[Secured]:
    idp = LoopbackIdentityProvider(APP_ID, SECRET)
    await idp.start()
    settings = make_settings(
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID=APP_ID,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET=SECRET,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID=TEAMS_TENANT,
        TRIAGE_OUTBOUND_HOST_CHECK="false",  # the connector is on loopback http
        TRIAGE_ESCALATION_SERVICE_URL=activities.service_url,
        TRIAGE_ESCALATION_CHANNEL_ID="19:escalations@thread.tacv2",
        TRIAGE_ESCALATION_TENANT_ID=TEAMS_TENANT,
    )
    teams = TeamsActivities(service_url=activities.service_url, bot_id=f"28:{APP_ID}")
    conversation = ScriptedConversation()
    try:
        with signing_keys_from(idp.jwks_url, ENTRA_KEYS):
            connections = loopback_connections(idp, TEAMS_TENANT)
            async with running_bot(settings, conversation, connections=connections) as bot:
                yield Secured(bot, idp, conversation, teams, connector)
    finally:
        await idp.stop()


async def test_a_valid_token_is_accepted_and_replies_carry_the_bots_own_token(secured: Secured) -> None:
    response = await secured.bot.post(secured.activities.message("hi"), token=secured.token())
    assert response.status == 202
    [reply] = secured.connector.messages("a:personal-1")
    assert reply.text == "echo hi (turn 1)"
    assert reply.authorization.startswith("Bearer loopback-")
    assert reply.authorization.removeprefix("Bearer ") in secured.idp.issued


async def test_an_escalation_is_posted_with_the_bots_own_token(secured: Secured) -> None:
    response = await secured.bot.post(secured.activities.message("escalate"), token=secured.token())
    assert response.status == 202
    [thread] = secured.connector.of("create_conversation")
    assert thread.authorization.removeprefix("Bearer ") in secured.idp.issued
    assert thread.body["bot"]["id"] == f"28:{APP_ID}"
    assert thread.body["channelData"]["channel"]["id"] == "19:escalations@thread.tacv2"


async def test_an_entra_token_from_the_bots_tenant_is_accepted(secured: Secured) -> None:
    token = secured.token(
        issuer=f"https://login.microsoftonline.com/{TEAMS_TENANT}/v2.0", claims={"tid": TEAMS_TENANT}
    )
    assert (await secured.bot.post(secured.activities.message("hi"), token=token)).status == 202


@pytest.mark.parametrize(
    ("case", "token_claims", "logged"),
    [
        ("wrong audience", {"audience": "11111111-0000-0000-0000-000000000000"}, "JWT audience not accepted"),
        ("bad signature", {"foreign_key": True}, "InvalidSignatureError"),
        ("wrong issuer", {"issuer": "https://evil.example.com/"}, "JWT issuer not accepted"),
        ("expired", {"issued_at": time.time() - 7200}, "ExpiredSignatureError"),
        (
            "token from a tenant not allowed",
            {
                "issuer": f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0",
                "claims": {"tid": OTHER_TENANT},
            },
            "JWT issuer not accepted",
        ),
        (
            "token naming another tenant",
            {"claims": {"tid": OTHER_TENANT}},
            f"tenant not allowed: {OTHER_TENANT}",
        ),
        (
            "token for another service url",
            {"service_url": "https://smba.trafficmanager.net/emea/"},
            "serviceUrl",
        ),
    ],
)
async def test_bad_tokens_are_refused_with_401(
    secured: Secured,
    caplog: pytest.LogCaptureFixture,
    case: str,
    token_claims: dict[str, Any],
    logged: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await secured.bot.post(secured.activities.message("hi"), token=secured.token(**token_claims))
    assert response.status == 401, case
    assert logged in caplog.text, case
    assert secured.conversation.inbounds == []
    assert secured.connector.calls == []


async def test_a_missing_or_malformed_header_is_refused_with_401(secured: Secured) -> None:
    assert (await secured.bot.post(secured.activities.message("hi"))).status == 401
    unsigned = "eyJhbGciOiJub25lIn0.eyJhdWQiOiIwYjBiMGIwYi0xMTExLTIyMjItMzMzMy00NDQ0NDQ0NDQ0NDQifQ."
    assert (await secured.bot.post(secured.activities.message("hi"), token=unsigned)).status == 401
    async with secured.bot.session.post(
        f"{secured.bot.url}/api/messages",
        json=secured.activities.message("hi"),
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    ) as response:
        assert response.status == 401
    assert secured.conversation.inbounds == []


async def test_an_activity_from_a_tenant_not_allowed_is_refused_with_401(
    secured: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = TeamsActivities(
        service_url=secured.activities.service_url, tenant_id=OTHER_TENANT, bot_id=f"28:{APP_ID}"
    )
    response = await secured.bot.post(stranger.message("hi"), token=secured.token())
    assert response.status == 401
    assert f"tenant not allowed: {OTHER_TENANT}" in caplog.text
    assert secured.conversation.inbounds == []


async def test_health_and_runbook_pages_need_no_bot_token(secured: Secured) -> None:
    status, body, _ = await secured.bot.get("/healthz")
    assert status == 200 and '"auth": "bot"' in body
    status, _, _ = await secured.bot.get("/remediation/not-a-token")
    assert status == 403  # refused by the link check, not by bot authentication


async def test_without_a_bot_identity_the_middleware_still_checks_any_token_it_is_given(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        forged = await bot.post(activities.message("forged"), token="eyJhbGciOiJub25lIn0.e30.")
        anonymous = await bot.post(activities.message("local"))
    assert (forged.status, anonymous.status) == (401, 202)
    assert [inbound.text for inbound in conversation.inbounds] == ["local"]


async def test_without_a_bot_identity_a_configured_tenant_list_still_applies(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_ALLOWED_TENANTS=OTHER_TENANT)
    async with running_bot(settings, ScriptedConversation()) as bot:
        assert (await bot.post(activities.message("hi"))).status == 401
