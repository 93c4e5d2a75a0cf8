"""The seam between a triage and the backend checks: what a check returns and how a run reports progress."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, cast

from knowledge.jsonvalue import JsonObject, JsonValue

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
_STATUSES: tuple[str, ...] = ("ok", "warn", "fail", "error", "skipped")
_EVIDENCE_FIELDS = ("property", "value", "server", "note")


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
    facts: Mapping[str, JsonValue] = field(default_factory=dict)
    duration_ms: int = 0
    remedy: str = ""
    """What the admin can do when the check could not run: e.g. the exact command to run and paste back."""

    def as_dict(self) -> JsonObject:
        evidence: list[JsonValue] = [dict[str, JsonValue](e.as_dict()) for e in self.evidence]
        return {
            "id": self.id,
            "status": self.status,
            "summary": self.summary,
            "evidence": evidence,
            "facts": dict(self.facts),
            "duration_ms": self.duration_ms,
            "remedy": self.remedy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JsonValue]) -> CheckResult:
        """A result from its `as_dict` (a stored state); a status it does not know reads as an error."""
        status = str(data.get("status"))
        evidence = data.get("evidence")
        facts = data.get("facts")
        duration = data.get("duration_ms")
        return cls(
            id=str(data["id"]),
            status=cast(CheckStatus, status) if status in _STATUSES else "error",
            summary=str(data.get("summary") or ""),
            evidence=tuple(
                Evidence(**{k: str(v) for k, v in e.items() if k in _EVIDENCE_FIELDS})
                for e in (evidence if isinstance(evidence, list) else [])
                if isinstance(e, dict)
            ),
            facts=dict(facts) if isinstance(facts, dict) else {},
            duration_ms=int(duration) if isinstance(duration, int | float) else 0,
            remedy=str(data.get("remedy") or ""),
        )


@dataclass(frozen=True)
class CheckRequest:
    """What a triage asks the checks to look at: the check ids, the facts known so far, and command output
    an admin pasted back (`knowledge.reader.command_output` sections), which answers before the backends do."""

    check_ids: tuple[str, ...]
    facts: Mapping[str, JsonValue]
    pasted: tuple[Mapping[str, JsonValue], ...] = ()
    fresh: bool = False  # look again: no organisation settings from the shared cache (checks.org_cache)


@dataclass(frozen=True)
class ProgressEvent:
    """A check started or finished; or ("waiting", no check id) the triage waits for a remote session shared
    with other triages, `title` saying for what ("" when the wait is over)."""

    kind: Literal["started", "finished", "waiting"]
    check_id: str
    title: str
    result: CheckResult | None = None


Progress = Callable[[ProgressEvent], Awaitable[None]]


class CheckRunner(Protocol):
    """Runs the checks a triage needs, concurrently, and reports each start and finish to `progress`.

    Never raises for a failing backend: a check that cannot run comes back as an `error` result.
    """

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]: ...
