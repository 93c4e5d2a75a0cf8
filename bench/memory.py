"""Memory with 1,000 conversations in flight, and the stored state of each.

    .venv/bin/python -m bench.memory [--conversations 1000] [--scenario seed-000-federation-cert] [--backend live|lab]

`triage serve` runs in its own process: with `--backend live` (as deployed; it needs a bot identity, since the anonymous development mode runs only with the lab) its checks talk to
the lab scenario served by `triage lab up` in a third process, through a live configuration naming the
lab's servers; with `--backend lab` (the default) it serves the lab in its own process (the demo set-up). This process plays Teams and the Bot Connector:
it walks every conversation to the middle of a triage (symptom, scope, the pair and its AD sites lookup,
the sites confirmed: the error-text question is open), then posts one more turn in all of them at once.
It reports the bot's resident memory (VmRSS) after start-up, with the conversations parked, and its peak
(VmHWM) through the burst; and the bytes stored per conversation (the JSON document in SQLite). Target:
at most 200 MB resident with 1,000 conversations in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from bench.driver import Plan, TimedConnector, TriageDriver
from bench.load import Poster, gather_limited
from bench.servers import BotProcess, lab_process, live_config, rss_kib, serving
from bot.storage.factory import SQLITE_FILE
from bot.testing import TeamsActivities

__all__ = ["TARGET_MB", "main"]

TARGET_MB = 200.0
PARK_AT = "error-text"  # the question each conversation is left at


async def _park(driver: TriageDriver, plan: Plan) -> None:
    await driver.until(plan, PARK_AT)


def _stored_sizes(state_dir: Path) -> list[int]:
    with sqlite3.connect(state_dir / SQLITE_FILE) as connection:
        rows = connection.execute("SELECT length(CAST(body AS BLOB)) FROM documents WHERE key LIKE 'conv/%'")
        return [int(size) for (size,) in rows]


@contextmanager
def _bot(backend: str, scenario: str) -> Iterator[BotProcess]:
    if backend == "lab":
        with serving("triage", scenario=scenario) as bot:
            yield bot
        return
    from lab.scenario.load import load_scenario

    tenant = load_scenario(scenario).exchange_online.tenant
    with tempfile.TemporaryDirectory(prefix="bench-live-") as directory, lab_process(scenario) as endpoints:
        config, secrets = live_config(endpoints, tenant, Path(directory))
        with serving("triage", config=config, environ=secrets) as bot:
            yield bot


async def echo_burst(connector: TimedConnector, activities: TeamsActivities, turns: int) -> tuple[int, int]:
    """The bare SDK echo bot's resident memory after start-up and after `turns` messages at once (KiB)."""
    with serving("echo") as bot:
        started = rss_kib(bot.pid)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            poster = Poster(bot.url, session)
            await asyncio.gather(
                *(poster.post(activities.message("x", conversation=f"a:echo-{n}")) for n in range(turns))
            )
        return started, rss_kib(bot.pid, "VmHWM")


async def measure(conversations: int, scenario: str, backend: str) -> list[str]:
    connector = TimedConnector()
    await connector.start()
    assert connector._server is not None
    activities = TeamsActivities(service_url=connector._server.url + "/")
    plan = Plan()
    try:
        with _bot(backend, scenario) as bot:
            started_kib = rss_kib(bot.pid)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                poster = Poster(bot.url, session)
                drivers = [
                    TriageDriver(poster, connector, activities, f"a:bench-memory-{n}")
                    for n in range(conversations)
                ]
                began = time.perf_counter()
                await gather_limited([_park(d, plan) for d in drivers], 50)
                parked_seconds = time.perf_counter() - began
                parked_kib = rss_kib(bot.pid)
                connector.clear()  # this process's memory is not what is measured; keep it small anyway
                statuses = await asyncio.gather(*(d.say("status") for d in drivers))
                errors = sum(not 200 <= r.status < 300 for r in statuses)
                after_kib, peak_kib = rss_kib(bot.pid), rss_kib(bot.pid, "VmHWM")
            sizes = _stored_sizes(bot.state_dir)
            database = sum(p.stat().st_size for p in bot.state_dir.glob(SQLITE_FILE + "*"))
        connector.clear()
        echo_started, echo_peak = await echo_burst(connector, activities, conversations)
    finally:
        await connector.stop()
    mb = 1024.0
    return [
        f"memory, {conversations} conversations in flight (parked at the {PARK_AT} question, then one turn "
        f"each, all at once), {scenario}, backend {backend}"
        + (" (the lab in its own process)" if backend == "live" else " (the lab inside the bot's process)"),
        f"  bot resident memory: {started_kib / mb:.0f} MB after start-up, {parked_kib / mb:.0f} MB with the "
        f"conversations parked, {after_kib / mb:.0f} MB after the burst; peak {peak_kib / mb:.0f} MB "
        f"(target <= {TARGET_MB:.0f} MB); {errors} errors",
        f"  the bare SDK echo bot, same burst: {echo_started / mb:.0f} MB after start-up, peak {echo_peak / mb:.0f} MB "
        f"(the SDK's own cost of {conversations} turns at once: {(echo_peak - echo_started) / mb:.0f} MB; the "
        f"triage bot's: {(peak_kib - parked_kib) / mb:.0f} MB)",
        f"  per conversation: {(parked_kib - started_kib) / conversations:.1f} KiB of resident memory; stored "
        f"state {statistics.median(sizes):.0f} bytes (median, max {max(sizes)}) over {len(sizes)} documents; "
        f"SQLite files {database / 1024 / 1024:.1f} MB",
        f"  parking {conversations} conversations ({sum(len(d.turns) for d in drivers)} turns, 50 at a time) "
        f"took {parked_seconds:.1f} s",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--scenario", default="seed-000-federation-cert")
    parser.add_argument("--backend", choices=("live", "lab"), default="lab")
    args = parser.parse_args()
    print("\n".join(asyncio.run(measure(args.conversations, args.scenario, args.backend))))


if __name__ == "__main__":
    main()
