"""State storage: one interface (`Store`), an embedded SQLite store and an Azure Blob store."""

from bot.storage.base import ConflictError, JsonDict, StorageError, Store
from bot.storage.blob import BlobStore
from bot.storage.sqlite import SqliteStore

__all__ = ["BlobStore", "ConflictError", "JsonDict", "SqliteStore", "StorageError", "Store"]
