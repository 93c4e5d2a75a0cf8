"""The escalation channel: set by an admin in Teams or by configuration; escalations open new threads there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import pytest

from bot.app import create_app
from bot.audit import AuditLog, AuditRecord
from bot.escalation_channel import ESCALATION_KEY, GONE, ChannelTarget
from bot.settings import Settings, SettingsError
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import (
    TEAMS_TENANT,
    LoopbackConnector,
    LoopbackHostValidator,
    Recorded,
    RunningBot,
    TeamsActivities,
    running_bot,
)
from dialogs.engine import TriageConversation
from dialogs.escalation import OWNER_ID, TAKE
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.bot.conversations import ScriptedConversation
from tests.dialogs.harness import card_text
from tests.world import SEED_000, scenario_runner

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


# One post per triage, and "I'll take it".

KEY = "escalation-5f0c2a9e41d7"
NOON = 1795255320.0  # 2026-11-21 10:02 UTC


def _owner_line(card: dict[str, Any]) -> str:
    return str(next(e["text"] for e in card["body"] if e.get("id") == OWNER_ID))


def _buttons(card: dict[str, Any]) -> list[str]:
    return [a["title"] for a in card.get("actions", [])]


async def _set_channel(bot: RunningBot, activities: TeamsActivities) -> None:
    await bot.post(
        activities.channel_message(
            "set escalation channel", channel_id=ESCALATIONS, team_name="Exchange", channel_name="Escalations"
        )
    )
    await bot.idle()  # set before anything is escalated (turns in other conversations run alongside)


def _press(activities: TeamsActivities, thread: Recorded, **value: Any) -> dict[str, Any]:
    return activities.channel_card_submit(
        {"action": TAKE, "post": KEY, **value},
        conversation=thread.conversation_id,
        reply_to_id=thread.returned_id,
        channel_id=ESCALATIONS,
    )


async def test_escalating_the_same_triage_again_updates_its_post_in_place(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with running_bot(settings, ScriptedConversation()) as bot:
        await _set_channel(bot, activities)
        await bot.post(activities.message(f"escalate {KEY}"))
    # A restart in between: where the post is was stored.
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message(f"escalate {KEY}"))
    [thread] = connector.of("create_conversation")
    [update] = connector.of("update")
    assert update.conversation_id == thread.conversation_id
    assert update.activity_id == thread.returned_id
    assert update.cards[0]["body"][0]["text"] == "please look at this (turn 2)"
    assert connector.texts("a:personal-1") == ["escalated to Exchange › Escalations"] * 2


async def test_ill_take_it_records_the_owner_and_updates_the_card_for_everyone(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    grace = replace(activities, user_name="Grace Hopper", user_aad_id="00000000-0000-0000-0000-0000000000b2")
    async with running_bot(settings, ScriptedConversation(), clock=lambda: NOON) as bot:
        await _set_channel(bot, activities)
        await bot.post(activities.message(f"escalate {KEY}"))
        await bot.idle()
        [thread] = connector.of("create_conversation")
        assert _buttons(thread.body["activity"]["attachments"][0]["content"]) == ["I'll take it"]
        connector.clear()
        await bot.post(_press(grace, thread))
    [update] = connector.of("update")
    assert (update.conversation_id, update.activity_id) == (thread.conversation_id, thread.returned_id)
    taken = update.cards[0]
    assert _owner_line(taken) == "Taken by Grace Hopper at 10:02 UTC on 21 Nov 2026."
    assert _buttons(taken) == ["Take over"]
    assert taken["body"][0]["text"] == "please look at this (turn 1)"  # the rest of the card as it was
    assert connector.of("create_conversation") == [] and connector.messages(thread.conversation_id) == []
    # Whoever escalated it is told, in the chat it came from.
    assert connector.texts("a:personal-1") == [
        "Grace Hopper has taken your escalation of triage 5f0c2a9e41d7 in Exchange › Escalations."
    ]
    records = await _audit(settings, "escalation-taken")
    assert [(r.actor, r.actor_name, r.detail) for r in records] == [
        (grace.user_aad_id, "Grace Hopper", {"post": KEY, "from": ""})
    ]
    # Escalated again later: the post is updated, and still says who has it.
    connector.clear()
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message(f"escalate {KEY}"))
    [again] = connector.of("update")
    assert _owner_line(again.cards[0]) == "Taken by Grace Hopper at 10:02 UTC on 21 Nov 2026."
    assert again.cards[0]["body"][0]["text"] == "please look at this (turn 2)"


async def test_a_second_take_says_who_has_it_and_take_over_hands_it_over(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    grace = replace(activities, user_name="Grace Hopper", user_aad_id="00000000-0000-0000-0000-0000000000b2")
    alan = replace(activities, user_name="Alan Turing", user_aad_id="00000000-0000-0000-0000-0000000000c3")
    now = [NOON]
    async with running_bot(settings, ScriptedConversation(), clock=lambda: now[0]) as bot:
        await _set_channel(bot, activities)
        await bot.post(activities.message(f"escalate {KEY}"))
        await bot.idle()
        [thread] = connector.of("create_conversation")
        await bot.post(_press(grace, thread))
        await bot.idle()
        connector.clear()
        now[0] = NOON + 180
        # Alan presses "I'll take it" on a card that did not show Grace's name yet: told who has it.
        await bot.post(_press(alan, thread))
        await bot.idle()
        [told] = connector.messages(thread.conversation_id)
        assert told.text == (
            "Grace Hopper has had this since 10:02 UTC on 21 Nov 2026. If you are taking it over from them, "
            "press Take over on the card."
        )
        [refreshed] = connector.of("update")
        assert _owner_line(refreshed.cards[0]) == "Taken by Grace Hopper at 10:02 UTC on 21 Nov 2026."
        connector.clear()
        # Take over, explicitly.
        await bot.post(_press(alan, thread, over=True))
        await bot.idle()
        [handed] = connector.of("update")
        assert _owner_line(handed.cards[0]) == (
            "Taken by Alan Turing at 10:05 UTC on 21 Nov 2026 (taken over from Grace Hopper)."
        )
        assert connector.messages(thread.conversation_id) == []
        connector.clear()
        # Alan pressing again changes nothing.
        await bot.post(_press(alan, thread, over=True))
    assert connector.of("update") == []
    assert [c.text for c in connector.messages(thread.conversation_id)] == [
        "You have this one already (since 10:05 UTC on 21 Nov 2026)."
    ]
    records = await _audit(settings, "escalation-taken")
    assert [(r.actor_name, r.detail["from"]) for r in records] == [
        ("Alan Turing", "Grace Hopper"),
        ("Grace Hopper", ""),
    ]


async def test_a_take_of_a_post_the_bot_no_longer_has_is_answered_not_crashed(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        await bot.post(
            activities.channel_card_submit(
                {"action": TAKE, "post": "escalation-gone'; drop"},
                conversation=f"{ESCALATIONS};messageid=act-9",
                reply_to_id="act-9",
                channel_id=ESCALATIONS,
            )
        )
    assert connector.texts(f"{ESCALATIONS};messageid=act-9") == [GONE]
    assert connector.of("update") == []


async def test_where_escalations_go_is_answered_before_anything_is_posted(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        await bot.post(activities.message("where"))
        await bot.idle()
        await _set_channel(bot, activities)
        await bot.post(activities.message("where"))
    assert connector.texts("a:personal-1") == [
        "escalations go to None",
        "escalations go to Exchange › Escalations",
    ]
    assert connector.of("create_conversation") == []


async def _audit(settings: Settings, kind: str) -> list[AuditRecord]:
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        return await AuditLog(store).read(kinds=[kind])
    finally:
        await store.close()


async def test_without_a_channel_the_triage_says_so_before_asking_and_keeps_what_was_typed(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async def publish(runbook: dict[str, Any]) -> str:
        return "https://triage.example/remediation/tok"

    conversation = TriageConversation(load_knowledge(), scenario_runner(SEED_000), publish, read_error_text)
    async with running_bot(make_settings(), conversation) as bot:
        for text in (
            "hi",
            "cloud users can't see on-prem free/busy, everyone",
            "usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com",
            "yes",
            "skip",
        ):
            await bot.post(activities.message(text))
            await bot.idle()
        connector.clear()
        await bot.post(activities.message("escalate"))
        await bot.idle()
        said = connector.messages("a:personal-1")
        assert said[0].text.startswith("No escalation channel is set yet") and not said[0].cards
        assert "what has already been tried?" in card_text(said[1].cards[0])  # asked only after
        await bot.post(activities.message("Restarted IIS on EX02"))
        await bot.idle()
        assert connector.texts("a:personal-1")[-1].startswith("Kept.")
        await _set_channel(bot, activities)
        connector.clear()
        await bot.post(activities.message("escalate"))
    [thread] = connector.of("create_conversation")
    assert "Restarted IIS on EX02" in card_text(thread.body["activity"]["attachments"][0]["content"])
    shown = [card_text(c) for m in connector.messages("a:personal-1") for c in m.cards]
    assert not any("what has already been tried?" in text for text in shown)  # not asked again
    assert "I posted this triage to Exchange › Escalations" in connector.texts("a:personal-1")[0]


async def test_ill_take_it_as_an_action_execute_takes_it_too(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation(), clock=lambda: NOON) as bot:
        await _set_channel(bot, activities)
        await bot.post(activities.message(f"escalate {KEY}"))
        await bot.idle()
        [thread] = connector.of("create_conversation")
        invoke = activities.execute(
            TAKE, {"post": KEY}, reply_to_id=thread.returned_id, conversation=thread.conversation_id
        )
        response = await bot.post(invoke)
    assert response.status == 200
    [update] = connector.of("update")
    assert _owner_line(update.cards[0]) == "Taken by Ada Lovelace at 10:02 UTC on 21 Nov 2026."
