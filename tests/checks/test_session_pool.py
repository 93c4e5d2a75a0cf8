"""The session pool on its own: bounded, first come first served, a wait announced and its end, a broken
session dropped, idle sessions closed when the last triage is done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from checks.backends.session_pool import SESSION_WAIT, SessionPool, SessionPools


@dataclass
class Session:
    n: int
    broken: bool = False
    closed: bool = False


@dataclass
class Maker:
    made: list[Session] = field(default_factory=list)

    def __call__(self) -> Session:
        self.made.append(Session(len(self.made)))
        return self.made[-1]


def pool(limit: int, maker: Maker) -> SessionPool[Session]:
    return SessionPool("Exchange PowerShell session on ex01", limit, maker, _close, lambda s: s.broken)


def _close(session: Session) -> None:
    session.closed = True


async def test_at_most_limit_sessions_in_use_and_waiters_served_in_order() -> None:
    maker = Maker()
    shared = pool(2, maker)
    order: list[int] = []
    release = asyncio.Event()

    async def triage(n: int) -> None:
        async with shared.lease():
            order.append(n)
            await release.wait()

    tasks = [asyncio.ensure_future(triage(n)) for n in range(5)]
    await asyncio.sleep(0.01)
    assert order == [0, 1] and shared.in_use == 2
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert shared.peak == 2 and len(maker.made) == 2 and shared.waits == 3  # reused, never a third


async def test_a_wait_is_announced_and_its_end_too() -> None:
    shared = pool(1, Maker())
    notes: list[str] = []

    async def note(text: str) -> None:
        notes.append(text)

    async with shared.lease():
        token = SESSION_WAIT.set(note)
        try:
            waiting = asyncio.ensure_future(shared.lease().__aenter__())
            await asyncio.sleep(0.01)
        finally:
            SESSION_WAIT.reset(token)
    await waiting
    assert notes == [
        "Waiting for a free Exchange PowerShell session on ex01 (all 1 are busy with other triages).",
        "",
    ]


async def test_a_broken_session_is_closed_and_the_next_lease_gets_a_new_one() -> None:
    maker = Maker()
    shared = pool(1, maker)
    async with shared.lease() as first:
        first.broken = True
    async with shared.lease() as second:
        assert second is not first
    assert first.closed and not second.closed


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    shared = pool(1, Maker())
    async with shared.lease():
        gone = asyncio.ensure_future(shared.lease().__aenter__())
        await asyncio.sleep(0.01)
        gone.cancel()
        await asyncio.sleep(0.01)
    async with shared.lease():
        assert shared.in_use == 1


async def test_the_last_triage_out_closes_the_idle_sessions() -> None:
    maker = Maker()
    pools = SessionPools(3)
    shared = pools.get("ex01", lambda limit: pool(limit, maker))
    assert pools.get("ex01", lambda limit: pool(limit, Maker())) is shared
    shared.attach()
    shared.attach()
    async with shared.lease():
        pass
    await shared.detach()
    assert not maker.made[0].closed  # another triage still uses the pool
    await shared.detach()
    assert maker.made[0].closed
