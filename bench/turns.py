"""Turn overhead: a triage turn that runs no checks, against a bare Agents SDK echo bot, side by side.

    .venv/bin/python -m bench.turns [--turns N] [--paced N] [--levels 1,50,200]

Both bots run in their own process on loopback (`triage serve` as shipped, and `bench.echo_bot`); this
process plays Teams (posting activities) and the Bot Connector (taking the replies). The time of a turn is
from the POST to its HTTP answer, which comes after the bot's reply reached the connector. The triage turns
are card answers that each send one card (symptom, scope, back, back, ...); the echo bot answers each
message with its text.

At each level that many conversations run at once, two ways: back to back (each posts its next turn as
soon as the last is answered: the bot is saturated and the figures are mostly queueing, so only the ratio
means something) and paced (each waits 1 to 3 s before each turn, as a person reading a card would).
Targets: p99 at most 1.5 times the echo bot's, and at most 25 ms (paced).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.load import Poster, Sample, Stats, gather_limited, run_conversations
from bench.servers import cpu_seconds, serving
from bot.testing import LoopbackConnector, TeamsActivities

__all__ = ["TARGET_P99_MS", "TARGET_RATIO", "Row", "main", "measure"]

TARGET_RATIO = 1.5
TARGET_P99_MS = 25.0
THINK_SECONDS = (1.0, 3.0)
ROUNDS = 3
SYMPTOM = "freebusy-cloud-to-onprem"


@dataclass(frozen=True)
class Row:
    conversations: int
    load: str  # "back to back" or "paced"
    echo: Stats
    triage: Stats
    echo_cpu_ms: float  # the bot process's CPU time per turn
    triage_cpu_ms: float

    @property
    def ratio_p50(self) -> float:
        return self.triage.p50_ms / self.echo.p50_ms

    @property
    def ratio_p99(self) -> float:
        return self.triage.p99_ms / self.echo.p99_ms


def conversation_id(kind: str, level: int, n: int) -> str:
    return f"a:{kind}-{level}-{n}"


def triage_turn(activities: TeamsActivities, level: int) -> Callable[[int, int], dict[str, Any]]:
    """Card answers that each send one question card: symptom, scope, then back twice to the symptom."""

    def build(n: int, turn: int) -> dict[str, Any]:
        conversation = conversation_id("triage", level, n)
        step = turn % 4
        if step == 0:
            value = {"action": "answer", "node": "symptom", "value": SYMPTOM}
        elif step == 1:
            value = {"action": "answer", "node": "scope", "value": "all"}
        else:
            value = {"action": "back"}
        return activities.submit(value, conversation=conversation)

    return build


def echo_turn(activities: TeamsActivities, level: int) -> Callable[[int, int], dict[str, Any]]:
    def build(n: int, turn: int) -> dict[str, Any]:
        return activities.message(f"message {turn}", conversation=conversation_id("echo", level, n))

    return build


@dataclass
class _Bot:
    poster: Poster
    pid: int
    turn: Callable[[TeamsActivities, int], Callable[[int, int], dict[str, Any]]]

    sample: Sample = field(default_factory=Sample)
    cpu: float = 0.0

    async def run(
        self, activities: TeamsActivities, level: int, turns: int, think: tuple[float, float] | None
    ) -> None:
        before = cpu_seconds(self.pid)
        self.sample.add(
            await run_conversations(self.poster, level, turns, self.turn(activities, level), think=think)
        )
        self.cpu += cpu_seconds(self.pid) - before

    def take(self) -> tuple[Stats, float]:
        """The figures since the last `take`: stats, and the bot's CPU time per turn in ms."""
        stats, cpu = Stats.of(self.sample), self.cpu / len(self.sample.latencies) * 1000
        self.sample, self.cpu = Sample(), 0.0
        return stats, cpu


async def _level(
    triage: _Bot, echo: _Bot, activities: TeamsActivities, level: int, turns: int, paced_turns: int
) -> list[Row]:
    # Every triage conversation starts (greeting and the first question) before the clock runs.
    greet = [
        triage.poster.post(activities.message("hi", conversation=conversation_id("triage", level, n)))
        for n in range(level)
    ]
    await gather_limited(greet, 20)
    # Warm both (connections, caches), then measure them in turns, a round each at a time, so that both see
    # the same machine (other processes come and go).
    for bot in (echo, triage):
        await bot.run(activities, level, 4, None)
        bot.take()
    loads: list[tuple[str, int, tuple[float, float] | None]] = [("back to back", turns, None)]
    if level > 1:
        loads.append(("paced", paced_turns, THINK_SECONDS))
    rows = []
    for load, count, think in loads:
        for _ in range(ROUNDS):
            for bot in (echo, triage):
                await bot.run(activities, level, _per_round(count), think)
        (echo_stats, echo_cpu), (triage_stats, triage_cpu) = echo.take(), triage.take()
        rows.append(Row(level, load, echo_stats, triage_stats, echo_cpu, triage_cpu))
    return rows


def _per_round(turns: int) -> int:
    # A whole number of the triage's four-turn cycle, so each round starts at the symptom question.
    return max(4, turns // ROUNDS // 4 * 4)


async def measure(levels: tuple[int, ...], turns_total: int, paced_total: int) -> list[Row]:
    connector = LoopbackConnector()
    await connector.start()
    assert connector._server is not None
    activities = TeamsActivities(service_url=connector._server.url + "/")
    rows: list[Row] = []
    try:
        with serving("triage") as triage_bot, serving("echo") as echo_bot:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                triage = _Bot(Poster(triage_bot.url, session), triage_bot.pid, triage_turn)
                echo = _Bot(Poster(echo_bot.url, session), echo_bot.pid, echo_turn)
                for level in levels:
                    turns = max(8, turns_total // level)
                    paced = max(12, paced_total // level)
                    rows += await _level(triage, echo, activities, level, turns, paced)
                    connector.clear()
    finally:
        await connector.stop()
    return rows


def report(rows: list[Row]) -> list[str]:
    lines = [
        "turn overhead (no checks), over HTTP on loopback; times in ms",
        f"  {'conv.':>5}  {'load':<12}  {'turns':>5}  {'echo p50':>8}  {'echo p99':>8}  {'triage p50':>10}"
        f"  {'triage p99':>10}  {'p50 ratio':>9}  {'p99 ratio':>9}  {'cpu/turn echo':>13}  {'triage':>6}"
        f"  {'errors':>6}",
    ]
    for row in rows:
        errors = row.echo.errors + row.triage.errors
        lines.append(
            f"  {row.conversations:>5}  {row.load:<12}  {row.triage.count:>5}  {row.echo.p50_ms:8.1f}"
            f"  {row.echo.p99_ms:8.1f}  {row.triage.p50_ms:10.1f}  {row.triage.p99_ms:10.1f}"
            f"  {row.ratio_p50:9.2f}  {row.ratio_p99:9.2f}  {row.echo_cpu_ms:13.2f}  {row.triage_cpu_ms:6.2f}"
            f"  {errors:>6}"
        )
    lines.append(
        f"  targets: p99 ratio <= {TARGET_RATIO}; triage p99 <= {TARGET_P99_MS:.0f} ms "
        f"(paced: {THINK_SECONDS[0]:.0f} to {THINK_SECONDS[1]:.0f} s between a conversation's turns)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=2000, help="back-to-back turns per level (default 2000)")
    parser.add_argument(
        "--paced",
        type=int,
        default=2400,
        help="paced turns per level, at least 12 a conversation (default 2400)",
    )
    parser.add_argument("--levels", default="1,50,200", help="concurrent conversations (default 1,50,200)")
    args = parser.parse_args()
    levels = tuple(int(part) for part in args.levels.split(","))
    before = os.getloadavg()[0]
    rows = asyncio.run(measure(levels, args.turns, args.paced))
    print("\n".join(report(rows)))
    print(
        f"  load average (1 min) before {before:.2f}, after {os.getloadavg()[0]:.2f}, on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
