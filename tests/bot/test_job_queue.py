"""The queue engine on Azurite: a redelivery is refused whichever replica receives it, a job whose replica
stopped renewing it shows again with the next attempt number, a finished job is not run again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.jobs import Job
from bot.jobs.queue import QueueJobs
from bot.storage.blob import BlobStore
from tests.bot.azurite import running_azurite_with_queue


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def account() -> Iterator[str]:
    with running_azurite_with_queue() as connection_string:
        yield connection_string


@pytest.fixture
async def store(account: str) -> AsyncIterator[BlobStore]:
    opened = await BlobStore.open(account, "jobs-test")
    yield opened
    await opened.close()


def job(activity_id: str) -> Job:
    activity = {"id": activity_id, "type": "message", "text": "hello"}
    return Job("conv/msteams/a:1", activity_id, activity, {"conversation": {"id": "a:1"}})


async def test_a_redelivered_activity_is_refused_by_every_replica(account: str, store: BlobStore) -> None:
    clock = Clock()
    one = await QueueJobs.open(account, "redelivery", store, clock=clock)
    two = await QueueJobs.open(account, "redelivery", store, clock=clock)
    try:
        first = await one.submit(job("in-1"))
        assert first is not None and first.attempt == 1
        assert await two.submit(job("in-1")) is None  # still queued
        await one.done(first)
        clock.now += 60
        assert await two.submit(job("in-1")) is None  # done, and kept
        clock.now += 3600
        assert await two.submit(job("in-1")) is not None  # forgotten after keep_seconds
    finally:
        await one.close()
        await two.close()


async def test_a_job_not_renewed_shows_again_for_another_replica_and_done_is_final(
    account: str, store: BlobStore
) -> None:
    working = await QueueJobs.open(account, "takeover", store, visibility_seconds=1)
    other = await QueueJobs.open(account, "takeover", store, visibility_seconds=1)
    try:
        submitted = await working.submit(job("in-2"))
        assert submitted is not None
        assert await other.claim() == []  # invisible while its replica works it
        taken: list[Job] = []
        for _ in range(50):
            taken = await other.claim()
            if taken:
                break
            await asyncio.sleep(0.1)
        [again] = taken
        assert again.id == submitted.id and again.attempt == 2
        await other.done(again)
        await asyncio.sleep(1.2)
        assert await other.claim() == []
    finally:
        await working.close()
        await other.close()
