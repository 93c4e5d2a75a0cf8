"""Two `triage serve` replicas on one storage account (Azurite: Blob for the state, a queue for the jobs).
The replica working a triage is killed (SIGKILL) while its checks run: the other takes the job from the queue
once its visibility timeout runs out, finishes the triage, and the user sees one result."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.driver import Plan, TimedConnector, TriageDriver, is_result
from bench.load import Poster
from bench.servers import serving
from bot.storage.blob import BlobStore
from bot.testing import TeamsActivities
from tests.bot.azurite import running_azurite_with_queue
from tests.reliability.test_restart import PASTE, slow_scenario

PLAN = Plan(target="bjorn@contoso.com", paste=PASTE)
CONTAINER = "replicas-state"
VISIBILITY_SECONDS = 3


@pytest.fixture(scope="module")
def storage_account() -> Iterator[str]:
    with running_azurite_with_queue() as connection_string:
        yield connection_string


async def test_the_other_replica_finishes_a_triage_whose_replica_died(
    tmp_path: Path, connector: TimedConnector, activities: TeamsActivities, storage_account: str
) -> None:
    scenario = str(slow_scenario(tmp_path))
    environ = {
        "TRIAGE_STORAGE": "blob",
        "TRIAGE_BLOB_CONNECTION_STRING": storage_account,
        "TRIAGE_BLOB_CONTAINER": CONTAINER,
        "TRIAGE_LINK_SECRET": "replicas-test-link-secret-0123456789abcdef",
        "TRIAGE_JOB_QUEUE": "triage-jobs",
        "TRIAGE_JOB_VISIBILITY_SECONDS": str(VISIBILITY_SECONDS),
        "TRIAGE_JOB_POLL_SECONDS": "0.5",
    }
    async with aiohttp.ClientSession() as session:
        with (
            serving("triage", scenario=scenario, state_dir=tmp_path / "b", environ=environ) as other,
            serving("triage", scenario=scenario, state_dir=tmp_path / "a", environ=environ) as working,
        ):
            driver = TriageDriver(Poster(working.url, session), connector, activities, "a:replicas")
            await driver.until(PLAN, "error-text")
            checks = asyncio.create_task(driver.step(PLAN))
            for _ in range(1000):  # until the progress card shows: the checks have started on `working`
                if any("Running the checks" in json.dumps(card) for card in driver.cards()):
                    break
                await asyncio.sleep(0.01)
            working.process.kill()  # SIGKILL: its job stays on the queue, invisible for a while
            killed = time.perf_counter()
            checks.cancel()
            with contextlib.suppress(aiohttp.ClientError, asyncio.CancelledError):
                await checks
            assert not driver.finished()
            # Nobody writes again: `other` takes the job once the message shows again.
            assert await driver.settle(killed, "card", seconds=90) is not None
            assert driver.finished()
            state = await _stored_state(storage_account, lambda s: s.get("phase") == "done")
            assert other.process.poll() is None

    posted = [
        call
        for _, call in connector.arrivals["a:replicas"]
        if call.operation != "update" and any(map(is_result, call.cards))
    ]
    assert len(posted) == 1  # one result
    assert state["phase"] == "done"
    assert state["conclusion"]["cause"] == "federation-cert-missing-on-site"


async def _stored_state(connection_string: str, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The conversation's stored state once `wanted` holds (the result card is posted just before it is
    stored), or as it is after 30 s."""
    store = await BlobStore.open(connection_string, CONTAINER)
    try:
        for _ in range(300):
            state, _ = await store.read("conv/msteams/a:replicas")
            if wanted(state):
                break
            await asyncio.sleep(0.1)
        return state
    finally:
        await store.close()
