"""An embedded SQLite store: one file under the state directory, the default for a single replica."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from bot.storage.base import ConflictError, JsonDict, StorageError, decode, encode, validate_key

__all__ = ["CHECKPOINT_EVERY", "SqliteStore"]

logger = logging.getLogger(__name__)

# A document is a page or two: the WAL stays around a thousand pages, as SQLite's own default keeps it.
CHECKPOINT_EVERY = 500

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS documents (key TEXT PRIMARY KEY, etag TEXT NOT NULL, body TEXT NOT NULL, "
    "updated REAL NOT NULL DEFAULT 0)"
)
# Files created before retention have no `updated` column: added, each row dated when first opened.
_ADD_UPDATED = "ALTER TABLE documents ADD COLUMN updated REAL NOT NULL DEFAULT 0"


class SqliteStore:
    """SQLite behind the `Store` interface.

    Statements run on the caller's thread: on a local WAL database with `synchronous=NORMAL` a read or a
    commit takes tens of microseconds (a commit appends to the WAL without waiting for the disk), less than
    the two thread switches a worker thread would cost every turn (measured in PERFORMANCE.md). A commit
    survives the process being killed at any point; only a power cut can lose the last ones. WAL mode and a
    busy timeout let a second process (a restarted server) open the same file safely; writers hold the lock
    for microseconds, so the wait is short.

    What does wait for the disk is the checkpoint (copying the WAL back into the database, two fsyncs: about
    30 ms here), so it never runs on the caller's thread: every `CHECKPOINT_EVERY` writes, a worker thread
    runs one on a connection of its own, beside the writes.
    """

    kind = "sqlite"

    def __init__(self, connection: sqlite3.Connection, path: Path | None = None) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._path = path
        self._writes = 0
        self._checkpointing: asyncio.Future[None] | None = None

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        return cls(await asyncio.to_thread(_connect, path), path)

    async def read(self, key: str) -> tuple[JsonDict, str | None]:
        validate_key(key)
        row = await self._run("SELECT body, etag FROM documents WHERE key = ?", (key,), fetch=True)
        if row is None:
            return {}, None
        body, etag = row
        return decode(body), str(etag)

    async def write(self, key: str, state: JsonDict, etag: str | None) -> str:
        validate_key(key)
        body = encode(state)
        new_etag = uuid.uuid4().hex
        now = time.time()
        if etag is None:
            sql = (
                "INSERT INTO documents (key, etag, body, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO NOTHING"
            )
            changed = await self._run(sql, (key, new_etag, body, now))
        else:
            sql = "UPDATE documents SET etag = ?, body = ?, updated = ? WHERE key = ? AND etag = ?"
            changed = await self._run(sql, (new_etag, body, now, key, etag))
        if changed == 0:
            raise ConflictError(key)
        self._writes += 1
        if self._writes % CHECKPOINT_EVERY == 0:
            self._checkpoint_in_the_background()
        return new_etag

    def _checkpoint_in_the_background(self) -> None:
        if self._path is None or (self._checkpointing is not None and not self._checkpointing.done()):
            return
        self._checkpointing = asyncio.ensure_future(asyncio.to_thread(_checkpoint, self._path))

    async def delete(self, key: str, etag: str | None = None) -> None:
        validate_key(key)
        if etag is None:
            await self._run("DELETE FROM documents WHERE key = ?", (key,))
            return
        deleted = await self._run("DELETE FROM documents WHERE key = ? AND etag = ?", (key, etag))
        if deleted == 0 and (await self.read(key))[1] is not None:
            raise ConflictError(key)

    async def scan(self, prefix: str) -> list[tuple[str, float]]:
        # A range on the primary key, not LIKE: a prefix holding % or _ is matched literally.
        rows = await self._run(
            "SELECT key, updated FROM documents WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, prefix + "\U0010ffff"),
            fetch="all",
        )
        return [(str(key), float(updated)) for key, updated in rows]

    async def close(self) -> None:
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        self._close()

    def _close(self) -> None:
        with self._lock:
            self._connection.close()

    async def _run(self, sql: str, params: tuple[Any, ...], *, fetch: bool | str = False) -> Any:
        return self._execute(sql, params, fetch)

    def _execute(self, sql: str, params: tuple[Any, ...], fetch: bool | str) -> Any:
        with self._lock:
            try:
                cursor = self._connection.execute(sql, params)
                if fetch == "all":
                    return cursor.fetchall()
                return cursor.fetchone() if fetch else cursor.rowcount
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite: {exc}") from exc


def _private(path: Path) -> None:
    """The state folder 0700 and the database 0600 (SQLite gives its WAL and shared-memory files the
    database's mode): conversations hold addresses, server names and pasted output. Files an older version
    left readable by others are restricted."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.parent.stat().st_mode & 0o077:
        path.parent.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name.exists() and name.stat().st_mode & 0o077:
            name.chmod(0o600)


def _connect(path: Path) -> sqlite3.Connection:
    _private(path)
    try:
        connection = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL still survives a crash of the process; FULL would wait for the disk on every turn.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in a worker thread (see above)
        connection.execute(_SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(documents)")}
        if "updated" not in columns:
            connection.execute(_ADD_UPDATED)
            connection.execute("UPDATE documents SET updated = ?", (time.time(),))
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the state database {path}: {exc}") from exc
    return connection


def _checkpoint(path: Path) -> None:
    """Copy the WAL back into the database (PASSIVE: writers carry on meanwhile); a failure waits for the next."""
    try:
        with closing(sqlite3.connect(path, timeout=5.0, isolation_level=None)) as connection:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        logger.warning("a background checkpoint of %s failed; the next one will retry", path, exc_info=True)
