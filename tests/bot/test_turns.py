"""The turn, end to end: Teams-shaped activities in over HTTP, replies out through the loopback connector."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from tests.bot.conversations import ScriptedConversation

PERSONAL = "a:personal-1"


async def test_a_message_reaches_the_conversation_and_its_reply_reaches_the_chat(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        response = await bot.post(activities.message("hello there"))
    assert response.status == 202
    assert connector.texts(PERSONAL) == ["echo hello there (turn 1)"]
    [inbound] = conversation.inbounds
    assert inbound.kind == "message"
    assert inbound.text == "hello there"
    assert inbound.conversation_id == PERSONAL
    assert inbound.conversation_type == "personal"
    assert inbound.user_id == activities.user_aad_id
    assert inbound.user_name == "Ada Lovelace"
    assert inbound.tenant_id == activities.tenant_id


async def test_the_bots_mention_is_stripped_from_the_text(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        await bot.post(activities.message("free/busy  is broken", mention=True))
    assert conversation.inbounds[0].text == "free/busy is broken"


async def test_state_carries_from_turn_to_turn(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        for text in ("one", "two", "three"):
            await bot.post(activities.message(text))
        await bot.post(activities.message("elsewhere", conversation="a:personal-2"))
    assert connector.texts(PERSONAL) == ["echo one (turn 1)", "echo two (turn 2)", "echo three (turn 3)"]
    assert connector.texts("a:personal-2") == ["echo elsewhere (turn 1)"]


async def test_a_card_goes_out_as_an_adaptive_card_with_typing_before_it(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        await bot.post(activities.message("card checking"))
    typing, message = connector.in_conversation(PERSONAL)
    assert typing.type == "typing"
    assert message.body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert message.cards[0]["body"][0]["text"] == "checking"


async def test_a_card_with_a_key_seen_before_is_updated_in_place(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        await bot.post(activities.message("card 10%"))
        await bot.post(activities.message("card 100%"))
    [first] = [c for c in connector.messages(PERSONAL) if c.cards]
    [update] = connector.of("update")
    posted_id = _reply_ids(connector)[0]
    assert update.activity_id == posted_id
    assert update.conversation_id == PERSONAL
    assert first.cards[0]["body"][0]["text"] == "10%"
    assert update.cards[0]["body"][0]["text"] == "100%"


async def test_card_updates_survive_a_restart(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("card before"))
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("card after"))
    assert [u.activity_id for u in connector.of("update")] == _reply_ids(connector)[:1]


async def test_an_action_submit_reaches_the_conversation_as_a_submit(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        await bot.post(activities.submit({"symptom": "free-busy"}))
    [inbound] = conversation.inbounds
    assert (inbound.kind, inbound.value, inbound.text) == ("submit", {"symptom": "free-busy"}, "")


async def test_an_action_execute_is_a_submit_with_its_verb_and_answers_the_invoke(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        await bot.post(activities.message("card pick one"))
        card_id = _reply_ids(connector)[0]
        response = await bot.post(activities.execute("choose", {"scope": "one user"}, reply_to_id=card_id))
    assert response.status == 200
    assert conversation.inbounds[-1].kind == "submit"
    assert conversation.inbounds[-1].value == {"scope": "one user", "verb": "choose"}
    # The conversation updated the clicked card: Teams gets the new card back in the invoke response.
    assert response.body["statusCode"] == 200
    assert response.body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "one user" in response.body["value"]["body"][0]["text"]
    [update] = connector.of("update")
    assert update.activity_id == card_id


async def test_an_action_execute_on_a_card_that_did_not_change_is_acknowledged(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        response = await bot.post(activities.execute("choose", {}, reply_to_id="some-other-card"))
    assert response.status == 200
    assert response.body == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Received",
    }


async def test_being_added_to_a_team_stores_the_teams_reference_and_tells_the_conversation(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    conversation = ScriptedConversation()
    async with running_bot(settings, conversation) as bot:
        await bot.post(activities.bot_added_to_team(team_id="19:ops@thread.tacv2", team_name="Ops"))
    [inbound] = conversation.inbounds
    assert (inbound.kind, inbound.team_id, inbound.conversation_type) == (
        "added_to_team",
        "19:ops@thread.tacv2",
        "channel",
    )
    assert connector.texts("19:ops@thread.tacv2") == ["hello 19:ops@thread.tacv2"]
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        stored, etag = await store.read("team/19:ops@thread.tacv2")
    finally:
        await store.close()
    assert etag is not None
    assert stored["reference"]["serviceUrl"] == activities.service_url
    assert stored["reference"]["conversation"]["id"] == "19:ops@thread.tacv2"
    assert stored["team"]["label"] == "Ops › General"


async def test_a_channel_message_that_mentions_the_bot_is_a_mention_in_channel(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        await bot.post(activities.channel_message("can you look at EX02?", channel_id="19:help@thread.tacv2"))
        await bot.post(activities.channel_message("talking among ourselves", mention=False))
    [inbound] = conversation.inbounds
    assert inbound.kind == "mention_in_channel"
    assert inbound.text == "can you look at EX02?"
    assert inbound.channel_id == "19:help@thread.tacv2"
    assert inbound.team_id == "19:team@thread.tacv2"


def _reply_ids(connector: LoopbackConnector) -> list[str]:
    """The ids the connector gave to the messages that carried cards, in order."""
    return [
        call.returned_id for call in connector.calls if call.operation in ("send", "reply") and call.cards
    ]
