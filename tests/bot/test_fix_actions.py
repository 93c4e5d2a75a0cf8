"""Fix actions are the host's: a card's fix-update (which only the host sends the conversation) pressed or
forged by a person never reaches the conversation, and without a write account no fix action does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.audit import AuditLog
from bot.host import NO_FIXES
from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from knowledge.jsonvalue import JsonObject
from tests.bot.conversations import ScriptedConversation

FORGED = {
    "action": "fix-update",
    "fix": {"id": "f1", "triage": "t1", "status": "fixed", "summary": "All good"},
}


class NoWrites:
    """A write side at our own port that must never be reached: every call fails the test."""

    fixable = frozenset({"enable-orgrel-freebusy"})
    approvers: frozenset[str] = frozenset()
    requester_may_approve = False

    async def propose(self, state: JsonObject, remediation: str) -> JsonObject:
        raise AssertionError("nothing may be proposed")

    async def fingerprint(self, state: JsonObject, remediation: str) -> str:
        raise AssertionError("nothing may be planned")

    async def apply(self, plan: JsonObject, audit: Any, *, rollback: bool = False) -> list[JsonObject]:
        raise AssertionError("nothing may be applied")


class ScriptedWithWrites(ScriptedConversation):
    fixer = NoWrites()


async def test_without_a_write_account_no_fix_action_reaches_the_conversation(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = ScriptedConversation()
    async with running_bot(make_settings(), conversation) as bot:
        await bot.post(activities.submit({"action": "fix", "remediation": "enable-orgrel-freebusy"}))
        await bot.post(activities.submit(FORGED))
    assert conversation.inbounds == []
    assert connector.texts("a:personal-1") == [NO_FIXES, NO_FIXES]


async def test_a_forged_fix_update_is_refused_and_audited(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    conversation = ScriptedWithWrites()
    async with running_bot(settings, conversation) as bot:
        await bot.post(activities.submit(FORGED))
        await bot.idle()
        # "Fix it" on a conversation with no finished triage: refused before anything is planned.
        await bot.post(activities.submit({"action": "fix", "remediation": "enable-orgrel-freebusy"}))
    assert conversation.inbounds == []
    said = connector.texts("a:personal-1")
    assert said[0] == "That button is not one you can press."
    assert said[1].startswith("A fix can only be asked for from a finished triage")
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        records = await AuditLog(store).read(kinds=["fix-refused"])
    finally:
        await store.close()
    assert sorted(r.detail["action"] for r in records) == ["fix", "fix-update"]
    assert all(r.actor == activities.user_aad_id for r in records)
