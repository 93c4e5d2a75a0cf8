"""The escalation channel: set by an admin in Teams or by configuration; escalations open new threads there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import pytest

from bot.app import create_app
from bot.escalation_channel import ESCALATION_KEY, ChannelTarget
from bot.settings import Settings, SettingsError
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import TEAMS_TENANT, LoopbackConnector, LoopbackHostValidator, TeamsActivities, running_bot
from tests.bot.conversations import ScriptedConversation

ESCALATIONS = "19:escalations@thread.tacv2"


async def test_an_admin_sets_the_channel_by_mentioning_the_bot_there(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    command = activities.channel_message(
        "Set escalation channel", channel_id=ESCALATIONS, team_name="Exchange", channel_name="Escalations"
    )
    async with running_bot(make_settings(), conversation) as bot:
        await bot.post(command)
    assert conversation.inbounds == []  # the host answers this command itself
    [confirmation] = connector.messages(command["conversation"]["id"])
    assert "Exchange › Escalations" in confirmation.text


async def test_an_escalation_opens_a_new_thread_in_the_channel_and_says_where(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    command = activities.channel_message(
        "set escalation channel", channel_id=ESCALATIONS, team_name="Exchange", channel_name="Escalations"
    )
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(command)
    # A restart in between: the channel is kept in storage.
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("escalate"))
    [thread] = connector.of("create_conversation")
    assert thread.body["isGroup"] is True
    assert thread.body["channelData"]["channel"]["id"] == ESCALATIONS
    assert thread.body["channelData"]["tenant"]["id"] == activities.tenant_id
    assert thread.body["bot"]["id"] == activities.bot_id
    assert thread.body["activity"]["attachments"][0]["content"]["body"][0]["text"] == "please look at this"
    assert thread.conversation_id.startswith(ESCALATIONS + ";messageid=")
    assert connector.texts("a:personal-1") == ["escalated to Exchange › Escalations"]


async def test_without_an_escalation_channel_the_conversation_is_told_it_went_nowhere(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        await bot.post(activities.message("escalate"))
    assert connector.of("create_conversation") == []
    assert connector.texts("a:personal-1") == ["escalated to None"]


async def test_the_channel_can_come_from_configuration(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(
        TRIAGE_ESCALATION_SERVICE_URL=activities.service_url,
        TRIAGE_ESCALATION_CHANNEL_ID=ESCALATIONS,
        TRIAGE_ESCALATION_TENANT_ID=activities.tenant_id,
    )
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("escalate"))
    [thread] = connector.of("create_conversation")
    assert thread.body["channelData"]["channel"]["id"] == ESCALATIONS
    assert connector.texts("a:personal-1") == ["escalated to the escalation channel"]


async def test_a_failed_post_is_reported_as_none_and_the_turn_goes_on(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(
        TRIAGE_ESCALATION_SERVICE_URL="http://127.0.0.1:9/",  # nothing listens on the discard port
        TRIAGE_ESCALATION_CHANNEL_ID=ESCALATIONS,
        TRIAGE_ESCALATION_TENANT_ID=activities.tenant_id,
    )
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("escalate"))
    assert connector.texts("a:personal-1") == ["escalated to None"]


@pytest.mark.parametrize(
    "url",
    [
        "http://smba.trafficmanager.net/emea/",
        "https://10.0.0.5/",
        "https://evil.example.com/",
        "https://127.0.0.1/",
    ],
)
def test_an_escalation_url_the_host_validator_refuses_stops_the_start(
    make_settings: Callable[..., Settings], url: str
) -> None:
    settings = make_settings(
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID="0b0b0b0b-1111-2222-3333-444444444444",
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET="a-client-secret",
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID=TEAMS_TENANT,
        TRIAGE_ESCALATION_SERVICE_URL=url,
        TRIAGE_ESCALATION_CHANNEL_ID=ESCALATIONS,
        TRIAGE_ESCALATION_TENANT_ID=TEAMS_TENANT,
    )
    with pytest.raises(SettingsError, match="TRIAGE_ESCALATION_SERVICE_URL"):
        create_app(settings, ScriptedConversation())
    allowed = settings.model_copy(update={"escalation_service_url": "https://smba.trafficmanager.net/emea/"})
    assert create_app(allowed, ScriptedConversation()) is not None


async def test_a_stored_channel_on_a_host_the_validator_refuses_is_never_posted_to(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    # The host check on: only the loopback connector is an allowed service host.
    settings = make_settings(TRIAGE_OUTBOUND_HOST_CHECK="true")
    hosts = LoopbackHostValidator([activities.service_url])
    elsewhere = LoopbackConnector()  # reachable, but not a service host the validator allows
    await elsewhere.start()
    try:
        assert elsewhere._server is not None
        target = ChannelTarget(elsewhere._server.url + "/", ESCALATIONS, activities.tenant_id, "Elsewhere")
        stored = {**asdict(target), "set_by": activities.user_aad_id}  # an admin: everyone, without roles
        store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
        try:
            await store.write(ESCALATION_KEY, stored, None)
        finally:
            await store.close()
        async with running_bot(settings, ScriptedConversation(), outbound_hosts=hosts) as bot:
            await bot.post(activities.message("escalate"))
    finally:
        await elsewhere.stop()
    assert elsewhere.calls == [] and connector.of("create_conversation") == []
    assert connector.texts("a:personal-1") == ["escalated to None"]
