"""A full triage through the bot over HTTP, every backend call 200 ms late: how close to the slowest check.

    .venv/bin/python -m bench.triage [--latency-ms 200] [--rounds 3] [--scenario seed-000-federation-cert]

`triage serve` runs in its own process on a lab scenario whose every service (PSRP, WinRM, EWS, Graph,
token) answers each call `--latency-ms` late (the lab's `latency` fault). This process plays Teams and the
Bot Connector and walks a whole triage (symptom, scope, the pair, the sites, the pasted error); the turn that
runs the checks is timed from its POST: to its first reply, to the first progress card, and to the result
card (the HTTP answer comes at once; the result is posted when the checks end). The checks that turn ran (from the stored state) are then run one at
a time, each alone on fresh connections, against the same scenario served in this process as `triage serve`
serves it; the slowest is the yardstick. Targets: triage wall time at most 1.25 times the slowest single
check; the first progress card within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.driver import Plan, TimedConnector, TriageDriver
from bench.load import Poster
from bench.servers import ROOT, serving
from bot.storage import SqliteStore
from bot.storage.base import encode
from bot.storage.factory import SQLITE_FILE
from bot.testing import TeamsActivities

__all__ = ["TARGET_FIRST_PROGRESS_S", "TARGET_RATIO", "main"]

TARGET_RATIO = 1.25
TARGET_FIRST_PROGRESS_S = 1.0
SERVICES = ("psrp", "winrm", "ews", "graph", "token")
PASTE = ROOT / "triage" / "examples" / "seed-000-event-4002.txt"


@dataclass(frozen=True)
class Round:
    wall: float
    first_reply: float
    first_progress: float
    checks: dict[str, int]  # check id -> its duration_ms inside the triage
    facts: dict[str, Any]
    stored_bytes: int  # the conversation's stored document after the result


def slow_scenario(directory: Path, base: str, latency_ms: int) -> Path:
    """`base` with every service answering `latency_ms` late."""
    path = directory / "bench-slow.yaml"
    faults = [{"service": s, "kind": "latency", "latency_ms": latency_ms} for s in SERVICES]
    document = {
        "extends": base,
        "name": "bench-slow",
        "description": f"{base}, slow backends",
        "faults": faults,
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


async def _stored(state_dir: Path, conversation: str) -> dict[str, Any]:
    store = await SqliteStore.open(state_dir / SQLITE_FILE)
    try:
        state, _ = await store.read(f"conv/msteams/{conversation}")
    finally:
        await store.close()
    return state


async def triage_rounds(scenario: Path, rounds: int) -> list[Round]:
    from knowledge.assessment import combine_facts
    from knowledge.loader import load_knowledge

    kb = load_knowledge()

    connector = TimedConnector()
    await connector.start()
    assert connector._server is not None
    activities = TeamsActivities(service_url=connector._server.url + "/")
    plan = Plan(paste=PASTE.read_text(encoding="utf-8"))
    found: list[Round] = []
    try:
        with serving("triage", scenario=str(scenario)) as bot:
            async with aiohttp.ClientSession() as session:
                for n in range(rounds + 1):  # the first round warms the bot and the lab, and is not kept
                    conversation = f"a:bench-triage-{n}"
                    driver = TriageDriver(Poster(bot.url, session), connector, activities, conversation)
                    if not await driver.walk(plan) or driver.turns[-1].first_progress is None:
                        raise RuntimeError(f"the triage did not finish: {driver.texts()[-3:]}")
                    last = driver.turns[-1]
                    state = await _stored(bot.state_dir, conversation)
                    lookup = ((state.get("lookup") or {}).get("result") or {}).get("id")
                    ran = {
                        r["id"]: int(r["duration_ms"])
                        for r in state["results"]
                        if r["status"] != "skipped" and r["id"] != lookup
                    }
                    facts = combine_facts(kb, state["said"], state["pasted"])
                    if n:
                        stored = len(encode(state).encode("utf-8"))
                        first_reply, first_progress = last.first_reply or 0.0, last.first_progress or 0.0
                        found.append(
                            Round(
                                last.settled or last.seconds, first_reply, first_progress, ran, facts, stored
                            )
                        )
    finally:
        await connector.stop()
    return found


async def alone(
    scenario: Path, facts: dict[str, Any], check_ids: list[str], repeats: int
) -> dict[str, float]:
    """Each check run by itself (median of `repeats`), on fresh connections, as the bot's runner runs it."""
    from checks.api import CheckRequest, ProgressEvent
    from triage.backends import build_runner

    async def quiet(_event: ProgressEvent) -> None:
        return None

    seconds: dict[str, list[float]] = {check_id: [] for check_id in check_ids}
    async with build_runner("lab", scenario=scenario) as runner:
        for _ in range(repeats):
            for check_id in check_ids:
                loop = asyncio.get_running_loop()
                began = loop.time()
                await runner.run(CheckRequest((check_id,), facts, fresh=True), quiet)
                seconds[check_id].append(loop.time() - began)
    return {check_id: statistics.median(values) for check_id, values in seconds.items()}


async def measure(base: str, latency_ms: int, rounds: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-triage-") as directory:
        scenario = slow_scenario(Path(directory), base, latency_ms)
        found = await triage_rounds(scenario, rounds)
        check_ids = sorted(found[0].checks)
        singles = await alone(scenario, found[0].facts, check_ids, rounds)
    slowest = max(singles, key=lambda k: singles[k])
    wall = statistics.median(r.wall for r in found)
    first_progress = max(r.first_progress for r in found)
    inside = statistics.median(max(r.checks.values()) for r in found)
    return [
        f"full triage through the bot over HTTP, {base}, {latency_ms} ms per backend call on "
        f"{', '.join(SERVICES)}; {len(check_ids)} checks, {rounds} rounds (medians)",
        f"  checks turn (paste -> result card): {wall:.2f} s; slowest single check alone: "
        f"{singles[slowest]:.2f} s ({slowest}); ratio {wall / singles[slowest]:.2f} (target <= {TARGET_RATIO})",
        f"  slowest check inside the triage: {inside / 1000:.2f} s; the checks alone, slowest first: "
        + ", ".join(f"{c} {singles[c]:.2f}" for c in sorted(singles, key=lambda k: -singles[k])[:4]),
        f"  first reply {statistics.median(r.first_reply for r in found) * 1000:.0f} ms, first progress card "
        f"{statistics.median(r.first_progress for r in found) * 1000:.0f} ms (worst {first_progress * 1000:.0f} ms;"
        f" target <= {TARGET_FIRST_PROGRESS_S:.0f} s)",
        f"  stored state of the finished triage: {statistics.median(r.stored_bytes for r in found):.0f} bytes",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--scenario", default="seed-000-federation-cert", help="the lab scenario to slow down"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # pypsrp and requests warn about loopback certificates and such
    print("\n".join(asyncio.run(measure(args.scenario, args.latency_ms, args.rounds))))


if __name__ == "__main__":
    main()
