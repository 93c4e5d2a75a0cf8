"""The worker: runs each job (at once for the activities this process received, and what the engine hands
over: jobs left by a process that died, or another replica's), bounded in attempts.

`accept` is what the HTTP handler calls: the job is stored by the engine before anything else (a redelivery
is refused there), then run in a task the handler may wait on for a moment (`JobTicket.wait`) so that a quick
turn is finished before Teams gets its answer; a long one (the checks) goes on after it. A job that raises is
run again after a pause, up to `max_attempts` runs in all (crashed processes count too); then `give_up` tells
the user what could not be done, and the job is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.jobs.base import Job, JobEngine

__all__ = ["Execute", "GiveUp", "JobTicket", "JobWorker"]

log = logging.getLogger(__name__)

Execute = Callable[[Job], Awaitable[Any]]
GiveUp = Callable[[Job, str], Awaitable[None]]


@dataclass
class JobTicket:
    """A job this process runs: its task, and whether it was stopped because the conversation moved on."""

    job: Job
    task: asyncio.Task[Any]
    superseded: bool = False

    async def wait(self, seconds: float) -> Any | None:
        """The job's outcome if it ends within `seconds` (None if not, or if it failed)."""
        done, _ = await asyncio.wait({self.task}, timeout=seconds)
        if not done or self.task.cancelled() or self.task.exception() is not None:
            return None
        return self.task.result()


class JobWorker:
    def __init__(
        self,
        engine: JobEngine,
        execute: Execute,
        give_up: GiveUp,
        *,
        max_attempts: int = 3,
        retry_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self._execute = execute
        self._give_up = give_up
        self._max_attempts = max_attempts
        self._retry_seconds = retry_seconds
        self._running: dict[str, JobTicket] = {}
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Run what the engine hands over now, and keep asking if it is a shared queue."""
        await self._claim()
        if self.engine.poll_seconds > 0:
            self._poller = asyncio.ensure_future(self._poll())

    async def accept(self, job: Job) -> JobTicket | None:
        """Store and start `job`; None when its activity id was taken already (a redelivery)."""
        if job.id in self._running:
            return None
        stored = await self.engine.submit(job)
        if stored is None:
            return None
        return self._start(stored)

    def running(self, key: str) -> list[JobTicket]:
        """The jobs this process is running for one conversation."""
        return [t for t in self._running.values() if t.job.key == key]

    def supersede(self, key: str) -> int:
        """Stop this conversation's running jobs (the user cancelled): their checks stop, they are not run
        again. Answers how many were stopped."""
        stopped = 0
        for ticket in self.running(key):
            ticket.superseded = True
            ticket.task.cancel()
            stopped += 1
        return stopped

    async def idle(self) -> None:
        """Until no job is running here (tests and shutdown)."""
        while self._running:
            await asyncio.gather(*(t.task for t in list(self._running.values())), return_exceptions=True)

    async def stop(self) -> None:
        """Stop working: running jobs are left to the engine (run again at the next start, or by a replica)."""
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for ticket in list(self._running.values()):
            ticket.task.cancel()
        await asyncio.gather(*(t.task for t in list(self._running.values())), return_exceptions=True)

    async def _poll(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.engine.poll_seconds)
            try:
                await self._claim()
            except Exception:
                log.warning("could not ask the job queue for work; asking again shortly", exc_info=True)

    async def _claim(self) -> None:
        for job in await self.engine.claim():
            if job.id in self._running:
                continue
            log.info("taking over job %s (attempt %d)", job.id, job.attempt)
            self._start(job)

    def _start(self, job: Job) -> JobTicket:
        ticket = JobTicket(job, asyncio.ensure_future(self._run(job)))
        self._running[job.id] = ticket
        ticket.task.add_done_callback(lambda _: self._running.pop(job.id, None))
        return ticket

    async def _run(self, job: Job) -> Any:
        attempt = job
        while True:
            if attempt.attempt > self._max_attempts:
                await self._fail(attempt, f"it failed {self._max_attempts} times")
                return None
            if attempt.attempt > 1:
                await self.engine.attempted(attempt)
            keeper = asyncio.ensure_future(self._keep(attempt)) if attempt.receipt is not None else None
            try:
                outcome = await self._execute(attempt)
            except asyncio.CancelledError:
                ticket = self._running.get(job.id)
                if ticket is not None and ticket.superseded:
                    log.info("job %s stopped: the conversation moved on", job.id)
                    await self.engine.done(self._latest(attempt))
                raise
            except Exception:
                log.exception("job %s failed (attempt %d of %d)", job.id, attempt.attempt, self._max_attempts)
                await asyncio.sleep(self._retry_seconds)
                attempt = attempt.again(attempt.attempt + 1)
                continue
            finally:
                if keeper is not None:
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await keeper
            await self.engine.done(self._latest(attempt))
            return outcome

    def _latest(self, job: Job) -> Job:
        ticket = self._running.get(job.id)
        return ticket.job.again(job.attempt) if ticket is not None else job

    async def _keep(self, job: Job) -> None:
        """Keep a queued job invisible to other replicas while it runs here."""
        interval = max(0.5, float(getattr(self.engine, "visibility_seconds", 30)) / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                job = await self.engine.keep(job)
            except Exception:
                log.warning("could not renew job %s on the queue", job.id, exc_info=True)
                return
            ticket = self._running.get(job.id)
            if ticket is not None:
                ticket.job = job

    async def _fail(self, job: Job, why: str) -> None:
        log.error("job %s dropped: %s", job.id, why)
        try:
            await self._give_up(job, why)
        except Exception:
            log.exception("could not tell conversation %s that job %s failed", job.key, job.id)
        await self.engine.done(job)
