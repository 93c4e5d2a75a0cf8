"""Many conversations at once over HTTP: each posts its turns one after another and times each answer."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["Poster", "Sample", "Stats", "gather_limited", "percentile", "run_conversations"]

Activity = dict[str, Any]


@dataclass
class Poster:
    """Posts activities to one bot's `/api/messages`."""

    url: str
    session: aiohttp.ClientSession

    async def post(self, activity: Activity) -> int:
        async with self.session.post(f"{self.url}/api/messages", json=activity) as response:
            await response.read()
            return response.status


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of `values`."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Sample:
    """Turn times in seconds, and how many turns were not answered with a 2xx."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.errors += other.errors


@dataclass(frozen=True)
class Stats:
    count: int
    p50_ms: float
    p99_ms: float
    errors: int

    @classmethod
    def of(cls, sample: Sample) -> Stats:
        latencies = sample.latencies
        return cls(
            len(latencies), percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000, sample.errors
        )


async def run_conversations(
    poster: Poster,
    conversations: int,
    turns: int,
    activity_for: Callable[[int, int], Activity],
    *,
    think: tuple[float, float] | None = None,
    seed: int = 1,
) -> Sample:
    """`conversations` conversations at once, each posting `turns` activities, waiting for each answer.

    `activity_for(conversation, turn)` builds each activity. Without `think` every conversation posts its
    turns back to back (the bot is saturated: the figures are mostly queueing); with `think=(low, high)`
    each waits a random time in that range (seconds) before each turn, as a person reading a card would,
    the first wait spreading the conversations' starts. A status other than 2xx counts as an error.
    """
    sample = Sample()
    gate = asyncio.Event()
    rng = random.Random(seed)

    async def one(conversation: int) -> None:
        await gate.wait()
        for turn in range(turns):
            if think is not None:
                await asyncio.sleep(rng.uniform(*think))
            began = time.perf_counter()
            status = await poster.post(activity_for(conversation, turn))
            sample.latencies.append(time.perf_counter() - began)
            if not 200 <= status < 300:
                sample.errors += 1

    tasks = [asyncio.ensure_future(one(c)) for c in range(conversations)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    return sample


async def gather_limited(coroutines: Sequence[Awaitable[Any]], limit: int) -> list[Any]:
    """Await `coroutines` with at most `limit` running at once (set-up traffic, not measured)."""
    semaphore = asyncio.Semaphore(limit)

    async def bounded(coroutine: Awaitable[Any]) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(bounded(c) for c in coroutines))
