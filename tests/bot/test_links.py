"""Signed, expiring remediation links and the runbook page behind them."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.links import KEY_FILE, ExpiredLink, LinkService, LinkSigner, TamperedLink, load_link_key
from bot.runbook_schema import RunbookError, parse_runbook
from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import LoopbackConnector, RunningBot, TeamsActivities, running_bot
from tests.bot.conversations import RUNBOOK, ScriptedConversation

KEY = b"k" * 32
ROTATED = ("vL3qZ8nR1tY6wK0pB4xM7cF2hJ9dS5gA", "Qe7Tn2Lw9Xc4Vb1Mz6Ks3Hd8Gf5Jp0Ry")
DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_signed_token_verifies_to_its_id_until_it_expires() -> None:
    clock = Clock()
    signer = LinkSigner(KEY, 7 * DAY, clock)
    token, expires = signer.sign("0" * 32)
    assert signer.verify(token) == "0" * 32
    assert expires == int(clock.now + 7 * DAY)
    clock.now += 7 * DAY + 1
    with pytest.raises(ExpiredLink):
        signer.verify(token)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: "1" + t[1:],  # the id
        lambda t: t.replace(".", ".9", 1),  # the expiry, pushed into the future
        lambda t: t + "x",
        lambda t: "",
        lambda t: "../../etc/passwd",
    ],
)
def test_any_change_to_a_token_makes_it_tampered(change: Callable[[str], str]) -> None:
    signer = LinkSigner(KEY, DAY)
    token, _ = signer.sign("0" * 32)
    with pytest.raises(TamperedLink):
        signer.verify(change(token))


def test_a_token_from_another_key_is_tampered() -> None:
    token, _ = LinkSigner(b"a" * 32, DAY).sign("0" * 32)
    with pytest.raises(TamperedLink):
        LinkSigner(b"b" * 32, DAY).verify(token)


def test_the_generated_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = load_link_key(None, tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert load_link_key(None, tmp_path) == first
    assert len(first) >= 32
    assert load_link_key("configured-secret-" + "x" * 20, tmp_path) == b"configured-secret-" + b"x" * 20
    (tmp_path / KEY_FILE).chmod(0o644)
    assert load_link_key(None, tmp_path) == first
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_runbooks_are_validated_before_they_are_stored() -> None:
    assert parse_runbook(RUNBOOK)["steps"][0]["commands"][0].startswith("Get-ExchangeCertificate")
    minimal = parse_runbook({"title": "T", "cause_id": "c", "steps": [{"summary": "s"}]})
    assert minimal["steps"][0] == {
        "summary": "s",
        "commands": [],
        "changes": False,
        "risk": "",
        "verify": [],
        "docs": [],
    }
    with pytest.raises(RunbookError, match="steps"):
        parse_runbook({**RUNBOOK, "steps": []})
    with pytest.raises(RunbookError, match="docs"):
        parse_runbook({**RUNBOOK, "steps": [{"summary": "s", "docs": ["javascript:alert(1)"]}]})
    with pytest.raises(RunbookError, match="colour"):
        parse_runbook({**RUNBOOK, "colour": "red"})


async def _published_link(bot: RunningBot, connector: LoopbackConnector, activities: TeamsActivities) -> str:
    await bot.post(activities.message("runbook"))
    [link] = connector.texts("a:personal-1")
    assert link.startswith(f"{bot.url}/remediation/")
    return link.removeprefix(bot.url)


def _conversation(publish: Any) -> ScriptedConversation:
    return ScriptedConversation(publish)


async def test_the_conversation_publishes_a_runbook_and_the_link_shows_it(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), _conversation) as bot:
        path = await _published_link(bot, connector, activities)
        status, page, headers = await bot.get(path)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert "<title>Re-publish the federation certificate</title>" in page
    assert "Federation certificate missing on &lt;EX02&gt;" in page  # escaped, not markup
    assert "free/busy fails" in page and "&amp;" in page
    assert (
        "<pre><code>Get-ExchangeCertificate -Server EX02 | Where {$_.Thumbprint -eq &#x27;&lt;thumb&gt;&#x27;}"
        in page
    )
    assert "<th scope='row'>Server</th><td><code>EX02</code></td>" in page
    assert "Read-only: changes nothing." in page
    assert "<strong>Risk:</strong> none" in page
    assert "<pre><code>Test-FederationTrust</code></pre>" in page
    assert 'href="https://learn.microsoft.com/exchange/federation"' in page
    assert "<script" not in page and "http://" not in page.split("<body>")[0]


async def test_a_tampered_link_is_refused_with_403(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), _conversation) as bot:
        path = await _published_link(bot, connector, activities)
        tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
        status, page, _ = await bot.get(tampered)
        garbage_status, _, _ = await bot.get("/remediation/%3Cscript%3E")
    assert (status, garbage_status) == (403, 403)
    assert "Link not valid" in page and "Traceback" not in page


async def test_an_expired_link_is_refused_with_410(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    clock = Clock()
    settings = make_settings(TRIAGE_LINK_TTL_HOURS=48)
    async with running_bot(settings, _conversation, clock=clock) as bot:
        path = await _published_link(bot, connector, activities)
        clock.now += 2 * DAY - 60
        still_good, _, _ = await bot.get(path)
        clock.now += 120
        status, page, _ = await bot.get(path)
    assert still_good == 200
    assert status == 410
    assert "expired" in page and "Traceback" not in page
    # An expired runbook is deleted from the store, not just refused.
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        assert await store.scan("runbook/") == []
    finally:
        await store.close()


async def test_a_link_works_for_24_hours_by_default(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    clock = Clock()
    async with running_bot(make_settings(), _conversation, clock=clock) as bot:
        path = await _published_link(bot, connector, activities)
        clock.now += DAY - 60
        day_old, _, _ = await bot.get(path)
        clock.now += 120
        expired, _, _ = await bot.get(path)
    assert (day_old, expired) == (200, 410)


async def test_links_survive_a_key_rollover_and_die_when_the_old_key_is_dropped(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    old, new = ROTATED
    async with running_bot(make_settings(TRIAGE_LINK_SECRET=old), _conversation) as bot:
        path = await _published_link(bot, connector, activities)
    rollover = make_settings(TRIAGE_LINK_SECRET=new, TRIAGE_LINK_SECRET_PREVIOUS=old)
    async with running_bot(rollover, _conversation) as bot:
        during, _, _ = await bot.get(path)
        connector.clear()
        fresh = await _published_link(bot, connector, activities)
    async with running_bot(make_settings(TRIAGE_LINK_SECRET=new), _conversation) as bot:
        after, _, _ = await bot.get(path)
        fresh_after, _, _ = await bot.get(fresh)
    assert (during, after, fresh_after) == (200, 403, 200)


def test_a_signer_accepts_its_previous_key_and_signs_with_the_current_one() -> None:
    old, new = (key.encode() for key in ROTATED)
    token, _ = LinkSigner(old, DAY).sign("0" * 32)
    rolled = LinkSigner(new, DAY, previous=(old,))
    assert rolled.verify(token) == "0" * 32
    fresh, _ = rolled.sign("1" * 32)
    assert LinkSigner(new, DAY).verify(fresh) == "1" * 32
    with pytest.raises(TamperedLink):
        LinkSigner(old, DAY).verify(fresh)


async def test_a_link_to_a_runbook_no_longer_stored_is_404(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with running_bot(settings, _conversation) as bot:
        path = await _published_link(bot, connector, activities)
        runbook_id = path.rsplit("/", 1)[1].split(".")[0]
        store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
        try:
            await store.delete(f"runbook/{runbook_id}")
        finally:
            await store.close()
        status, page, _ = await bot.get(path)
    assert status == 404 and "Traceback" not in page


async def test_links_keep_working_after_a_restart(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    async with running_bot(settings, _conversation) as bot:
        path = await _published_link(bot, connector, activities)
    async with running_bot(settings, _conversation) as bot:
        status, _, _ = await bot.get(path)
    assert status == 200


async def test_links_use_the_configured_public_url(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    settings = make_settings(TRIAGE_PUBLIC_URL="https://localhost:8443/")
    async with running_bot(settings, _conversation) as bot:
        await bot.post(activities.message("runbook"))
    [link] = connector.texts("a:personal-1")
    assert link.startswith("https://localhost:8443/remediation/")


async def test_runbook_pages_are_never_served_through_the_internet_facing_host(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID="0b0b0b0b-1111-2222-3333-444444444444",
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET="a-client-secret",
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID="72f988bf-86f1-41af-91ab-2d7cd011db47",
        TRIAGE_PUBLIC_URL="https://triage.corp.contoso.com",
        TRIAGE_INTERNET_HOST="triage.contoso.com",
        TRIAGE_LINK_SECRET=ROTATED[0],
    )
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        service = LinkService(store, LinkSigner(ROTATED[0].encode(), DAY), settings.base_url)
        link = await service.publish(RUNBOOK)
    finally:
        await store.close()
    path = link.removeprefix("https://triage.corp.contoso.com")
    async with running_bot(settings, _conversation) as bot:
        inside, page, _ = await bot.get(path)
        outside = []
        for headers in (
            {"Host": "triage.contoso.com"},
            {"Host": "TRIAGE.contoso.com:443"},
            {"X-Forwarded-Host": "triage.contoso.com"},
            {"Forwarded": 'for=203.0.113.7;host="triage.contoso.com";proto=https'},
        ):
            async with bot.session.get(f"{bot.url}{path}", headers=headers) as response:
                outside.append((response.status, "EX02" in await response.text()))
    assert inside == 200 and "EX02" in page
    assert outside == [(404, False)] * 4
