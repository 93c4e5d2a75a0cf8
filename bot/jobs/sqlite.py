"""The embedded engine: jobs in a SQLite file beside the state, worked by the process that received them.

A job is inserted before the activity is answered and marked done when its turn is stored; a process killed
in between leaves it queued, and the next process to start on the same state directory runs it again
(`claim`, once, at start-up). The row outlives the job for `keep_seconds`: an activity id seen again in that
time is a redelivery and is not handled twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.jobs.base import Job

__all__ = ["JOBS_FILE", "SqliteJobs"]

JOBS_FILE = "jobs.sqlite3"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, body TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, "
    "attempts INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL, finished REAL)",
    "CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (done, finished)",
)
# Rows of jobs done longer ago than `keep_seconds` are deleted once every this many new jobs.
PRUNE_EVERY = 256


class SqliteJobs:
    """`JobEngine` over one SQLite file (WAL, like the state store)."""

    kind = "sqlite"
    poll_seconds = 0.0

    def __init__(
        self, path: Path, *, keep_seconds: float = 3600.0, clock: Callable[[], float] = time.time
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._connection.execute(statement)
        self._lock = threading.Lock()
        self._keep = keep_seconds
        self._clock = clock
        self._claimed = False
        self._submitted = 0

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._connection.execute(sql, params)

    async def submit(self, job: Job) -> Job | None:
        now = self._clock()
        self._submitted += 1
        if self._submitted % PRUNE_EVERY == 1:
            self._run("DELETE FROM jobs WHERE done = 1 AND finished < ?", (now - self._keep,))
        # A job done longer ago than `keep_seconds` (not yet pruned) no longer holds its id.
        cursor = self._run(
            "INSERT INTO jobs (id, body, created) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "body = excluded.body, done = 0, attempts = 1, created = excluded.created, finished = NULL "
            "WHERE jobs.done = 1 AND jobs.finished < ?",
            (job.id, json.dumps(job.document(), ensure_ascii=False), now, now - self._keep),
        )
        return job if cursor.rowcount == 1 else None

    async def claim(self) -> list[Job]:
        """The jobs a process that stopped left queued (only once: later jobs are run as they arrive)."""
        if self._claimed:
            return []
        self._claimed = True
        rows = self._run("SELECT body, attempts FROM jobs WHERE done = 0 ORDER BY created").fetchall()
        return [Job.from_document(json.loads(body), attempts + 1) for body, attempts in rows]

    async def keep(self, job: Job) -> Job:
        return job

    async def attempted(self, job: Job) -> None:
        self._run("UPDATE jobs SET attempts = ? WHERE id = ?", (job.attempt, job.id))

    async def done(self, job: Job) -> None:
        self._run("UPDATE jobs SET done = 1, finished = ? WHERE id = ?", (self._clock(), job.id))

    def pending(self) -> int:
        """Jobs not done (for tests and health)."""
        row = self._run("SELECT COUNT(*) FROM jobs WHERE done = 0").fetchone()
        return int(row[0])

    async def close(self) -> None:
        with self._lock:
            self._connection.close()
