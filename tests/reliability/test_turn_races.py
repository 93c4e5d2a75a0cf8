"""Concurrent turns on one conversation, on one server and on two sharing a store: no update is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bench.driver import Plan, TimedConnector, TriageDriver
from bench.load import Poster
from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import TeamsActivities, running_bot
from bot.turns import RESEND
from tests.reliability.conftest import NamingRunner
from triage.app import build_conversation

EARLIER = "That button belongs to an earlier question"
PLAN = Plan(requester="ada@contoso.com", target="grace@contoso.com")


async def _state(settings: Settings, conversation: str) -> dict[str, Any]:
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        return (await store.read(f"conv/msteams/{conversation}"))[0]
    finally:
        await store.close()


def _bot(settings: Settings) -> Any:
    runner = NamingRunner()
    return running_bot(settings, lambda publish: build_conversation(settings, publish, runner=runner))


async def test_the_same_button_pressed_many_times_at_once_is_taken_once(
    make_settings: Callable[..., Settings], connector: TimedConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with _bot(settings) as bot:
        driver = TriageDriver(Poster(bot.url, bot.session), connector, activities, "a:presses")
        await driver.until(PLAN, "symptom")
        press = {"action": "answer", "node": "symptom", "value": PLAN.symptom}
        turns = await asyncio.gather(*(driver.submit(press) for _ in range(8)))
    assert {t.status for t in turns} == {202}
    state = await _state(settings, "a:presses")
    assert len(state["history"]) == 1 and state["awaiting"] == {"node": "scope", "step": "ask"}
    cards = [c for c in driver.cards() if EARLIER in str(c)]
    assert len(cards) == 7  # the other seven were told the question had moved on


async def test_an_answer_and_commands_at_the_same_moment_lose_nothing(
    make_settings: Callable[..., Settings], connector: TimedConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with _bot(settings) as bot:
        driver = TriageDriver(Poster(bot.url, bot.session), connector, activities, "a:mixed")
        await driver.until(PLAN, "pair")
        pair = {"action": "answer", "node": "pair", "requester": PLAN.requester, "target": PLAN.target}
        turns = await asyncio.gather(driver.submit(pair), *(driver.say(w) for w in ("help", "status") * 3))
    assert {t.status for t in turns} == {202}
    state = await _state(settings, "a:mixed")
    assert state["said"]["requester"] == PLAN.requester and state["said"]["target"] == PLAN.target
    assert state["said"]["symptom"] == PLAN.symptom and state["said"]["scope"] == PLAN.scope


async def test_two_servers_on_one_store_keep_every_answer_or_ask_for_it_again(
    make_settings: Callable[..., Settings], connector: TimedConnector, activities: TeamsActivities
) -> None:
    """Two replicas share the SQLite file; turns of one conversation reach both at once."""
    settings = make_settings()
    async with _bot(settings) as one, _bot(settings) as two:
        first = TriageDriver(Poster(one.url, one.session), connector, activities, "a:replicas")
        second = TriageDriver(Poster(two.url, two.session), connector, activities, "a:replicas")
        await first.until(PLAN, "pair")
        pair = {"action": "answer", "node": "pair", "requester": PLAN.requester, "target": PLAN.target}
        turns = await asyncio.gather(first.submit(pair), *(second.say("status") for _ in range(4)))
    assert {t.status for t in turns} == {202}
    state = await _state(settings, "a:replicas")
    kept = state["said"].get("target") == PLAN.target
    assert kept or RESEND in first.texts(), first.texts()[-3:]
    assert state["said"]["symptom"] == PLAN.symptom and state["said"]["scope"] == PLAN.scope
