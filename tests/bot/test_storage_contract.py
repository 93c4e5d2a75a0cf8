"""One contract, two stores: the embedded SQLite store and Azure Blob storage (against Azurite)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from pathlib import Path

import pytest

from bot.storage import BlobStore, ConflictError, SqliteStore, Store

Opener = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "blob"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the same store again each call: a second opener sees what the first wrote (a restart)."""
    if request.param == "sqlite":
        path = tmp_path / "state.sqlite3"
        return lambda: SqliteStore.open(path)
    connection_string = request.getfixturevalue("azurite")
    container = f"contract-{uuid.uuid4().hex[:12]}"
    return lambda: BlobStore.open(connection_string, container)


@pytest.fixture
async def store(open_store: Opener) -> AsyncIterator[Store]:
    opened = await open_store()
    yield opened
    await opened.close()


async def test_a_missing_key_reads_as_empty_without_etag(store: Store) -> None:
    assert await store.read("conv/none") == ({}, None)


async def test_a_document_round_trips(store: Store) -> None:
    document = {"text": "Grüße, 東京", "nested": {"list": [1, 2.5, None, True]}, "empty": {}}
    etag = await store.write("conv/a", document, None)
    assert await store.read("conv/a") == (document, etag)


async def test_creating_an_existing_key_conflicts(store: Store) -> None:
    await store.write("conv/a", {"n": 1}, None)
    with pytest.raises(ConflictError):
        await store.write("conv/a", {"n": 2}, None)
    assert (await store.read("conv/a"))[0] == {"n": 1}


async def test_a_write_with_the_current_etag_replaces_and_moves_the_etag(store: Store) -> None:
    first = await store.write("conv/a", {"n": 1}, None)
    second = await store.write("conv/a", {"n": 2}, first)
    assert second != first
    assert await store.read("conv/a") == ({"n": 2}, second)


async def test_a_write_with_a_stale_etag_conflicts_and_keeps_the_newer_document(store: Store) -> None:
    first = await store.write("conv/a", {"n": 1}, None)
    await store.write("conv/a", {"n": 2}, first)
    with pytest.raises(ConflictError):
        await store.write("conv/a", {"n": 3}, first)
    assert (await store.read("conv/a"))[0] == {"n": 2}


async def test_a_write_with_an_etag_to_a_missing_key_conflicts(store: Store) -> None:
    etag = await store.write("conv/a", {"n": 1}, None)
    with pytest.raises(ConflictError):
        await store.write("conv/b", {"n": 1}, etag)
    assert await store.read("conv/b") == ({}, None)


async def test_of_concurrent_writers_holding_one_etag_exactly_one_wins(store: Store) -> None:
    etag = await store.write("conv/a", {"n": 0}, None)
    results = await asyncio.gather(
        *(store.write("conv/a", {"n": n}, etag) for n in range(1, 6)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, str))
    state, current = await store.read("conv/a")
    assert current == winners[0]
    assert state["n"] in range(1, 6)


async def test_delete_honours_the_etag_and_is_idempotent(store: Store) -> None:
    first = await store.write("conv/a", {"n": 1}, None)
    second = await store.write("conv/a", {"n": 2}, first)
    with pytest.raises(ConflictError):
        await store.delete("conv/a", first)
    await store.delete("conv/a", second)
    assert await store.read("conv/a") == ({}, None)
    await store.delete("conv/a")
    await store.delete("conv/never-written", "some-etag")


async def test_unconditional_delete_removes_any_version(store: Store) -> None:
    await store.write("conv/a", {"n": 1}, None)
    await store.delete("conv/a")
    assert await store.read("conv/a") == ({}, None)


async def test_teams_style_keys_stay_distinct(store: Store) -> None:
    keys = [
        "conv/msteams/19:abc@thread.tacv2;messageid=1",
        "conv/msteams/19:abc@thread.tacv2;messageid=2",
        "conv/msteams/a:1Xy-Z_/+=",
        "team/19:abc@thread.tacv2",
    ]
    for n, key in enumerate(keys):
        await store.write(key, {"n": n}, None)
    assert [(await store.read(key))[0]["n"] for key in keys] == [0, 1, 2, 3]


async def test_only_plain_json_is_stored(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.write("conv/a", {"when": object()}, None)
    with pytest.raises(ValueError, match="Out of range float"):
        await store.write("conv/a", {"x": float("nan")}, None)
    assert await store.read("conv/a") == ({}, None)


async def test_bad_keys_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="storage keys"):
        await store.read("")
    with pytest.raises(ValueError, match="storage keys"):
        await store.write("k" * 513, {}, None)


async def test_documents_survive_reopening_the_store(open_store: Opener) -> None:
    first = await open_store()
    etag = await first.write("conv/a", {"n": 1}, None)
    await first.close()
    second = await open_store()
    try:
        assert await second.read("conv/a") == ({"n": 1}, etag)
        await second.write("conv/a", {"n": 2}, etag)
    finally:
        await second.close()


def test_each_store_names_its_kind(tmp_path: Path) -> None:
    assert SqliteStore.kind == "sqlite"
    assert BlobStore.kind == "blob"


async def test_a_scan_lists_the_keys_under_a_prefix_with_when_each_was_written(store: Store) -> None:
    before = time.time() - 5
    await store.write("conv/msteams/a:1", {"n": 1}, None)
    await store.write("conv/msteams/19:x@thread.tacv2;messageid=1", {"n": 2}, None)
    await store.write("runbook/0123", {"n": 3}, None)
    await store.write("convict/x", {"n": 4}, None)
    scanned = await store.scan("conv/")
    assert [key for key, _ in scanned] == ["conv/msteams/19:x@thread.tacv2;messageid=1", "conv/msteams/a:1"]
    assert all(before <= written <= time.time() + 5 for _, written in scanned)
    assert [key for key, _ in await store.scan("runbook/")] == ["runbook/0123"]
    assert await store.scan("audit/") == []
    await store.delete("runbook/0123")
    assert await store.scan("runbook/") == []


async def test_the_sqlite_file_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.sqlite3"
    store = await SqliteStore.open(path)
    try:
        await store.write("conv/a", {"n": 1}, None)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    finally:
        await store.close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert modes and set(modes.values()) == {0o600}, modes


async def test_an_older_sqlite_file_is_made_private_and_gains_write_times(tmp_path: Path) -> None:
    path = tmp_path / "old" / "state.sqlite3"
    path.parent.mkdir(mode=0o755)
    with closing(sqlite3.connect(path)) as old:
        old.execute("CREATE TABLE documents (key TEXT PRIMARY KEY, etag TEXT NOT NULL, body TEXT NOT NULL)")
        old.execute("INSERT INTO documents VALUES ('conv/old', 'e1', '{}')")
        old.commit()
    path.chmod(0o644)
    store = await SqliteStore.open(path)
    try:
        [(key, written)] = await store.scan("conv/")
    finally:
        await store.close()
    assert key == "conv/old" and written > 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
