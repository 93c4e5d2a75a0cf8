"""A job (one activity to handle, with the conversation reference to answer it by) and the engines' interface."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

__all__ = ["Job", "JobEngine"]


@dataclass(frozen=True)
class Job:
    """One activity for the conversation, kept until a worker has handled it.

    `key` is the conversation's state key; `activity` the activity as Teams posted it (JSON) and `reference`
    its `ConversationReference` (JSON), what a worker in any replica continues the conversation with.
    `attempt` counts the runs so far, this one included; `receipt` is the engine's handle on the stored job
    (a queue message's id and pop receipt) and `parsed` the activity already read by the replica that received
    it; neither is stored.
    """

    key: str
    activity_id: str
    activity: dict[str, Any]
    reference: dict[str, Any]
    attempt: int = 1
    receipt: Any = field(default=None, compare=False, repr=False)
    parsed: Any = field(default=None, compare=False, repr=False)  # the activity as read on receipt, in memory

    @property
    def id(self) -> str:
        return f"{self.key}|{self.activity_id}"

    def document(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "activity_id": self.activity_id,
            "activity": self.activity,
            "reference": self.reference,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any], attempt: int, receipt: Any = None) -> Job:
        return cls(
            key=str(document["key"]),
            activity_id=str(document["activity_id"]),
            activity=dict(document["activity"]),
            reference=dict(document["reference"]),
            attempt=attempt,
            receipt=receipt,
        )

    def again(self, attempt: int) -> Job:
        return replace(self, attempt=attempt)


class JobEngine(Protocol):
    """Where jobs wait. `submit` stores a new job and answers it (with its receipt), or None when this activity
    id was already taken for the conversation (a redelivery); `claim` answers jobs this process should run
    now that nobody else runs (left by a process that died, or queued by another replica); `keep` keeps a
    running job ours; `attempted` records a further attempt; `done` removes a job for good."""

    @property
    def kind(self) -> str: ...

    @property
    def poll_seconds(self) -> float:
        """How often the worker asks `claim` (0: only once, at start-up)."""
        ...

    async def submit(self, job: Job) -> Job | None: ...

    async def claim(self) -> list[Job]: ...

    async def keep(self, job: Job) -> Job: ...

    async def attempted(self, job: Job) -> None: ...

    async def done(self, job: Job) -> None: ...

    async def close(self) -> None: ...
