"""The escalation channel: set by an admin in Teams or by configuration; escalations open new threads there."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
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
