"""Nothing lost: failures apologise and keep the state, restarts resume, concurrent turns do not overwrite."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import LoopbackConnector, RunningBot, TeamsActivities, running_bot
from bot.turns import HOST_KEY, RESEND
from tests.bot.conversations import ScriptedConversation

PERSONAL = "a:personal-1"
STATE_KEY = f"conv/msteams/{PERSONAL}"


async def test_a_failing_turn_apologises_with_a_reference_and_keeps_the_state(
    make_settings: Callable[..., Settings],
    connector: LoopbackConnector,
    activities: TeamsActivities,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(make_settings(), ScriptedConversation()) as bot:
        await bot.post(activities.message("first"))
        response = await bot.post(activities.message("boom"))
        await bot.post(activities.message("after"))
    assert response.status == 202
    first, about, apology, after = connector.texts(PERSONAL)
    assert (first, about, after) == ("echo first (turn 1)", "about to fail", "echo after (turn 2)")
    match = re.search(r"reference ([0-9a-f]{8})", apology)
    assert match is not None and apology.startswith("Sorry")
    assert "hunter2" not in apology and "Traceback" not in apology and "RuntimeError" not in apology
    [record] = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


async def test_a_state_that_is_not_plain_json_is_a_failed_turn(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    class Unstorable(ScriptedConversation):
        async def handle(self, state, inbound, emit):
            new_state = await super().handle(state, inbound, emit)
            return {**new_state, "when": object()} if inbound.text == "bad" else new_state

    async with running_bot(make_settings(), Unstorable()) as bot:
        await bot.post(activities.message("bad"))
        await bot.post(activities.message("good"))
    texts = connector.texts(PERSONAL)
    assert texts[0] == "echo bad (turn 1)"
    assert texts[1].startswith("Sorry")
    assert texts[2] == "echo good (turn 1)"


async def test_a_restart_in_the_middle_of_a_conversation_resumes_it(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("before"))
    conversation = ScriptedConversation()
    async with running_bot(settings, conversation) as bot:
        await bot.post(activities.message("after"))
    assert connector.texts(PERSONAL) == ["echo before (turn 1)", "echo after (turn 2)"]


async def test_the_conversation_never_sees_the_hosts_reserved_state(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    seen: list[dict[str, object]] = []

    class Peeking(ScriptedConversation):
        async def handle(self, state, inbound, emit):
            seen.append(dict(state))
            return await super().handle(state, inbound, emit)

    settings = make_settings()
    async with running_bot(settings, Peeking()) as bot:
        await bot.post(activities.message("card one"))
        await bot.post(activities.message("card two"))
    assert all(HOST_KEY not in state for state in seen)
    stored = await _read_state(settings)
    assert stored[HOST_KEY]["cards"] == {"progress": connector.messages(PERSONAL)[0].returned_id}


async def test_two_concurrent_turns_on_one_conversation_lose_nothing(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()

    class Slow(ScriptedConversation):
        async def handle(self, state, inbound, emit):
            new_state = await super().handle(state, inbound, emit)
            await asyncio.sleep(0.05)  # long enough for the other turn to read the same state
            return new_state

    async with running_bot(settings, Slow()) as bot:
        await asyncio.gather(*(bot.post(activities.message(f"m{n}")) for n in range(4)))
    stored = await _read_state(settings)
    assert stored["turns"] == 4
    assert sorted(stored["seen"]) == ["m0", "m1", "m2", "m3"]
    assert RESEND not in connector.texts(PERSONAL)


async def test_another_replicas_write_during_a_quiet_turn_reruns_the_turn_on_fresh_state(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    conversation = ScriptedConversation()
    async with running_bot(settings, conversation) as bot:
        await bot.post(activities.message("hello"))
        await _race_another_replica(bot, conversation, settings, activities.message("quietwait"))
    stored = await _read_state(settings)
    assert stored["other_replica"] is True
    assert stored["turns"] == 12  # the other replica's 11, plus this turn run again on top of it
    assert [i.text for i in conversation.inbounds] == ["hello", "quietwait", "quietwait"]
    assert RESEND not in connector.texts(PERSONAL)


async def test_another_replicas_write_after_replies_were_sent_asks_the_user_to_resend(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    conversation = ScriptedConversation()
    async with running_bot(settings, conversation) as bot:
        await bot.post(activities.message("hello"))
        await _race_another_replica(bot, conversation, settings, activities.message("wait"))
    stored = await _read_state(settings)
    assert stored["turns"] == 11 and stored["other_replica"] is True  # theirs is kept, ours was not written
    assert connector.texts(PERSONAL)[-2:] == ["working", RESEND]


async def _race_another_replica(
    bot: RunningBot, conversation: ScriptedConversation, settings: Settings, activity: dict[str, object]
) -> None:
    """Post `activity`; while the conversation holds the turn open, write the state as another replica would."""
    conversation.gate = asyncio.Event()
    turn = asyncio.create_task(bot.post(activity))
    await asyncio.wait_for(conversation.entered.wait(), 60)
    replica = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        state, etag = await replica.read(STATE_KEY)
        await replica.write(STATE_KEY, {**state, "turns": 11, "other_replica": True}, etag)
    finally:
        await replica.close()
    conversation.gate.set()
    await asyncio.wait_for(turn, 60)


async def _read_state(settings: Settings) -> dict[str, Any]:
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        state, _ = await store.read(STATE_KEY)
    finally:
        await store.close()
    return state


async def test_a_checkpoint_is_stored_at_once_and_the_final_state_replaces_it(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    conversation = ScriptedConversation()
    conversation.gate = asyncio.Event()
    async with running_bot(settings, conversation) as bot:
        turn = asyncio.create_task(bot.post(activities.message("checkpoint")))
        await asyncio.wait_for(conversation.entered.wait(), 60)
        during = await _read_state(settings)  # the turn is still running: the checks hold it open
        conversation.gate.set()
        await asyncio.wait_for(turn, 60)
    after = await _read_state(settings)
    progress_card = connector.messages(PERSONAL)[0].returned_id
    assert during["stage"] == "checks" and during["turns"] == 1
    assert during[HOST_KEY]["cards"] == {"progress": progress_card}  # a resumed turn can update the card
    assert after["stage"] == "done" and after[HOST_KEY]["cards"] == {"progress": progress_card}


async def test_a_turn_that_fails_after_a_checkpoint_puts_the_earlier_state_back(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("hello"))
        before = await _read_state(settings)
        await bot.post(activities.message("checkpoint fail"))
        after = await _read_state(settings)
    assert after == before
    assert connector.texts(PERSONAL)[-1].startswith("Sorry")


async def test_a_first_turn_that_fails_after_a_checkpoint_leaves_no_state(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("checkpoint fail"))
    assert await _read_state(settings) == {}
