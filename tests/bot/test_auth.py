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
    LoopbackHostValidator,
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
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    connector: LoopbackConnector,
    activities: TeamsActivities,
) -> AsyncIterator[Secured]:
    idp = LoopbackIdentityProvider(APP_ID, SECRET)
    await idp.start()
    extra: dict[str, str] = getattr(request, "param", {})
    settings = make_settings(
        **extra,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID=APP_ID,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET=SECRET,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID=TEAMS_TENANT,
        TRIAGE_ESCALATION_SERVICE_URL=activities.service_url,
        TRIAGE_ESCALATION_CHANNEL_ID="19:escalations@thread.tacv2",
        TRIAGE_ESCALATION_TENANT_ID=TEAMS_TENANT,
    )
    teams = TeamsActivities(service_url=activities.service_url, bot_id=f"28:{APP_ID}")
    conversation = ScriptedConversation()
    try:
        with signing_keys_from(idp.jwks_url, ENTRA_KEYS):
            connections = loopback_connections(idp, TEAMS_TENANT)
            # The connector is on loopback http: allowed by exactly its origin, the SDK's rules for the rest.
            hosts = LoopbackHostValidator([activities.service_url])
            async with running_bot(
                settings, conversation, connections=connections, outbound_hosts=hosts
            ) as bot:
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


TRUSTED_APP = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"  # a client app of the tenant allowed to call the bot
ENTRA_V2 = f"https://login.microsoftonline.com/{TEAMS_TENANT}/v2.0"
ENTRA_V1 = f"https://sts.windows.net/{TEAMS_TENANT}/"


@pytest.mark.parametrize(
    ("issuer", "client_claim"), [(ENTRA_V2, "azp"), (ENTRA_V1, "appid")], ids=["v2-azp", "v1-appid"]
)
async def test_a_token_the_tenant_issued_is_refused_from_any_client_app_not_on_the_allow_list(
    secured: Secured, caplog: pytest.LogCaptureFixture, issuer: str, client_claim: str
) -> None:
    # Any app registered in the tenant can ask Entra ID for a token to the bot's app id: no serviceurl claim,
    # so nothing binds it to Teams. Without an allow-list it is refused, whichever app asked.
    for claims in ({"tid": TEAMS_TENANT}, {"tid": TEAMS_TENANT, client_claim: TRUSTED_APP}):
        token = secured.token(issuer=issuer, service_url="", claims=claims)
        assert (await secured.bot.post(secured.activities.message("hi"), token=token)).status == 401
    assert "not on TRIAGE_TRUSTED_CLIENT_APPS" in caplog.text
    assert secured.conversation.inbounds == []


@pytest.mark.parametrize("secured", [{"TRIAGE_TRUSTED_CLIENT_APPS": TRUSTED_APP}], indirect=True)
@pytest.mark.parametrize(
    ("issuer", "client_claim"), [(ENTRA_V2, "azp"), (ENTRA_V1, "appid")], ids=["v2-azp", "v1-appid"]
)
async def test_a_token_the_tenant_issued_is_accepted_only_from_the_allowed_client_apps(
    secured: Secured, issuer: str, client_claim: str
) -> None:
    trusted = secured.token(
        issuer=issuer, service_url="", claims={"tid": TEAMS_TENANT, client_claim: TRUSTED_APP}
    )
    stranger = secured.token(
        issuer=issuer, service_url="", claims={"tid": TEAMS_TENANT, client_claim: OTHER_TENANT}
    )
    assert (await secured.bot.post(secured.activities.message("hi"), token=trusted)).status == 202
    assert (await secured.bot.post(secured.activities.message("hi"), token=stranger)).status == 401
    assert [inbound.text for inbound in secured.conversation.inbounds] == ["hi"]


async def test_a_bot_framework_token_without_a_serviceurl_claim_is_refused(
    secured: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    response = await secured.bot.post(secured.activities.message("hi"), token=secured.token(service_url=""))
    assert response.status == 401
    assert "without a serviceurl claim" in caplog.text
    assert secured.conversation.inbounds == []


async def test_expect_replies_is_refused_so_replies_never_travel_in_the_http_response(
    secured: Secured,
) -> None:
    activity = {**secured.activities.message("hi"), "deliveryMode": "expectReplies"}
    response = await secured.bot.post(activity, token=secured.token())
    assert response.status == 400
    assert "expectReplies" in str(response.body) and "echo" not in str(response.body)
    assert secured.conversation.inbounds == []


async def test_an_activity_whose_two_tenant_fields_disagree_is_refused(
    secured: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    activity = secured.activities.message("hi")
    activity["conversation"]["tenantId"] = OTHER_TENANT  # channelData.tenant.id is the allowed tenant
    assert (await secured.bot.post(activity, token=secured.token())).status == 401
    assert "two tenants" in caplog.text
    assert secured.conversation.inbounds == []


async def test_a_service_url_outside_the_allowed_hosts_is_never_called(secured: Secured) -> None:
    stranger = TeamsActivities(
        service_url="http://127.0.0.2:9/", tenant_id=TEAMS_TENANT, bot_id=f"28:{APP_ID}"
    )
    token = secured.idp.mint(service_url=stranger.service_url)
    response = await secured.bot.post(stranger.message("hi"), token=token)
    assert response.status >= 400
    assert secured.conversation.inbounds == []


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


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "203.0.113.7"},
        {"Forwarded": "for=203.0.113.7;proto=https"},
        {"X-Forwarded-Host": "triage.contoso.com"},
        {"X-Forwarded-Proto": "https"},
        {"Host": "triage.contoso.com"},
        {"Host": "10.0.0.5:3978"},
    ],
)
async def test_the_anonymous_development_mode_answers_only_requests_made_straight_on_this_machine(
    make_settings: Callable[..., Settings],
    connector: LoopbackConnector,
    activities: TeamsActivities,
    headers: dict[str, str],
) -> None:
    # Behind a reverse proxy (the documented deployment) a server without identity must not be reachable.
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        async with bot.session.post(
            f"{bot.url}/api/messages", json=activities.message("hi"), headers=headers
        ) as refused:
            assert refused.status == 403
            assert "TRIAGE_DEV_ANONYMOUS" in await refused.text()
        async with bot.session.get(f"{bot.url}/healthz", headers=headers) as health:
            assert health.status == 403
        assert (await bot.post(activities.message("local"))).status == 202
    assert [inbound.text for inbound in conversation.inbounds] == ["local"]
