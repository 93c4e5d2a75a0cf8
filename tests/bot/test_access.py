"""Who may do what, through the real host: roles by Entra object id, the escalation channel, the audit log.

The development mode's server with roles configured: the sender is the `from.aadObjectId` of the activity
(in production its token is checked first; tests/bot/test_auth.py covers that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.audit import AuditLog, AuditRecord
from bot.escalation_channel import ESCALATION_KEY
from bot.settings import Settings
from bot.storage import ConflictError, SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from tests.bot.conversations import ScriptedConversation
from tests.waiting import until

ADA = "00000000-0000-0000-0000-0000000000a1"  # TeamsActivities' default sender
GRACE = "00000000-0000-0000-0000-0000000000b2"
MALLORY = "00000000-0000-0000-0000-0000000000c3"
CONFIGURED = "19:configured@thread.tacv2"
CHOSEN = "19:chosen@thread.tacv2"
ROGUE = "19:rogue@thread.tacv2"


def as_user(activities: TeamsActivities, object_id: str, name: str) -> TeamsActivities:
    return TeamsActivities(
        service_url=activities.service_url, user_id=f"29:{name}", user_name=name, user_aad_id=object_id
    )


def escalation_settings(make_settings: Callable[..., Settings], url: str, **extra: str) -> Settings:
    return make_settings(
        TRIAGE_ESCALATION_SERVICE_URL=url,
        TRIAGE_ESCALATION_CHANNEL_ID=CONFIGURED,
        TRIAGE_ESCALATION_TENANT_ID=TeamsActivities(url).tenant_id,
        **extra,
    )


async def audit_of(settings: Settings) -> list[tuple[str, str, tuple[str, ...]]]:
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        records = await AuditLog(store).read(limit=100)
    finally:
        await store.close()
    return [(r.kind, r.actor, r.mailboxes) for r in reversed(records)]


async def test_only_the_helpdesk_may_start_a_triage(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_HELPDESK=ADA, TRIAGE_ADMINS=GRACE)
    conversation = ScriptedConversation()
    stranger = as_user(activities, MALLORY, "Mallory")
    admin = as_user(activities, GRACE, "Grace")
    async with running_bot(settings, conversation) as bot:
        await bot.post(activities.message("hi", conversation="a:ada"))
        await bot.post(admin.message("hi", conversation="a:grace"))  # admins are helpdesk too
        await bot.post(stranger.message("hi", conversation="a:mallory"))
    assert [inbound.user_name for inbound in conversation.inbounds] == ["Ada Lovelace", "Grace"]
    [refusal] = connector.texts("a:mallory")
    assert "not on the list" in refusal and MALLORY in refusal
    assert ("triage-refused", MALLORY, ()) in await audit_of(settings)


async def test_a_non_admin_cannot_move_the_escalation_channel_and_the_configured_one_stays(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = escalation_settings(make_settings, activities.service_url, TRIAGE_ADMINS=GRACE)
    rogue = activities.channel_message("set escalation channel", channel_id=ROGUE, channel_name="Rogue")
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(rogue)  # Ada is helpdesk (everyone is), not an admin
        await bot.post(activities.message("escalate"))
    [refusal] = connector.messages(rogue["conversation"]["id"])
    assert "Only the bot's admins" in refusal.text
    [thread] = connector.of("create_conversation")
    assert thread.body["channelData"]["channel"]["id"] == CONFIGURED
    assert ("escalation-channel-refused", ADA, ()) in await audit_of(settings)


async def test_an_admin_moves_the_channel_and_the_old_channel_is_told(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = escalation_settings(make_settings, activities.service_url, TRIAGE_ADMINS=GRACE)
    admin = as_user(activities, GRACE, "Grace")
    command = admin.channel_message("set escalation channel", channel_id=CHOSEN, channel_name="Chosen")
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(command)
        await bot.post(activities.message("escalate"))
    [confirmation] = connector.messages(command["conversation"]["id"])
    assert "Exchange › Chosen" in confirmation.text
    notice, escalation = connector.of("create_conversation")
    assert notice.body["channelData"]["channel"]["id"] == CONFIGURED
    told = notice.body["activity"]["attachments"][0]["content"]["body"][0]["text"]
    assert "now posted in Exchange › Chosen" in told and "Grace" in told
    assert escalation.body["channelData"]["channel"]["id"] == CHOSEN
    assert ("escalation-channel-set", GRACE, ()) in await audit_of(settings)


async def test_a_stored_channel_not_set_by_a_current_admin_is_ignored(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    # A channel stored by an earlier version (anyone could set it) or by an admin since removed.
    settings = escalation_settings(make_settings, activities.service_url, TRIAGE_ADMINS=GRACE)
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        rogue = {
            "service_url": activities.service_url,
            "channel_id": ROGUE,
            "tenant_id": activities.tenant_id,
            "label": "Rogue",
            "bot_id": activities.bot_id,
        }
        await store.write(ESCALATION_KEY, rogue, None)
    finally:
        await store.close()
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("escalate"))
    [thread] = connector.of("create_conversation")
    assert thread.body["channelData"]["channel"]["id"] == CONFIGURED


async def test_every_mailbox_read_is_recorded_before_it_happens(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_ADMINS=GRACE)
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("mailboxes alice@contoso.com bjorn@contoso.com"))
    assert connector.texts("a:personal-1") == ["read allowed: True ()"]
    assert await audit_of(settings) == [("mailbox-read", ADA, ("alice@contoso.com", "bjorn@contoso.com"))]


async def test_reads_outside_the_configured_mailbox_scope_are_refused_and_recorded(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_MAILBOX_SCOPE="@contoso.com,ceo@fabrikam.com")
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("mailboxes alice@contoso.com ceo@fabrikam.com"))
        await bot.post(activities.message("mailboxes alice@contoso.com cfo@fabrikam.com"))
    allowed, refused = connector.texts("a:personal-1")
    assert allowed == "read allowed: True ()"
    assert refused.startswith("read allowed: False") and "cfo@fabrikam.com is outside them" in refused
    kinds = [kind for kind, _, _ in await audit_of(settings)]
    assert kinds == ["mailbox-read", "mailbox-read-refused"]


async def test_admins_read_the_audit_log_in_a_channel_and_others_cannot(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_ADMINS=GRACE)
    admin = as_user(activities, GRACE, "Grace")
    ask = admin.channel_message("audit", channel_id=CHOSEN)
    nosy = activities.channel_message("audit", channel_id=ROGUE)
    async with running_bot(settings, ScriptedConversation()) as bot:
        await bot.post(activities.message("mailboxes alice@contoso.com bjorn@contoso.com"))
        await bot.post(nosy)
        await bot.post(ask)
    [refused] = connector.texts(nosy["conversation"]["id"])
    assert refused == "Only the bot's admins can read the audit log."
    [shown] = connector.texts(ask["conversation"]["id"])
    assert "mailbox-read" in shown and "alice@contoso.com, bjorn@contoso.com" in shown and ADA in shown
    assert [kind for kind, _, _ in await audit_of(settings)] == ["mailbox-read", "audit-read"]


async def test_audit_records_are_never_replaced(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.sqlite3")
    try:
        clock = iter([1000.0, 1000.0, 1000.0])
        log = AuditLog(store, lambda: next(clock))
        first = await log.append(AuditRecord("mailbox-read", ADA, mailboxes=("a@contoso.com",)))
        second = await log.append(AuditRecord("mailbox-read", GRACE, mailboxes=("b@contoso.com",)))
        assert first != second  # the same instant, two records
        records = await log.read()
        assert sorted(r.actor for r in records) == sorted([ADA, GRACE])
        with pytest.raises(ConflictError):
            await store.write(first, {"kind": "forged"}, None)  # create-only: a key is written once
        assert not hasattr(AuditLog, "delete") and not hasattr(AuditLog, "update")
    finally:
        await store.close()


async def test_a_turn_over_its_time_budget_is_stopped_and_its_state_kept(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_TURN_BUDGET_SECONDS=0.2)
    conversation = ScriptedConversation()
    conversation.gate = asyncio.Event()  # never opened: the turn would wait for ever
    async with running_bot(settings, conversation) as bot:
        await bot.post(activities.message("hello"))
        await bot.post(activities.message("wait"))
        # The turn runs after the activity is answered: open the gate only once its budget has stopped it.
        await until(
            lambda: any("longer than 0.2 seconds" in t for t in connector.texts("a:personal-1")),
            "the turn over its budget stopped",
        )
        conversation.gate.set()
        await bot.post(activities.message("after"))
        await until(lambda: len(connector.texts("a:personal-1")) >= 4, "the turn after it answered")
    texts = connector.texts("a:personal-1")
    assert texts[0] == "echo hello (turn 1)"
    assert texts[1] == "working" and "longer than 0.2 seconds" in texts[2]
    assert texts[3] == "echo after (turn 2)"  # the stopped turn left the state as it was
