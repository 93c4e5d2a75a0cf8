"""Retention: each kind of document is deleted once it outlives its rule, by a purge the server schedules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from bot.retention import DAY, Retention, Rule, rules_from
from bot.settings import Settings
from bot.storage import SqliteStore, Store
from bot.storage.factory import SQLITE_FILE
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from tests.bot.conversations import ScriptedConversation


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_a_purge_deletes_what_outlived_its_rule_and_keeps_the_rest(tmp_path: Path) -> None:
    store: Store = await SqliteStore.open(tmp_path / "state.sqlite3")
    clock = Clock()
    try:
        for key in ("conv/msteams/a", "runbook/r1", "audit/1", "team/t", "host/escalation-channel"):
            await store.write(key, {"k": key}, None)
        rules = [Rule("conv/", 30 * DAY), Rule("runbook/", DAY), Rule("audit/", 365 * DAY)]
        retention = Retention(store, rules, clock)
        assert await retention.purge() == {"conv/": 0, "runbook/": 0, "audit/": 0}
        clock.now += 2 * DAY
        assert await retention.purge() == {"conv/": 0, "runbook/": 1, "audit/": 0}
        clock.now += 30 * DAY
        assert (await retention.purge())["conv/"] == 1
        clock.now += 365 * DAY
        assert (await retention.purge())["audit/"] == 1
        left = [
            key
            for prefix in ("conv/", "runbook/", "audit/", "team/", "host/")
            for key, _ in await store.scan(prefix)
        ]
        assert left == ["team/t", "host/escalation-channel"]
    finally:
        await store.close()


def test_the_rules_follow_the_settings(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        TRIAGE_CONVERSATION_TTL_DAYS=10,
        TRIAGE_LINK_TTL_HOURS=12,
        TRIAGE_JOB_TTL_DAYS=2,
        TRIAGE_AUDIT_TTL_DAYS=90,
    )
    assert {rule.prefix: rule.ttl_seconds for rule in rules_from(settings)} == {
        "conv/": 10 * DAY,
        "runbook/": 12 * 3600,
        "job/": 2 * DAY,
        "audit/": 90 * DAY,
        "channel-post/": 10 * DAY,  # an escalation's channel post is kept as long as a conversation
        "fix/": 10 * DAY,
    }
    defaults = {rule.prefix: rule.ttl_seconds for rule in rules_from(make_settings())}
    assert defaults == {
        "conv/": 30 * DAY,
        "runbook/": DAY,
        "job/": 7 * DAY,
        "audit/": 365 * DAY,
        "channel-post/": 30 * DAY,
        "fix/": 30 * DAY,
    }


async def test_the_server_purges_on_a_schedule(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_CONVERSATION_TTL_DAYS=1, TRIAGE_PURGE_INTERVAL_MINUTES=0.001)
    clock = Clock()
    async with running_bot(settings, ScriptedConversation(), clock=clock) as bot:
        await bot.post(activities.message("hi"))
        store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
        try:
            assert [key for key, _ in await store.scan("conv/")] == ["conv/msteams/a:personal-1"]
            clock.now += 2 * DAY  # the conversation is now two days idle
            for _ in range(200):  # the purge runs every 60 ms: wait for it (bounded)
                if await store.scan("conv/") == []:
                    break
                await asyncio.sleep(0.05)
            assert await store.scan("conv/") == []
        finally:
            await store.close()
