"""The seam between a triage and the backend checks: what a check returns and how a run reports progress."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "CheckRequest",
    "CheckResult",
    "CheckRunner",
    "CheckStatus",
    "Evidence",
    "Progress",
    "ProgressEvent",
]

CheckStatus = Literal["ok", "warn", "fail", "error", "skipped"]


@dataclass(frozen=True)
class Evidence:
    """One observation: which server (or mailbox), which property, which value."""

    property: str
    value: str
    server: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"server": self.server, "property": self.property, "value": self.value, "note": self.note}


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: CheckStatus
    summary: str
    evidence: tuple[Evidence, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    duration_ms: int = 0
    remedy: str = ""
    """What the admin can do when the check could not run: e.g. the exact command to run and paste back."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "summary": self.summary,
            "evidence": [e.as_dict() for e in self.evidence],
            "facts": dict(self.facts),
            "duration_ms": self.duration_ms,
            "remedy": self.remedy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            id=data["id"],
            status=data["status"],
            summary=data["summary"],
            evidence=tuple(Evidence(**e) for e in data.get("evidence", [])),
            facts=dict(data.get("facts", {})),
            duration_ms=int(data.get("duration_ms", 0)),
            remedy=data.get("remedy", ""),
        )


@dataclass(frozen=True)
class CheckRequest:
    """What a triage asks the checks to look at: the check ids, the facts known so far, and command output
    an admin pasted back (`knowledge.reader.command_output` sections), which answers before the backends do."""

    check_ids: tuple[str, ...]
    facts: Mapping[str, Any]
    pasted: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ProgressEvent:
    kind: Literal["started", "finished"]
    check_id: str
    title: str
    result: CheckResult | None = None


Progress = Callable[[ProgressEvent], Awaitable[None]]


class CheckRunner(Protocol):
    """Runs the checks a triage needs, concurrently, and reports each start and finish to `progress`.

    Never raises for a failing backend: a check that cannot run comes back as an `error` result.
    """

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]: ...
