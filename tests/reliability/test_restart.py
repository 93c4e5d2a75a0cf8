"""`triage serve` killed (SIGKILL) in the middle of triages and started again on the same SQLite state:
no conversation loses its state; the one killed while its checks ran runs them again as soon as the server is
back (its job was stored), without waiting for the user, and posts its result once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import aiohttp
import yaml

from bench.driver import Plan, TimedConnector, TriageDriver, is_result
from bench.load import Poster
from bench.servers import serving
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import TeamsActivities
from tests.texts import EXAMPLE
from tests.waiting import until

PASTE = EXAMPLE.read_text("utf-8")
PLAN = Plan(target="bjorn@contoso.com", paste=PASTE)
INTERRUPTED = "I was interrupted while running the checks; running them again now."


def slow_scenario(directory: Path) -> Path:
    """The seed-000 lab with Exchange PowerShell answering 300 ms late: the checks take a couple of seconds."""
    path = directory / "slow-seed-000.yaml"
    document = {
        "extends": "seed-000-federation-cert",
        "name": "slow-seed-000",
        "description": "seed-000, slow PowerShell",
        "faults": [{"service": "psrp", "kind": "latency", "latency_ms": 300}],
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


async def _states(state_dir: Path, conversations: list[str]) -> dict[str, dict[str, object]]:
    store = await SqliteStore.open(state_dir / SQLITE_FILE)
    try:
        return {c: (await store.read(f"conv/msteams/{c}"))[0] for c in conversations}
    finally:
        await store.close()


async def test_a_bot_killed_mid_triage_loses_no_conversation(
    tmp_path: Path, connector: TimedConnector, activities: TeamsActivities
) -> None:
    scenario, state_dir = str(slow_scenario(tmp_path)), tmp_path / "var"
    async with aiohttp.ClientSession() as session:
        with serving("triage", scenario=scenario, state_dir=state_dir) as first:
            poster = Poster(first.url, session)
            running, asking, done = (
                TriageDriver(poster, connector, activities, f"a:{name}")
                for name in ("running", "asking", "done")
            )
            assert await done.walk(Plan(target="carol@contoso.com"))
            await asking.until(PLAN, "pair")
            await running.until(PLAN, "error-text")
            checks = asyncio.create_task(running.step(PLAN))
            await until(
                lambda: any("Running the checks" in json.dumps(card) for card in running.cards()),
                "the progress card (the checks have started)",
            )
            first.process.kill()  # SIGKILL: no clean-up of any kind
            checks.cancel()
            with contextlib.suppress(aiohttp.ClientError, asyncio.CancelledError):
                await checks
        assert not running.finished()
        before = await _states(state_dir, ["a:running", "a:asking", "a:done"])
        assert before["a:running"]["phase"] == "running"  # the checkpoint was stored before the checks

        restarted = time.perf_counter()
        with serving("triage", scenario=scenario, state_dir=state_dir) as second:
            poster = Poster(second.url, session)
            for driver in (running, asking, done):
                driver.poster = poster
            # Nobody writes: the stored job runs again when the server starts.
            assert await running.settle(restarted, "card") is not None
            assert INTERRUPTED in running.texts()
            assert running.finished()
            assert await asking.walk(PLAN)  # it picks up at the pair question
            assert (await done.say("status")).status == 202

    after = await _states(state_dir, ["a:running", "a:asking", "a:done"])
    assert after["a:running"]["phase"] == "done" and after["a:asking"]["phase"] == "done"
    assert after["a:running"]["conclusion"]["cause"] == "federation-cert-missing-on-site"  # type: ignore[index]
    assert after["a:asking"]["said"]["symptom"] == PLAN.symptom  # type: ignore[index]  # asked once, kept
    assert after["a:done"]["id"] == before["a:done"]["id"] and after["a:done"]["phase"] == "done"
    assert [t.answered for t in asking.turns].count("symptom") == 1
    results = [
        c
        for _, c in connector.arrivals["a:running"]
        if c.operation != "update" and any(map(is_result, c.cards))
    ]
    assert len(results) == 1  # posted once
