"""What the turn-overhead measurements changed in the host: a store that does not wait for the disk on every
turn, an SDK that does not log every reply, and start-up objects kept out of garbage collection."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.server import configure_logging, serve
from bot.settings import load_settings
from bot.storage import SqliteStore
from bot.testing import reserve_loopback_socket
from tests.bot.conversations import ScriptedConversation

SDK_REPLY_LOGGER = "microsoft_agents.hosting.core.connector.client.connector_client"


async def test_the_sqlite_store_commits_to_the_wal_without_waiting_for_the_disk(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.db")
    try:
        connection = store._connection
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
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
    settings = load_settings({"TRIAGE_STATE_DIR": str(tmp_path), "TRIAGE_PORT": str(port)})
    stop = asyncio.Event()
    gc.unfreeze()
    server = asyncio.create_task(serve(settings, lambda _publish: ScriptedConversation(), stop))
    try:
        for _ in range(200):
            if gc.get_freeze_count() or server.done():
                break
            await asyncio.sleep(0.02)
        assert gc.get_freeze_count() > 0
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
        gc.unfreeze()
