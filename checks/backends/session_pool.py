"""Remote sessions shared by every triage in the process, bounded per endpoint and account.

Exchange Server allows each account 18 concurrent remote PowerShell shells by default (the throttling policy's
`PowerShellMaxConcurrency`); a runspace pool holds one. Twenty helpdesk agents triaging the same outage at
once, each opening its own sessions, would run the service account out of shells. So sessions are pooled:
one `SessionPool` per endpoint and account (`SessionPools.get`), at most `limit` sessions open at once
(default 8), kept open between triages and handed out one batch of calls at a time. A triage that finds
every session busy waits for one (never fails for it), and says so: the `SESSION_WAIT` callback of the
triage (set by the check runner) hears "waiting for ..." when the wait starts and "" when it ends, and the
progress card shows it.

A session whose batch left it broken (it could not connect) is closed and dropped when given back, so the
next lease opens a fresh one. Sessions live while triages use them: each triage's port `attach`es to the pool
and `detach`es when it ends; the last one out closes the idle sessions, so nothing is left open on the
server between bursts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from concurrent.futures import Executor
from contextvars import ContextVar
from typing import Generic, TypeVar

__all__ = ["DEFAULT_SESSIONS", "SESSION_WAIT", "SessionPool", "SessionPools", "WaitNote"]

log = logging.getLogger(__name__)

DEFAULT_SESSIONS = 8

S = TypeVar("S")
WaitNote = Callable[[str], Awaitable[None]]

# The current triage's listener for session waits (the check runner sets it around its checks).
SESSION_WAIT: ContextVar[WaitNote | None] = ContextVar("session_wait", default=None)


class SessionPool(Generic[S]):
    """At most `limit` sessions to one endpoint, reused; `lease` waits in line for one."""

    def __init__(
        self,
        name: str,
        limit: int,
        make: Callable[[], S],
        close: Callable[[S], None],
        broken: Callable[[S], bool],
        executor: Executor | None = None,
    ) -> None:
        self.name = name
        self.limit = max(1, limit)
        self._make = make
        self._close = close
        self._broken = broken
        self._executor = executor
        self._idle: list[S] = []
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.in_use = 0
        self.peak = 0  # most sessions in use at once
        self.waits = 0  # leases that had to wait
        self.opened = 0  # sessions made, over the pool's life
        self.users = 0  # triages attached

    def attach(self) -> None:
        self.users += 1

    async def detach(self) -> None:
        """A triage is done with the pool; the last one closes the idle sessions (in a thread)."""
        self.users -= 1
        if self.users <= 0 and self._idle:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.close_idle)

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[S]:
        await self._acquire()
        if self._idle:
            session = self._idle.pop()
        else:
            session = self._make()
            self.opened += 1
        try:
            yield session
        finally:
            await self._give_back(session)

    async def _acquire(self) -> None:
        if self.in_use < self.limit and not self._waiters:
            self._take()
            return
        self.waits += 1
        note = SESSION_WAIT.get()
        if note is not None:
            await _tell(
                note, f"Waiting for a free {self.name} (all {self.limit} are busy with other triages)."
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # it was handed to us as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        if note is not None:
            await _tell(note, "")

    def _take(self) -> None:
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            try:
                waiter.set_result(None)  # the place passes straight to the next in line
            except RuntimeError:  # its event loop is gone
                continue
            return
        self.in_use -= 1

    async def _give_back(self, session: S) -> None:
        if self._broken(session):
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._executor, self._close, session)
            except Exception:
                log.debug("closing a broken %s session failed", self.name, exc_info=True)
        else:
            self._idle.append(session)
        self._release()

    def close_idle(self) -> None:
        """Close every idle session (blocking; at shutdown)."""
        while self._idle:
            session = self._idle.pop()
            try:
                self._close(session)
            except Exception:
                log.debug("closing an idle %s session failed", self.name, exc_info=True)


class SessionPools:
    """One `SessionPool` per key (kind, endpoint, account), made on first use; `limit` applies to each."""

    def __init__(self, limit: int = DEFAULT_SESSIONS) -> None:
        self.limit = limit
        self._pools: dict[Hashable, SessionPool[object]] = {}

    def get(self, key: Hashable, factory: Callable[[int], SessionPool[S]]) -> SessionPool[S]:
        pool = self._pools.get(key)
        if pool is None:
            made = factory(self.limit)
            self._pools[key] = made  # type: ignore[assignment]
            return made
        return pool  # type: ignore[return-value]

    def pools(self) -> list[SessionPool[object]]:
        return list(self._pools.values())

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close_idle()


async def _tell(note: WaitNote, text: str) -> None:
    try:
        await note(text)
    except Exception:  # a progress display that fails must not fail the checks
        log.debug("could not report a session wait", exc_info=True)
