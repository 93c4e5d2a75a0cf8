"""What the measurements changed in the host: a store that does not wait for the disk on every turn, an SDK
that does not log every reply, start-up objects kept out of garbage collection, and a bound on the turns
taken in at once (given back when a turn's checks start)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import bot.app
from bot.server import configure_logging, serve
from bot.settings import load_settings
from bot.storage import SqliteStore
from bot.storage.sqlite import CHECKPOINT_EVERY
from bot.testing import LoopbackConnector, RunningBot, TeamsActivities, reserve_loopback_socket, running_bot
from dialogs.api import Emit, Inbound, Outbound
from tests.bot.conversations import ScriptedConversation
from tests.waiting import until

SDK_REPLY_LOGGER = "microsoft_agents.hosting.core.connector.client.connector_client"


async def test_the_sqlite_store_commits_to_the_wal_without_waiting_for_the_disk(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.db")
    try:
        connection = store._connection
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    finally:
        await store.close()


async def test_sqlite_checkpoints_run_beside_the_writes_not_in_them(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.db")
    body = {"text": "x" * 3000}
    try:
        assert store._connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        for n in range(CHECKPOINT_EVERY):
            await store.write(f"conv/{n}", body, None)
        assert store._checkpointing is not None
        await store._checkpointing
        # The pages are in the database file itself now, not only in the write-ahead log.
        assert (tmp_path / "state.db").stat().st_size > CHECKPOINT_EVERY * 3000
        assert (await store.read("conv/7"))[0] == body
    finally:
        await store.close()


@pytest.fixture
def sdk_log_level() -> Iterator[None]:
    sdk = logging.getLogger("microsoft_agents")
    saved = sdk.level
    yield
    sdk.setLevel(saved)


@pytest.mark.usefixtures("sdk_log_level")
def test_the_sdk_does_not_log_every_reply_at_info() -> None:
    configure_logging("INFO")
    assert not logging.getLogger(SDK_REPLY_LOGGER).isEnabledFor(logging.INFO)
    assert logging.getLogger(SDK_REPLY_LOGGER).isEnabledFor(logging.WARNING)
    configure_logging("DEBUG")
    assert logging.getLogger(SDK_REPLY_LOGGER).isEnabledFor(logging.DEBUG)


async def test_serving_keeps_what_start_up_loaded_out_of_garbage_collection(tmp_path: Path) -> None:
    with reserve_loopback_socket() as sock:
        port = sock.getsockname()[1]
    settings = load_settings(
        {"TRIAGE_STATE_DIR": str(tmp_path), "TRIAGE_PORT": str(port), "TRIAGE_DEV_ANONYMOUS": "1"}
    )
    stop = asyncio.Event()
    gc.unfreeze()
    server = asyncio.create_task(serve(settings, lambda _publish: ScriptedConversation(), stop))
    try:
        await until(lambda: gc.get_freeze_count() or server.done(), "the server froze its start-up objects")
        assert gc.get_freeze_count() > 0
    finally:
        stop.set()
        await asyncio.wait_for(server, 60)
        gc.unfreeze()


class Gated:
    """Counts the turns inside it at once; "long" checkpoints (as the checks do) and waits for the gate."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def handle(self, state: dict[str, Any], inbound: Inbound, emit: Emit) -> dict[str, Any]:
        self.inside += 1
        self.most = max(self.most, self.inside)
        self.entered.set()
        try:
            if inbound.text == "long":
                await emit(Outbound(kind="checkpoint", state={"stage": "checks"}))
            if inbound.text in ("long", "wait"):
                await self.gate.wait()
            await emit(Outbound(kind="text", text=f"done {inbound.text}"))
            return {"stage": "done"}
        finally:
            self.inside -= 1


async def test_at_most_so_many_turns_are_taken_in_at_once_and_the_rest_wait(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bot.app, "TURNS_IN_FLIGHT", 2)
    conversation = Gated()
    async with _bot_and_connector(tmp_path, conversation) as (running, connector, activities):
        posts = [
            asyncio.create_task(running.post(activities.message("wait", conversation=f"a:c{n}")))
            for n in range(6)
        ]
        await until(lambda: conversation.inside >= 2, "two turns inside")
        await asyncio.sleep(0.3)  # room for a third to come in wrongly; `most` below would show it
        assert conversation.inside == 2
        conversation.gate.set()
        responses = await asyncio.wait_for(asyncio.gather(*posts), 60)
    assert {r.status for r in responses} == {202} and conversation.most == 2
    assert sorted(call.text for call in connector.calls) == ["done wait"] * 6


async def test_a_turn_gives_its_place_back_when_its_checks_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bot.app, "TURNS_IN_FLIGHT", 1)
    conversation = Gated()
    async with _bot_and_connector(tmp_path, conversation) as (running, connector, activities):
        long = asyncio.create_task(running.post(activities.message("long", conversation="a:long")))
        await asyncio.wait_for(conversation.entered.wait(), 60)
        quick = await asyncio.wait_for(running.post(activities.message("quick", conversation="a:quick")), 60)
        assert quick.status == 202 and connector.texts("a:quick") == ["done quick"]
        assert not long.done()  # still waiting on its "checks"
        conversation.gate.set()
        assert (await asyncio.wait_for(long, 60)).status == 202


@asynccontextmanager
async def _bot_and_connector(
    tmp_path: Path, conversation: Gated
) -> AsyncIterator[tuple[RunningBot, LoopbackConnector, TeamsActivities]]:
    connector = LoopbackConnector()
    url = await connector.start()
    try:
        settings = load_settings({"TRIAGE_STATE_DIR": str(tmp_path / "var"), "TRIAGE_DEV_ANONYMOUS": "1"})
        async with running_bot(settings, conversation) as running:
            yield running, connector, TeamsActivities(service_url=url)
    finally:
        await connector.stop()
