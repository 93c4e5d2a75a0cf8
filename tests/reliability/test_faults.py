"""Backend faults during triages (timeouts, connection resets, 401, throttling, a simulator killed mid-call):
every conversation ends with its partial results and a sentence saying what failed, and the bot serves on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from bench.driver import Plan, TimedConnector, TriageDriver
from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import RunningBot, TeamsActivities, running_bot
from checks.api import CheckRunner
from lab.faults import FaultKind, FaultSpec, Service
from lab.runtime import RunningLab, start_lab
from lab.serve import StartedSite
from tests.texts import EXAMPLE
from tests.waiting import until
from triage.app import build_conversation
from triage.backends import LabRunner, runner_for_lab

PASTE = EXAMPLE.read_text("utf-8")
PLAN = Plan(target="bjorn@contoso.com", paste=PASTE)
APOLOGY = "Sorry, something went wrong"

# service, operation, fault, the check it lands on, what its summary says
FAULTS: list[tuple[Service, str | None, FaultKind, str, str]] = [
    ("winrm", "win-events", "timeout", "event-logs", "did not answer in time"),
    ("psrp", "Get-SharingPolicy", "reset", "sharing-policy", "Could not reach Exchange PowerShell"),
    ("ews", "GetFolder", "unauthorized", "calendar-permissions", "refused the service account"),
    ("graph", "getSchedule", "throttle", "freebusy-probe", "is throttling the app"),
    ("token", None, "unauthorized", "freebusy-probe", "Entra refused the app's client credentials"),
]


async def _state(settings: Settings, conversation: str) -> dict[str, Any]:
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        return (await store.read(f"conv/msteams/{conversation}"))[0]
    finally:
        await store.close()


def _shown(connector: TimedConnector, conversation: str) -> str:
    return "\n".join(
        json.dumps(call.body, ensure_ascii=False) for _, call in connector.arrivals[conversation]
    )


async def _clean_triage(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities, name: str
) -> None:
    """A whole triage after the fault: it finishes, and nothing in it failed."""
    driver = TriageDriver(bot_poster(bot), connector, activities, name)
    assert await driver.walk(PLAN)
    assert APOLOGY not in _shown(connector, name)


def bot_poster(bot: RunningBot) -> Any:
    from bench.load import Poster

    return Poster(bot.url, bot.session)


async def _kill(site: StartedSite) -> None:
    """Cut every open connection (as a crashed process's would be), then close the port."""
    server = site.runner.server
    assert server is not None
    for handler in server.connections:
        if handler.transport is not None:
            handler.transport.abort()
    await site.stop()


def _running(settings: Settings, runner: CheckRunner) -> Any:
    return running_bot(settings, lambda publish: build_conversation(settings, publish, runner=runner))


@pytest.mark.parametrize(
    ("service", "operation", "kind", "check_id", "words"), FAULTS, ids=[f"{f[0]}-{f[2]}" for f in FAULTS]
)
async def test_a_backend_fault_ends_the_triage_with_partial_results_and_says_what_failed(
    make_settings: Callable[..., Settings],
    connector: TimedConnector,
    activities: TeamsActivities,
    lab: RunningLab,
    lab_runner: LabRunner,
    service: Service,
    operation: str | None,
    kind: FaultKind,
    check_id: str,
    words: str,
) -> None:
    settings = make_settings()
    async with _running(settings, lab_runner) as bot:
        driver = TriageDriver(bot_poster(bot), connector, activities, "a:fault")
        await driver.until(PLAN, "error-text")
        lab.faults.add(FaultSpec(service=service, operation=operation, kind=kind))
        checks_turn = await driver.step(PLAN)
        lab.faults.clear()
        assert checks_turn is not None and checks_turn.status == 202
        assert driver.finished(), driver.texts()[-2:]
        await _clean_triage(bot, connector, activities, "a:after-fault")

    state = await _state(settings, "a:fault")
    results = {r["id"]: r for r in state["results"]}
    assert results[check_id]["status"] == "error" and words in results[check_id]["summary"]
    assert sum(r["status"] in ("ok", "warn", "fail") for r in results.values()) >= len(results) // 2
    shown = _shown(connector, "a:fault")
    assert words in shown and APOLOGY not in shown
    assert state["phase"] == "done" and state["conclusion"] is not None


async def test_a_simulator_killed_in_the_middle_of_a_call(
    make_settings: Callable[..., Settings], connector: TimedConnector, activities: TeamsActivities
) -> None:
    """EWS stops (its port closes, calls in flight are cut) while the checks wait on it."""
    lab = start_lab("seed-000-federation-cert")
    settings = make_settings()
    try:
        async with _running(settings, runner_for_lab(lab)) as bot:
            driver = TriageDriver(bot_poster(bot), connector, activities, "a:killed")
            await driver.until(PLAN, "error-text")
            lab.faults.add(FaultSpec(service="ews", kind="latency", latency_ms=1500))
            checks = asyncio.create_task(driver.step(PLAN))
            await until(lambda: lab.faults.taken, "an EWS call on its way")
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_kill(lab._sites["ews"]), lab._loop))
            turn = await asyncio.wait_for(checks, 30)
            assert turn is not None and turn.status == 202 and driver.finished()
            status = await driver.say("status")  # the bot still answers
            assert status.status == 202
    finally:
        lab.close()
    state = await _state(settings, "a:killed")
    failed = {r["id"]: r["summary"] for r in state["results"] if r["status"] == "error"}
    assert failed and set(failed) <= {"calendar-permissions", "sharing-subscriptions", "freebusy-probe"}, (
        failed
    )
    assert all("EWS" in summary or "Exchange Web Services" in summary for summary in failed.values()), failed
    assert "federation-certificates" not in failed  # checks on other backends finished
    assert APOLOGY not in _shown(connector, "a:killed")
