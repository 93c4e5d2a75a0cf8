"""The one storage interface the host uses: JSON documents under string keys, guarded by ETags."""

from __future__ import annotations

import json
from typing import Any, Protocol

__all__ = ["ConflictError", "JsonDict", "StorageError", "Store", "decode", "encode", "validate_key"]

JsonDict = dict[str, Any]

MAX_KEY_LENGTH = 512


class StorageError(Exception):
    """The store could not be reached or answered with something it should not have."""


class ConflictError(StorageError):
    """The ETag given to a write or delete no longer matches: someone else wrote the key first."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the stored version of {key!r} changed since it was read")
        self.key = key


class Store(Protocol):
    """JSON documents under string keys with optimistic concurrency.

    `read` answers `({}, None)` for a key that does not exist. `write` with `etag=None` creates the key and
    fails with `ConflictError` if it already exists; with an ETag it replaces the document only if the stored
    ETag still matches. Both return the new ETag. `delete` with an ETag deletes only that version; deleting
    a missing key is not an error.
    """

    @property
    def kind(self) -> str:
        """A short name for health reports: "sqlite" or "blob"."""
        ...

    async def read(self, key: str) -> tuple[JsonDict, str | None]: ...

    async def write(self, key: str, state: JsonDict, etag: str | None) -> str: ...

    async def delete(self, key: str, etag: str | None = None) -> None: ...

    async def scan(self, prefix: str) -> list[tuple[str, float]]:
        """Every key starting with `prefix` (up to its first `/` a namespace: `conv/`, `runbook/`, `audit/`),
        with when it was last written (Unix seconds), in key order. For retention and the audit log."""
        ...

    async def close(self) -> None: ...


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"storage keys are 1 to {MAX_KEY_LENGTH} characters long")
    return key


def encode(state: JsonDict) -> str:
    """Serialise a document; anything that is not plain JSON is refused here, before it is stored."""
    if not isinstance(state, dict):
        raise TypeError("stored documents are JSON objects")
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode(text: str | bytes) -> JsonDict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise StorageError("stored document is not a JSON object")
    return value
