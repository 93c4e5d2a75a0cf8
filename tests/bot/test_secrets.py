"""Secrets configured for the bot never reach the logs, the chat or a web page."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from bot.settings import Settings
from bot.testing import (
    TEAMS_TENANT,
    LoopbackConnector,
    LoopbackHostValidator,
    LoopbackIdentityProvider,
    TeamsActivities,
    loopback_connections,
    running_bot,
    signing_keys_from,
)
from tests.bot.azurite import ACCOUNT_KEY
from tests.bot.conversations import ScriptedConversation

APP_ID = "0b0b0b0b-1111-2222-3333-444444444444"
CLIENT_SECRET = "client-secret-0123456789-abcdefghij"
LINK_SECRET = "link-secret-0123456789-abcdefghijklmnop"


async def test_a_start_up_and_turns_with_secrets_configured_log_none_of_them(
    make_settings: Callable[..., Settings],
    connector: LoopbackConnector,
    activities: TeamsActivities,
    azurite: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    idp = LoopbackIdentityProvider(APP_ID, CLIENT_SECRET)
    await idp.start()
    settings = make_settings(
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID=APP_ID,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET=CLIENT_SECRET,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID=TEAMS_TENANT,
        TRIAGE_LINK_SECRET=LINK_SECRET,
        TRIAGE_STORAGE="blob",
        TRIAGE_BLOB_CONNECTION_STRING=azurite,
        TRIAGE_BLOB_CONTAINER="secrets-test",
    )
    teams = TeamsActivities(service_url=activities.service_url, bot_id=f"28:{APP_ID}")
    token = idp.mint(service_url=activities.service_url)
    try:
        with signing_keys_from(idp.jwks_url):
            bot_context = running_bot(
                settings,
                ScriptedConversation,
                connections=loopback_connections(idp, TEAMS_TENANT),
                outbound_hosts=LoopbackHostValidator([activities.service_url]),
            )
            async with bot_context as bot:
                for text in ("hello", "card one", "runbook", "boom"):
                    assert (await bot.post(teams.message(text), token=token)).status == 202
                _, health, _ = await bot.get("/healthz")
                [link] = [t for t in connector.texts("a:personal-1") if "/remediation/" in t]
                _, page, _ = await bot.get(link.removeprefix(bot.url))
    finally:
        await idp.stop()
    assert "bot ready" in caplog.text  # the start-up was captured
    assert "turn failed" in caplog.text  # and so was a failing turn, with its traceback
    replies = " ".join(str(call.body) for call in connector.calls)
    for secret in (CLIENT_SECRET, LINK_SECRET, ACCOUNT_KEY):
        assert secret not in caplog.text
        assert secret not in replies
        assert secret not in health and secret not in page
