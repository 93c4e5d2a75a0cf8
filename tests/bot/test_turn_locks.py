"""The per-conversation lock: one turn at a time per key, others in parallel, nothing kept afterwards."""

from __future__ import annotations

import asyncio

from bot.turns import KeyedLocks


async def test_turns_on_one_key_run_one_at_a_time_and_other_keys_do_not_wait() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def turn(key: str, name: str, hold: float) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    await asyncio.gather(turn("a", "a1", 0.05), turn("a", "a2", 0), turn("b", "b1", 0))
    assert order.index("a1 out") < order.index("a2 in")
    assert order.index("b1 out") < order.index("a1 out")
    assert len(locks) == 0


async def test_a_failing_turn_releases_its_lock() -> None:
    locks = KeyedLocks()
    try:
        async with locks.hold("a"):
            raise RuntimeError("turn failed")
    except RuntimeError:
        pass
    async with asyncio.timeout(30), locks.hold("a"):
        pass
    assert len(locks) == 0
