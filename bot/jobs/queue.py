"""The engine for several replicas: Azure Storage Queues for the work, the state store (Blob) for the jobs.

A job's document is written to the store under `job/<hash>` first (create-only, so a redelivered activity,
received by any replica, is found there and not queued twice), then a small message naming it is queued with
a visibility timeout. The replica that received the activity runs the job at once and keeps the message
invisible while it works (`keep` renews the timeout); it deletes the message when the job is done. If that
replica dies, the message shows again when the timeout runs out and another replica's worker (`claim`, every
`poll_seconds`) takes it; the queue's dequeue count is the attempt number, bounded by the worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from bot.jobs.base import Job
from bot.storage import ConflictError, Store

__all__ = ["QueueJobs", "job_key"]

log = logging.getLogger(__name__)


def job_key(job_id: str) -> str:
    return "job/" + hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:40]


class QueueJobs:
    """`JobEngine` over an Azure Storage queue and the state store."""

    kind = "queue"

    def __init__(
        self,
        queue: QueueClient,
        store: Store,
        *,
        visibility_seconds: int = 30,
        poll_seconds: float = 1.0,
        keep_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue = queue
        self._store = store
        self.visibility_seconds = visibility_seconds
        self.poll_seconds = poll_seconds
        self._keep = keep_seconds
        self._clock = clock

    @classmethod
    async def open(cls, connection_string: str, queue_name: str, store: Store, **options: Any) -> QueueJobs:
        queue = QueueClient.from_connection_string(connection_string, queue_name)
        with contextlib.suppress(ResourceExistsError):
            await queue.create_queue()
        return cls(queue, store, **options)

    async def submit(self, job: Job) -> Job | None:
        key = job_key(job.id)
        document = {"job": job.document(), "done": None}
        try:
            await self._store.write(key, document, None)
        except ConflictError:
            stored, etag = await self._store.read(key)
            finished = stored.get("done")
            if not isinstance(finished, int | float) or self._clock() - finished < self._keep:
                return None  # taken (queued, running, or done lately): a redelivery
            await self._store.write(key, document, etag)  # long done: the id may be handled again
        message = await self._queue.send_message(
            json.dumps({"job": key}), visibility_timeout=self.visibility_seconds
        )
        return replace(job, attempt=1, receipt=_receipt(message))

    async def claim(self) -> list[Job]:
        claimed: list[Job] = []
        async for message in self._queue.receive_messages(
            messages_per_page=8, visibility_timeout=self.visibility_seconds, max_messages=8
        ):
            job = await self._job_of(message)
            if job is not None:
                claimed.append(job)
        return claimed

    async def _job_of(self, message: QueueMessage) -> Job | None:
        try:
            key = str(json.loads(message.content)["job"])
            stored, _ = await self._store.read(key)
        except (ValueError, KeyError, TypeError):
            log.warning("dropped a queue message that names no job")
            await self._delete(message.id, message.pop_receipt)
            return None
        if not stored or stored.get("done") is not None:
            await self._delete(message.id, message.pop_receipt)  # already done (its replica died after)
            return None
        # The first run (by the replica that received the activity) did not count in the dequeue count.
        return Job.from_document(stored["job"], int(message.dequeue_count or 0) + 1, _receipt(message))

    async def keep(self, job: Job) -> Job:
        message_id, pop_receipt = job.receipt
        updated = await self._queue.update_message(
            message_id, pop_receipt=pop_receipt, visibility_timeout=self.visibility_seconds
        )
        return replace(job, receipt=(message_id, updated.pop_receipt))

    async def attempted(self, job: Job) -> None:
        return None  # the queue counts dequeues itself

    async def done(self, job: Job) -> None:
        key = job_key(job.id)
        for _ in range(3):
            stored, etag = await self._store.read(key)
            try:
                await self._store.write(key, {**stored, "done": self._clock()}, etag)
                break
            except ConflictError:
                continue
        if job.receipt is not None:
            await self._delete(*job.receipt)

    async def _delete(self, message_id: str, pop_receipt: str | None) -> None:
        try:
            await self._queue.delete_message(message_id, pop_receipt=pop_receipt)
        except ResourceNotFoundError:
            log.info("queue message %s was gone already (another replica took it over)", message_id)
        except HttpResponseError as error:  # a stale pop receipt: another replica holds the message now
            log.info(
                "queue message %s is another replica's now (%s); its job document says done",
                message_id,
                error.status_code,
            )

    async def close(self) -> None:
        await self._queue.close()


def _receipt(message: QueueMessage) -> tuple[str, str | None]:
    return str(message.id), message.pop_receipt
