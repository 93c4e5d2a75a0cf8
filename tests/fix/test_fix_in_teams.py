"""Fix it in Teams, through the real bot over HTTP with Teams-shaped activities, the real conversation and the
real clients against the lab (seed-000: the Branch servers lack the federation certificate).

A triage reaches its result; "Fix it" posts the approval card as a new thread in the escalation channel; an
approver approves there; the bot applies the plan with the lab's writer account, the requester's
conversation re-runs the checks and both cards are updated in place. Refusals are said to whoever pressed,
and audited; nothing is applied.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.driver import Plan, TimedConnector, TriageDriver, actions_of, is_result
from bench.load import Poster
from bot.audit import AuditLog, AuditRecord
from bot.settings import Settings, load_settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import Recorded, RunningBot, TeamsActivities, running_bot
from knowledge.loader import load_knowledge
from lab.runtime import RunningLab, start_lab
from tests.labs import running_lab
from tests.texts import EXAMPLE
from triage.app import build_conversation
from triage.backends import runner_for_lab
from triage.fix_service import WriteFixer, fixer_for_lab

pytestmark = pytest.mark.lab

SCENARIO = "seed-000-federation-cert"
PLAN = Plan(target="bjorn@contoso.com", paste=EXAMPLE.read_text("utf-8"))
REQUESTER_CHAT = "a:requester"
CHANNEL = "19:escalations@thread.tacv2"
APPROVER = "00000000-0000-0000-0000-0000000000b2"
OTHER_APPROVER = "00000000-0000-0000-0000-0000000000b3"


@pytest.fixture
def lab() -> Iterator[RunningLab]:
    """A fresh seed-000 organisation per test: a fix changes it."""
    with running_lab(SCENARIO) as started:
        yield started


@pytest.fixture(autouse=True)
def _quiet_clients() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypsrp and requests warn about the lab's loopback certificates
        yield


def _approver(
    activities: TeamsActivities, aad: str = APPROVER, name: str = "Grace Hopper"
) -> TeamsActivities:
    return replace(activities, user_id=f"29:{aad[-4:]}", user_name=name, user_aad_id=aad)


@pytest.fixture
def make_settings(tmp_path: Path, activities: TeamsActivities) -> Callable[..., Settings]:
    """Loopback settings with the escalation channel configured and APPROVER as the approver."""

    def build(**environ: Any) -> Settings:
        base = {
            "TRIAGE_STATE_DIR": str(tmp_path / "var"),
            "TRIAGE_DEV_ANONYMOUS": "1",
            "TRIAGE_APPROVERS": APPROVER,
            "TRIAGE_ESCALATION_SERVICE_URL": activities.service_url,
            "TRIAGE_ESCALATION_CHANNEL_ID": CHANNEL,
            "TRIAGE_ESCALATION_TENANT_ID": activities.tenant_id,
        }
        base.update({key: str(value) for key, value in environ.items()})
        return load_settings({k: v for k, v in base.items() if v})

    return build


def _bot(settings: Settings, lab: RunningLab, fixer: WriteFixer | None = None, **options: Any) -> Any:
    fixer = fixer or fixer_for_lab(dict(lab.endpoints), load_knowledge())
    runner = runner_for_lab(lab)
    return running_bot(
        settings, lambda publish: build_conversation(settings, publish, runner=runner, fixer=fixer), **options
    )


async def _to_result(bot: RunningBot, connector: TimedConnector, activities: TeamsActivities) -> TriageDriver:
    driver = TriageDriver(Poster(bot.url, bot.session), connector, activities, REQUESTER_CHAT)
    assert await driver.walk(PLAN), driver.texts()[-3:]
    await bot.idle()
    return driver


def _result_card(connector: TimedConnector) -> tuple[str, dict[str, Any]]:
    """The result card's activity id and its newest version (sent, or updated in place)."""
    calls = connector.in_conversation(REQUESTER_CHAT)
    sent = [c for c in calls if c.operation in ("send", "reply") and any(is_result(k) for k in c.cards)]
    assert sent, "no result card"
    activity_id = sent[-1].returned_id
    versions = [
        c for c in calls if c.cards and (c.returned_id == activity_id or c.activity_id == activity_id)
    ]
    return activity_id, versions[-1].cards[0]


def _button(card: dict[str, Any], title: str) -> dict[str, Any] | None:
    found = next((a for a in actions_of(card) if a.get("title") == title), None)
    return dict(found["data"]) if found else None


async def _press_fix_it(bot: RunningBot, connector: TimedConnector, activities: TeamsActivities) -> Recorded:
    _, card = _result_card(connector)
    data = _button(card, "Fix it")
    assert data is not None, "the result card offers no Fix it"
    assert data == {"action": "fix", "remediation": "copy-federation-certificate"}
    await bot.post(activities.submit(data, conversation=REQUESTER_CHAT))
    await bot.idle()
    [thread] = connector.of("create_conversation")
    return thread


def _approval_cards(connector: TimedConnector, thread: Recorded) -> list[dict[str, Any]]:
    """The approval card as posted, then every version it was updated to."""
    first = thread.body["activity"]["attachments"][0]["content"]
    updates = [c.cards[0] for c in connector.of("update") if c.activity_id == thread.returned_id and c.cards]
    return [first, *updates]


def _in_thread(who: TeamsActivities, data: dict[str, Any], thread: Recorded) -> dict[str, Any]:
    """A press of a button on the approval card, in its channel thread."""
    activity = who.submit(data, conversation=thread.conversation_id)
    activity["conversation"]["conversationType"] = "channel"
    activity["channelData"] = {
        "tenant": {"id": who.tenant_id},
        "team": {"id": "19:team@thread.tacv2", "name": "Exchange"},
        "channel": {"id": CHANNEL},
    }
    activity["replyToId"] = thread.returned_id
    return activity


def _texts(connector: TimedConnector, conversation: str) -> list[str]:
    return [c.text for c in connector.messages(conversation) if c.text]


async def _audit(settings: Settings) -> list[AuditRecord]:
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        return list(reversed(await AuditLog(store).read(limit=500)))
    finally:
        await store.close()


def _kinds(records: list[AuditRecord], fix_id: str) -> list[str]:
    return [r.kind for r in records if r.detail.get("fix") == fix_id]


def _card_text(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_fix_it_approved_applies_verifies_and_updates_both_cards_in_place(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    async with _bot(settings, lab) as bot:
        await _to_result(bot, connector, activities)
        result_id, before = _result_card(connector)
        thread = await _press_fix_it(bot, connector, activities)
        [asked] = _approval_cards(connector, thread)
        shown = _card_text(asked)
        # The exact steps, the preview, the risk and who asked; the one-time password never shown.
        assert thread.body["channelData"]["channel"]["id"] == CHANNEL
        assert "Approval needed" in shown and "Ada Lovelace" in shown and "low" in shown
        assert "Export-ExchangeCertificate" in shown and "Import-ExchangeCertificate -Server 'EX03'" in shown
        assert "‹one-time password›" in shown and "Password=" not in shown
        approve = _button(asked, "Approve")
        assert approve is not None and approve["action"] == "fix-approve" and _button(asked, "Reject")
        _, pending = _result_card(connector)
        assert "Waiting for approval" in _card_text(pending) and _button(pending, "Fix it") is None
        assert _result_card(connector)[0] == result_id  # updated in place, not sent again
        # Pressed again while it waits: one proposal is enough.
        await bot.post(activities.submit(_button(before, "Fix it") or {}, conversation=REQUESTER_CHAT))
        await bot.idle()
        assert len(connector.of("create_conversation")) == 1
        assert "already waiting for approval" in _texts(connector, REQUESTER_CHAT)[-1]

        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()

    last = _approval_cards(connector, thread)[-1]
    assert "Fixed" in _card_text(last) and "Grace Hopper" in _card_text(last)
    assert _button(last, "Approve") is None and _button(last, "Reject") is None
    result_id_after, after = _result_card(connector)
    assert result_id_after == result_id
    assert '"text": "Fixed"' in _card_text(after) and "federation-certificates" in _card_text(after)
    assert "Likely cause: The federation certificate is missing" in _card_text(before)
    # The new evidence: the re-run checks pass, the cause is gone from the card.
    assert "Likely cause: The federation certificate is missing" not in _card_text(after)
    # The lab took the change: every server of the site now holds the federation certificate.
    organization = lab.ctx.scenario.organization
    assert organization.federation_trust is not None
    thumbprint = organization.federation_trust.org_certificate
    assert all(thumbprint in {c.thumbprint for c in s.certificates} for s in organization.servers)

    records = await _audit(settings)
    fix_id = str(approve["fix"])
    kinds = _kinds(records, fix_id)
    assert kinds[:3] == ["fix-proposed", "fix-refused", "fix-approved"] and kinds[-1] == "fix-verified"
    assert kinds.count("fix-step.start") == kinds.count("fix-step.done") >= 3
    assert "fix-step.failed" not in kinds
    verified = next(r for r in records if r.kind == "fix-verified")
    assert verified.detail["fixed"] is True and verified.actor == APPROVER
    assert "EX03" in verified.detail["servers"]
    assert f"triage audit --fix {fix_id}" in _card_text(last)
    assert "Password=" not in json.dumps([r.as_dict() for r in records])


async def test_a_rejected_fix_changes_nothing_and_both_cards_say_so(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    async with _bot(settings, lab) as bot:
        await _to_result(bot, connector, activities)
        thread = await _press_fix_it(bot, connector, activities)
        reject = _button(_approval_cards(connector, thread)[0], "Reject")
        assert reject is not None
        await bot.post(_in_thread(_approver(activities), reject, thread))
        await bot.idle()
    assert "Rejected" in _card_text(_approval_cards(connector, thread)[-1])
    assert "Rejected by Grace Hopper" in _card_text(_result_card(connector)[1])
    kinds = _kinds(await _audit(settings), str(reject["fix"]))
    assert kinds == ["fix-proposed", "fix-rejected"]
    organization = lab.ctx.scenario.organization
    assert organization.federation_trust is not None
    thumbprint = organization.federation_trust.org_certificate
    assert not all(thumbprint in {c.thumbprint for c in s.certificates} for s in organization.servers)


async def _proposed(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities
) -> tuple[Recorded, dict[str, Any]]:
    await _to_result(bot, connector, activities)
    thread = await _press_fix_it(bot, connector, activities)
    approve = _button(_approval_cards(connector, thread)[0], "Approve")
    assert approve is not None
    return thread, approve


async def _refused_and_nothing_applied(
    settings: Settings, connector: TimedConnector, thread: Recorded, fix_id: str, says: str
) -> None:
    assert says in _texts(connector, thread.conversation_id)[-1]
    assert len(_approval_cards(connector, thread)) == 1  # the approval card is as it was posted
    kinds = _kinds(await _audit(settings), fix_id)
    assert "fix-refused" in kinds and not [k for k in kinds if k.startswith("fix-step")]
    refusal = next(r for r in reversed(await _audit(settings)) if r.kind == "fix-refused")
    assert says in refusal.detail["reason"]


async def test_someone_who_is_not_an_approver_is_refused(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    async with _bot(settings, lab) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        outsider = _approver(activities, "00000000-0000-0000-0000-0000000000c4", "Mallory")
        await bot.post(_in_thread(outsider, approve, thread))
        await bot.idle()
    await _refused_and_nothing_applied(
        settings, connector, thread, str(approve["fix"]), "Only an approver can decide on a fix"
    )


async def test_the_requester_may_not_approve_their_own_fix(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings(TRIAGE_APPROVERS=f"{activities.user_aad_id},{APPROVER}")
    async with _bot(settings, lab) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        await bot.post(_in_thread(activities, approve, thread))  # the requester, an approver too
        await bot.idle()
    await _refused_and_nothing_applied(
        settings, connector, thread, str(approve["fix"]), "You asked for this fix: another approver"
    )


async def test_an_expired_approval_is_refused_and_both_cards_say_it_expired(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    now = [1_800_000_000.0]
    async with _bot(settings, lab, clock=lambda: now[0]) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        result_id, _ = _result_card(connector)
        now[0] += 3600  # the default hour has passed
        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()
        fix_id = str(approve["fix"])
        assert "This approval expired" in _texts(connector, thread.conversation_id)[-1]
        # The approval card, updated in place: it expired, nothing to press but asking again.
        [_, expired] = _approval_cards(connector, thread)
        shown = _card_text(expired)
        assert "Expired: nothing was changed" in shown and "Ask again from the result card" in shown
        assert _button(expired, "Approve") is None and _button(expired, "Reject") is None
        # The requester's result card likewise, in place, and it offers Fix it again.
        again_id, result = _result_card(connector)
        assert again_id == result_id
        assert "Expired: nothing was changed" in _card_text(
            result
        ) and "Waiting for approval" not in _card_text(result)
        assert _button(result, "Fix it") == {"action": "fix", "remediation": "copy-federation-certificate"}
        kinds = _kinds(await _audit(settings), fix_id)
        # (the refusal and the expiry share the frozen clock's instant: their order in the log is not kept)
        assert sorted(kinds) == ["fix-expired", "fix-proposed", "fix-refused"]
        # Pressed again: the same refusal, the cards are not updated again, nothing applied.
        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()
        assert "This approval expired" in _texts(connector, thread.conversation_id)[-1]
        assert len(_approval_cards(connector, thread)) == 2
        kinds = _kinds(await _audit(settings), fix_id)
        assert sorted(kinds) == ["fix-expired", "fix-proposed", "fix-refused", "fix-refused"]
        # Asked again from the result card: a new approval request.
        await bot.post(activities.submit(_button(result, "Fix it") or {}, conversation=REQUESTER_CHAT))
        await bot.idle()
        assert len(connector.of("create_conversation")) == 2
    organization = lab.ctx.scenario.organization
    assert organization.federation_trust is not None
    thumbprint = organization.federation_trust.org_certificate
    assert not all(thumbprint in {c.thumbprint for c in s.certificates} for s in organization.servers)


async def test_someone_who_is_not_an_approver_pressing_an_expired_approval_changes_no_card(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    now = [1_800_000_000.0]
    async with _bot(settings, lab, clock=lambda: now[0]) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        now[0] += 3600
        outsider = _approver(activities, "00000000-0000-0000-0000-0000000000c4", "Mallory")
        await bot.post(_in_thread(outsider, approve, thread))
        await bot.idle()
    await _refused_and_nothing_applied(
        settings, connector, thread, str(approve["fix"]), "Only an approver can decide on a fix"
    )


async def test_a_tampered_approval_naming_another_plan_is_refused(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    async with _bot(settings, lab) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        forged = {**approve, "fingerprint": "0" * 64}
        await bot.post(_in_thread(_approver(activities), forged, thread))
        await bot.idle()
    await _refused_and_nothing_applied(
        settings, connector, thread, str(approve["fix"]), "The plan changed since it was proposed"
    )


async def test_an_approval_after_the_facts_changed_is_refused(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    async with _bot(settings, lab) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        # The requester starts over: the triage the plan was made from (and its facts) is gone.
        await bot.post(activities.message("restart", conversation=REQUESTER_CHAT))
        await bot.idle()
        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()
    await _refused_and_nothing_applied(
        settings, connector, thread, str(approve["fix"]), "The plan changed since it was proposed"
    )


async def test_a_replayed_approval_is_refused_and_applies_nothing_more(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    async with _bot(settings, lab) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()
        steps = _kinds(await _audit(settings), str(approve["fix"])).count("fix-step.done")
        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()
    assert (
        "This fix was already decided (approved by Grace Hopper)"
        in _texts(connector, thread.conversation_id)[-1]
    )
    kinds = _kinds(await _audit(settings), str(approve["fix"]))
    assert kinds.count("fix-step.done") == steps and kinds.count("fix-approved") == 1
    assert kinds[-1] == "fix-refused"


async def test_a_remediation_that_is_not_enabled_is_not_offered_and_refused_when_asked_for(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    from triage.writers import lab_writers

    settings = make_settings()
    others = ["set-owa-internalurl-https"]  # enabled, but not this cause's
    fixer = WriteFixer(load_knowledge(), lab_writers(dict(lab.endpoints)), others)
    async with _bot(settings, lab, fixer) as bot:
        await _to_result(bot, connector, activities)
        _, card = _result_card(connector)
        assert _button(card, "Fix it") is None
        forged = {"action": "fix", "remediation": "copy-federation-certificate"}
        await bot.post(activities.submit(forged, conversation=REQUESTER_CHAT))
        await bot.idle()
    assert connector.of("create_conversation") == []
    assert "copy-federation-certificate is not enabled" in _texts(connector, REQUESTER_CHAT)[-1]
    records = await _audit(settings)
    assert [r.detail["remediation"] for r in records if r.kind == "fix-refused"] == [
        "copy-federation-certificate"
    ]
    assert not [r for r in records if r.kind.startswith("fix-") and r.kind != "fix-refused"]


async def test_two_approvers_pressing_at_once_apply_once(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings(TRIAGE_APPROVERS=f"{APPROVER},{OTHER_APPROVER}")
    async with _bot(settings, lab) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        first = _in_thread(_approver(activities), approve, thread)
        second = _in_thread(_approver(activities, OTHER_APPROVER, "Katherine Johnson"), approve, thread)
        answers = await asyncio.gather(bot.post(first), bot.post(second))
        assert [a.status for a in answers] == [202, 202]
        await bot.idle()
    kinds = _kinds(await _audit(settings), str(approve["fix"]))
    assert kinds.count("fix-approved") == 1 and kinds.count("fix-refused") == 1
    assert kinds.count("fix-step.start") == kinds.count("fix-step.done") == 3  # one export, two imports: once
    refusal = [t for t in _texts(connector, thread.conversation_id) if "already decided" in t]
    assert len(refusal) == 1
    assert "Fixed" in _card_text(_approval_cards(connector, thread)[-1])


@pytest.fixture
def orgrel_lab() -> Iterator[RunningLab]:
    """Free/busy switched off on the on-premises organisation relationship (a fix with a rollback)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = start_lab("orgrel-freebusy-disabled")
    try:
        yield started
    finally:
        started.close()


def _free_busy_level(lab: RunningLab) -> str:
    [relationship] = lab.ctx.scenario.organization.organization_relationships
    return str(relationship.free_busy_access_level)


async def test_without_an_escalation_channel_the_approval_waits_in_the_chat_and_a_fix_rolls_back(
    orgrel_lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings(
        TRIAGE_ESCALATION_SERVICE_URL="", TRIAGE_ESCALATION_CHANNEL_ID="", TRIAGE_ESCALATION_TENANT_ID=""
    )
    approver = _approver(activities)
    async with _bot(settings, orgrel_lab) as bot:
        driver = TriageDriver(Poster(bot.url, bot.session), connector, activities, REQUESTER_CHAT)
        assert await driver.walk(Plan(target="bjorn@contoso.com")), driver.texts()[-3:]
        await bot.idle()
        _, card = _result_card(connector)
        fix_it = _button(card, "Fix it")
        assert fix_it == {"action": "fix", "remediation": "enable-orgrel-freebusy"}
        await bot.post(activities.submit(fix_it, conversation=REQUESTER_CHAT))
        await bot.idle()
        assert connector.of("create_conversation") == []
        assert any(
            "an approver" in t and "has to press Approve" in t for t in _texts(connector, REQUESTER_CHAT)
        )
        [asked] = [
            c
            for c in connector.messages(REQUESTER_CHAT)
            if c.cards and "Approval needed" in _card_text(c.cards[0])
        ]
        approve = _button(asked.cards[0], "Approve")
        assert approve is not None and "Set-OrganizationRelationship" in _card_text(asked.cards[0])
        await bot.post(approver.submit(approve, conversation=REQUESTER_CHAT))
        await bot.idle()
        assert _free_busy_level(orgrel_lab) == "LimitedDetails"
        _, fixed = _result_card(connector)
        assert '"text": "Fixed"' in _card_text(fixed)
        roll_back = _button(fixed, "Roll back")
        assert roll_back == {"action": "fix-rollback", "fix": approve["fix"]}
        # The requester is not an approver: a rollback is a change too.
        await bot.post(activities.submit(roll_back, conversation=REQUESTER_CHAT))
        await bot.idle()
        assert "Only an approver can roll a fix back" in _texts(connector, REQUESTER_CHAT)[-1]
        assert _free_busy_level(orgrel_lab) == "LimitedDetails"
        await bot.post(approver.submit(roll_back, conversation=REQUESTER_CHAT))
        await bot.idle()
    assert _free_busy_level(orgrel_lab) == "None"  # the rollback puts back the level found
    _, rolled = _result_card(connector)
    assert "Rolled back" in _card_text(rolled) and _button(rolled, "Roll back") is None
    approval_versions = [c.cards[0] for c in connector.of("update") if c.activity_id == asked.returned_id]
    assert "Rolled back" in _card_text(approval_versions[-1])
    kinds = _kinds(await _audit(settings), str(approve["fix"]))
    assert kinds[-2:] == ["fix-rollback.done", "fix-rolled-back"] and "fix-rollback" in kinds


async def test_where_configured_the_requester_may_approve_their_own_fix(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings(TRIAGE_APPROVERS=activities.user_aad_id, TRIAGE_FIX_REQUESTER_MAY_APPROVE="true")
    async with _bot(settings, lab) as bot:
        thread, approve = await _proposed(bot, connector, activities)
        await bot.post(_in_thread(activities, approve, thread))
        await bot.idle()
    assert "Fixed" in _card_text(_approval_cards(connector, thread)[-1])
    assert _kinds(await _audit(settings), str(approve["fix"]))[-1] == "fix-verified"


@pytest.fixture
def halfway_lab(tmp_path: Path) -> Iterator[RunningLab]:
    """InternetWebProxy missing on the Internet-facing servers; the second server's write is reset (the two
    -WhatIf previews and the first write go through)."""
    scenario = tmp_path / "proxy-write-fails.yaml"
    scenario.write_text(
        "extends: internet-web-proxy-missing\nname: proxy-write-fails\ndescription: the second write fails\n"
        "faults:\n  - {service: psrp, operation: Set-ExchangeServer, kind: reset, after: 3, count: 1}\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = start_lab(scenario)
    try:
        yield started
    finally:
        started.close()


async def test_a_fix_that_fails_halfway_says_what_ran_and_offers_the_rollback(
    halfway_lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    plan = Plan(symptom="freebusy-onprem-to-cloud", requester="carol@contoso.com", target="alice@contoso.com")
    async with _bot(settings, halfway_lab) as bot:
        driver = TriageDriver(Poster(bot.url, bot.session), connector, activities, REQUESTER_CHAT)
        assert await driver.walk(plan), driver.texts()[-3:]
        await bot.idle()
        _, card = _result_card(connector)
        fix_it = _button(card, "Fix it")
        assert fix_it == {"action": "fix", "remediation": "set-internet-web-proxy"}
        await bot.post(activities.submit(fix_it, conversation=REQUESTER_CHAT))
        await bot.idle()
        [thread] = connector.of("create_conversation")
        approve = _button(_approval_cards(connector, thread)[0], "Approve")
        assert approve is not None
        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()
    last = _card_text(_approval_cards(connector, thread)[-1])
    assert "Not fixed: a step failed" in last and "a step failed after 1 ran" in last
    assert _button(_approval_cards(connector, thread)[-1], "Roll back") is not None
    _, result = _result_card(connector)
    assert "Not fixed: a step failed" in _card_text(result) and _button(result, "Roll back") is not None
    kinds = _kinds(await _audit(settings), str(approve["fix"]))
    assert kinds.count("fix-step.done") == 1 and kinds.count("fix-step.failed") == 1
    assert "fix-verified" not in kinds  # nothing to verify: the change did not complete


@pytest.fixture
def sharing_lab() -> Iterator[RunningLab]:
    """seed-001: Carol holds a stale sharing subscription to Erin's calendar, with no explicit permission."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = start_lab("seed-001-sharing-subscription")
    try:
        yield started
    finally:
        started.close()


async def test_the_stale_subscription_offers_both_fixes_and_the_removal_runs_over_ews(
    sharing_lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    from tests.texts import pasted_text

    settings = make_settings()
    plan = Plan(
        symptom="freebusy-cross-site", scope="pair", requester="carol@contoso.com", target="erin@contoso.com",
        paste=pasted_text("seed-001-fiddler.json"),
    )  # fmt: skip
    async with _bot(settings, sharing_lab) as bot:
        driver = TriageDriver(Poster(bot.url, bot.session), connector, activities, REQUESTER_CHAT)
        assert await driver.walk(plan), driver.texts()[-3:]
        await bot.idle()
        _, result = _result_card(connector)
        shown = _card_text(result)
        # Both remediations, each its own button, and each says what the users will see.
        grant = _button(result, "Fix it: add calendar permission")
        remove = _button(result, "Fix it: remove subscription")
        assert grant == {"action": "fix", "remediation": "grant-explicit-calendar-permission"}
        assert remove == {"action": "fix", "remediation": "remove-stale-sharing-subscription"}
        assert _button(result, "Fix it") is None
        assert "the requester keeps the target's shared calendar in their Outlook" in shown
        assert "the requester's Outlook loses the target's shared calendar from its calendar list" in shown
        await bot.post(activities.submit(remove, conversation=REQUESTER_CHAT))
        await bot.idle()
        [thread] = connector.of("create_conversation")
        [asked] = _approval_cards(connector, thread)
        text = _card_text(asked)
        assert "EWS DeleteItem (SoftDelete) in carol@contoso.com:" in text
        assert (
            "loses erin@contoso.com's shared calendar" in text
            and "sharing and calendar permissions are unchanged" in text
        )
        assert "found 1 such item(s) to delete; nothing was deleted" in text
        assert "This change has no automatic rollback." in text
        approve = _button(asked, "Approve")
        assert approve is not None
        await bot.post(_in_thread(_approver(activities), approve, thread))
        await bot.idle()
    last = _approval_cards(connector, thread)[-1]
    assert "Fixed" in _card_text(last) and _button(last, "Roll back") is None
    after = _card_text(_result_card(connector)[1])
    assert '"text": "Fixed"' in after and "sharing-subscriptions" in after
    carol = sharing_lab.ctx.scenario.mailbox("carol@contoso.com")
    erin = sharing_lab.ctx.scenario.mailbox("erin@contoso.com")
    assert carol is not None and carol.sharing_subscriptions == []
    # Erin's calendar is as it was: no explicit entry for Carol was added.
    assert erin is not None and "carol@contoso.com" not in {p.user.lower() for p in erin.calendar_permissions}
    kinds = _kinds(await _audit(settings), str(approve["fix"]))
    assert kinds[:2] == ["fix-proposed", "fix-approved"] and kinds[-1] == "fix-verified"


async def test_asking_again_after_an_approval_lapsed_unpressed_marks_it_expired_and_asks_anew(
    lab: RunningLab,
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
) -> None:
    settings = make_settings()
    now = [1_800_000_000.0]
    async with _bot(settings, lab, clock=lambda: now[0]) as bot:
        await _to_result(bot, connector, activities)
        _, before = _result_card(connector)
        first = await _press_fix_it(bot, connector, activities)
        fix_id = str((_button(_approval_cards(connector, first)[0], "Approve") or {})["fix"])
        now[0] += 3600  # nobody decided within the hour
        await bot.post(activities.submit(_button(before, "Fix it") or {}, conversation=REQUESTER_CHAT))
        await bot.idle()
        threads = connector.of("create_conversation")
        assert len(threads) == 2  # a new approval request
        expired = _approval_cards(connector, first)[-1]
        assert "Expired: nothing was changed" in _card_text(expired) and _button(expired, "Approve") is None
        assert "already waiting" not in " ".join(_texts(connector, REQUESTER_CHAT))
    kinds = _kinds(await _audit(settings), fix_id)
    assert kinds == ["fix-proposed", "fix-expired"]
