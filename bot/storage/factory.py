"""Open the store the settings ask for."""

from __future__ import annotations

from bot.settings import Settings
from bot.storage.base import Store
from bot.storage.blob import BlobStore
from bot.storage.sqlite import SqliteStore

__all__ = ["SQLITE_FILE", "open_store"]

SQLITE_FILE = "state.sqlite3"


async def open_store(settings: Settings) -> Store:
    if settings.storage == "blob":
        if settings.blob_connection_string is None:
            raise ValueError("TRIAGE_BLOB_CONNECTION_STRING is required for blob storage")
        return await BlobStore.open(
            settings.blob_connection_string.get_secret_value(), settings.blob_container
        )
    return await SqliteStore.open(settings.state_dir / SQLITE_FILE)
