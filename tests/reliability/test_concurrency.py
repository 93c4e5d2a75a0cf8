"""Many conversations at once over HTTP: every triage finishes, nothing leaks from one into another."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bench.driver import Plan, TimedConnector, TriageDriver, is_result
from bench.load import Poster
from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import TeamsActivities, running_bot
from lab.runtime import RunningLab
from tests.reliability.conftest import NamingRunner
from tests.texts import EXAMPLE
from triage import backends
from triage.app import build_conversation
from triage.backends import LabRunner, runner_for_lab

CONVERSATIONS = 200
ADDRESS = re.compile(r"\b(?:req|tgt)\d+@contoso\.com", re.IGNORECASE)
APOLOGY = "Sorry, something went wrong"


def plan_for(n: int) -> Plan:
    """Odd conversations ask about free/busy between two users, even ones about an OWA proxy failure."""
    symptom = "freebusy-cross-site" if n % 2 else "owa-ecp-cross-site-proxy"
    return Plan(symptom=symptom, scope="pair", requester=f"req{n}@contoso.com", target=f"tgt{n}@contoso.com")


async def read_states(settings: Settings, conversations: list[str]) -> dict[str, dict[str, Any]]:
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        return {c: (await store.read(f"conv/msteams/{c}"))[0] for c in conversations}
    finally:
        await store.close()


def shown(connector: TimedConnector, conversation: str) -> str:
    """Everything the bot sent to or updated in one conversation, as JSON text."""
    return "\n".join(json.dumps(call.body) for _, call in connector.arrivals[conversation])


async def test_200_conversations_at_once_finish_without_errors_or_crosstalk(
    make_settings: Callable[..., Settings], connector: TimedConnector, activities: TeamsActivities
) -> None:
    settings = make_settings()
    runner = NamingRunner()
    async with (
        running_bot(settings, lambda publish: build_conversation(settings, publish, runner=runner)) as bot,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        poster = Poster(bot.url, session)
        drivers = [TriageDriver(poster, connector, activities, f"a:many-{n}") for n in range(CONVERSATIONS)]
        finished = await asyncio.gather(*(d.walk(plan_for(n)) for n, d in enumerate(drivers)))

    assert all(finished), [d.texts()[-2:] for d, done in zip(drivers, finished, strict=True) if not done][:3]
    assert {t.status for d in drivers for t in d.turns} == {202}
    states = await read_states(settings, [d.conversation for d in drivers])
    for n, driver in enumerate(drivers):
        everything = shown(connector, driver.conversation)
        assert APOLOGY not in everything, driver.conversation
        assert {a.lower() for a in ADDRESS.findall(everything)} <= {
            f"req{n}@contoso.com",
            f"tgt{n}@contoso.com",
        }, n
        result = driver.newest_question()
        assert result is not None and is_result(result)
        # Its own lookup was shown and confirmed, and its own checks' results are stored.
        assert f"Site-tgt{n}" in everything and not re.search(rf"Site-tgt(?!{n}\b)\d+", everything), n
        state = states[driver.conversation]
        assert state["phase"] == "done" and state["said"]["target"] == f"tgt{n}@contoso.com"
        assert state["said"]["target.site"] == f"Site-tgt{n}"
        assert {r["summary"] for r in state["results"] if r["status"] == "ok"} == {
            f"Nothing wrong for tgt{n}@contoso.com."
        }


LAB_CONVERSATIONS = 6  # each full triage costs about 0.6 s of CPU here (clients and lab in one process)
PASTE = EXAMPLE.read_text("utf-8")


@pytest.fixture
def patient_lab_runner(lab: RunningLab, monkeypatch: pytest.MonkeyPatch) -> LabRunner:
    """The real runner on the lab with time limits no loaded machine reaches: this test is about answers
    kept apart, not about timeouts (those have their own tests), so six triages at once on a shared 2-core
    machine must not turn a slow answer into an error."""
    monkeypatch.setitem(backends.LAB_TIMEOUTS, "operation", 20)
    monkeypatch.setitem(backends.LAB_TIMEOUTS, "read", 30)
    return runner_for_lab(lab, check_seconds=120, triage_seconds=300)


async def test_concurrent_triages_on_the_lab_each_find_their_own_answer(
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
    patient_lab_runner: LabRunner,
) -> None:
    """Half the conversations ask about bjorn (Branch, where the federation certificate is missing), half
    about carol (HQ); every one gets its own sites and conclusion, through the real clients and the lab."""
    settings = make_settings()
    bjorn = Plan(target="bjorn@contoso.com", paste=PASTE)
    carol = Plan(target="carol@contoso.com")
    async with running_bot(
        settings, lambda publish: build_conversation(settings, publish, runner=patient_lab_runner)
    ) as bot:
        poster = Poster(bot.url, bot.session)
        drivers = [
            TriageDriver(poster, connector, activities, f"a:lab-{n}") for n in range(LAB_CONVERSATIONS)
        ]
        plans = [bjorn if n % 2 else carol for n in range(LAB_CONVERSATIONS)]
        finished = await asyncio.gather(*(d.walk(p) for d, p in zip(drivers, plans, strict=True)))

    assert all(finished), [d.texts()[-2:] for d in drivers]
    states = await read_states(settings, [d.conversation for d in drivers])
    for driver, plan in zip(drivers, plans, strict=True):
        state = states[driver.conversation]
        everything = shown(connector, driver.conversation)
        assert APOLOGY not in everything
        assert state["said"]["target"] == plan.target
        site = "Branch" if plan is bjorn else "HQ"
        assert state["said"]["target.site"] == site, driver.conversation
        assert f"site {site}" in everything
        errors = [(r["id"], r["summary"]) for r in state["results"] if r["status"] == "error"]
        assert errors == [], errors
        if plan is bjorn:
            assert state["conclusion"]["cause"] == "federation-cert-missing-on-site"
