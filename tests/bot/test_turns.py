"""The turn, end to end: Teams-shaped activities in over HTTP, replies out through the loopback connector."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from tests.bot.conversations import ScriptedConversation


async def test_a_message_reaches_the_conversation_and_its_reply_reaches_the_chat(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        response = await bot.post(activities.message("hello there"))
    assert response.status in (200, 202)
    assert connector.texts("a:personal-1") == ["echo hello there (turn 1)"]
    [inbound] = conversation.inbounds
    assert inbound.kind == "message"
    assert inbound.conversation_type == "personal"
    assert inbound.user_id == activities.user_aad_id
    assert inbound.user_name == "Ada Lovelace"
    assert inbound.tenant_id == activities.tenant_id
