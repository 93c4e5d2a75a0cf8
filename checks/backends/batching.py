"""One worker per connection that takes every call queued at that moment and runs them as one batch.

Remote PowerShell and WinRM connections are not safe to share between threads, but one thread can
start many pipelines (or commands) on one connection and then collect their output: the server runs
them side by side. So each connection gets a worker that gathers the calls queued while it was busy,
hands the batch to a blocking function in a thread, and resolves each caller's future.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

__all__ = ["BatchWorker"]

C = TypeVar("C")
R = TypeVar("R")

# Callers that start together (asyncio.gather) reach the queue over a few loop iterations: wait this
# long after the first so they ride in one batch instead of two.
_GATHER_SECONDS = 0.005


class BatchWorker(Generic[C, R]):
    """Calls queued for one or more connections. Each connection's worker takes what is queued (up to
    `max_batch`) when it is free, so a burst spreads over every connection and a straggler never
    waits behind a busy one while another is idle."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[C]], list[R | BaseException]]
        | Sequence[Callable[[Sequence[C]], list[R | BaseException]]],
        executor: Executor,
        *,
        max_batch: int = 32,
        lease: Callable[[], AbstractAsyncContextManager[Callable[[Sequence[C]], list[R | BaseException]]]]
        | None = None,
    ) -> None:
        """`lease`, when given, lends each batch the function to run it with (a shared session's, from
        `checks.backends.session_pool`) instead of the worker's own."""
        self._runners = [run_batch] if callable(run_batch) else list(run_batch)
        self._lease = lease
        self._executor = executor
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[C, asyncio.Future[R]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = 0  # workers waiting for a call

    async def call(self, item: C) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        if not self._tasks:
            self._tasks = [asyncio.ensure_future(self._work(run)) for run in self._runners]
        return await future

    async def _work(self, run_batch: Callable[[Sequence[C]], list[R | BaseException]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._idle += 1
            try:
                batch = [await self._queue.get()]
            finally:
                self._idle -= 1
            await asyncio.sleep(_GATHER_SECONDS)
            # A fair share of what is queued, leaving the rest to the connections that are free.
            share = min(self._max_batch, -(-(1 + self._queue.qsize()) // (1 + self._idle)))
            while not self._queue.empty() and len(batch) < share:
                batch.append(self._queue.get_nowait())
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                items = [i for i, _ in live]
                if self._lease is None:
                    outcomes = await loop.run_in_executor(self._executor, run_batch, items)
                else:
                    async with self._lease() as leased:
                        outcomes = await loop.run_in_executor(self._executor, leased, items)
            except BaseException as failure:  # the whole batch failed (e.g. the connection)
                outcomes = [failure] * len(live)
                if isinstance(failure, asyncio.CancelledError):
                    for _, fut in live:
                        fut.cancel()
                    raise
            for (_, fut), outcome in zip(live, outcomes, strict=True):
                if fut.done():
                    continue
                if isinstance(outcome, BaseException):
                    fut.set_exception(outcome)
                else:
                    fut.set_result(outcome)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
