"""Applying an approved fix plan through a write port, then verifying it with the read-only checks.

`preview` asks Exchange itself where it can (-WhatIf on each step that takes it, nothing changes) and
describes the rest. `apply` runs the steps in order and stops at the first that fails: the outcome names
what ran, what failed and what did not run, so a partial change is never silent. `verify` re-runs every
check and reports the ones the remediation names: the fix holds only when all of them pass. Every step is
written to the audit log before it runs and after it ends; the one-time secret is generated here, sent as a
parameter and dropped, never logged, stored or shown.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from checks.api import CheckResult
from checks.errors import BackendError, NotConfigured
from checks.writes import SecretValue, WritePort
from knowledge.fix_plan import CAPTURED, SECRET, FixPlan, PlannedStep

__all__ = ["AuditLog", "FixRun", "StepRun", "StepWriter", "apply_plan", "preview_plan", "verification"]

StepStatus = Literal["done", "failed", "not-run", "previewed", "described"]


class AuditLog(Protocol):
    """Append-only: one record per proposal, approval, step, verification and rollback."""

    async def append(self, kind: str, **fields: Any) -> None: ...


@dataclass(frozen=True)
class StepRun:
    text: str
    status: StepStatus
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"step": self.text, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class FixRun:
    steps: list[StepRun] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return bool(self.steps) and all(s.status == "done" for s in self.steps)

    @property
    def changed_anything(self) -> bool:
        return any(s.status == "done" for s in self.steps)

    def as_dict(self) -> list[dict[str, str]]:
        return [s.as_dict() for s in self.steps]


def _resolve(step: PlannedStep, captured: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in step.params.items():
        if isinstance(value, dict) and CAPTURED in value:
            params[name] = captured[value[CAPTURED]]
        elif isinstance(value, dict) and SECRET in value:
            params[name] = SecretValue(secret or "")
        else:
            params[name] = value
    return params


def _needs_capture(step: PlannedStep) -> bool:
    return any(isinstance(v, dict) and CAPTURED in v for v in step.params.values())


def _redacted(rows: Sequence[Mapping[str, Any]]) -> str:
    shown = []
    for row in rows[:3]:
        fields = {k: v for k, v in row.items() if not isinstance(v, bytes) and k.lower() != "password"}
        shown.append(", ".join(f"{k}={str(v)[:80]}" for k, v in list(fields.items())[:4]))
    return "; ".join(shown)


async def preview_plan(plan: FixPlan, port: WritePort) -> FixRun:
    """What each step would do, asked with -WhatIf where the cmdlet takes it; nothing changes."""
    out: list[StepRun] = []
    for step in plan.steps:
        if not step.what_if or _needs_capture(step) or plan.needs_secret:
            out.append(
                StepRun(step.text(), "described", "runs as shown once approved (no -WhatIf for this step)")
            )
            continue
        try:
            rows = await port.run(step.key, {**_resolve(step, {}, None), "WhatIf": True})
        except BackendError as problem:
            out.append(StepRun(step.text(), "failed", str(problem)))
            continue
        said = (
            f"found {len(rows)} such item(s) to delete; nothing was deleted"
            if step.ews
            else "Exchange accepted it with -WhatIf"
        )
        out.append(StepRun(step.text(), "previewed", said))
    return FixRun(out)


async def apply_plan(
    plan: FixPlan,
    port: WritePort,
    audit: AuditLog,
    *,
    steps: Sequence[PlannedStep] | None = None,
    kind: str = "step",
) -> FixRun:
    """Run the plan's steps (or `steps`, e.g. its rollback) in order; stop at the first failure."""
    todo = list(plan.steps if steps is None else steps)
    secret = secrets.token_urlsafe(24) if plan.needs_secret else None
    captured: dict[str, Any] = {}
    out: list[StepRun] = []
    for index, step in enumerate(todo):
        await audit.append(f"{kind}.start", remediation=plan.remediation_id, step=step.text())
        try:
            rows = await port.run(step.key, _resolve(step, captured, secret))
        except (BackendError, KeyError) as problem:
            detail = str(problem) if isinstance(problem, BackendError) else "an earlier step gave no output"
            out.append(StepRun(step.text(), "failed", detail))
            await audit.append(
                f"{kind}.failed", remediation=plan.remediation_id, step=step.text(), detail=detail
            )
            out += [StepRun(later.text(), "not-run") for later in todo[index + 1 :]]
            break
        for name, prop in step.capture.items():
            value = next((row.get(prop) for row in rows if prop in row), None)
            if value is not None:
                captured[name] = value
        detail = _redacted(rows)
        out.append(StepRun(step.text(), "done", detail))
        await audit.append(f"{kind}.done", remediation=plan.remediation_id, step=step.text(), output=detail)
    del secret
    return FixRun(out)


class StepWriter:
    """One write port for a whole plan: host template steps (`template:<name>`) to the host writer, EWS
    operations (`ews:<operation>`) to the EWS writer, cmdlets to the Exchange writer. A plan that needs a
    writer nobody configured is refused at its first such step."""

    def __init__(
        self, exchange: WritePort | None, host: WritePort | None = None, ews: WritePort | None = None
    ) -> None:
        self._exchange, self._host, self._ews = exchange, host, ews

    async def run(self, key: str, params: Mapping[str, Any]) -> list[Any]:
        if key.startswith("template:"):
            port, where = self._host, "Windows hosts (WinRM)"
        elif key.startswith("ews:"):
            port, where = self._ews, "mailboxes over EWS"
        else:
            port, where = self._exchange, "Exchange PowerShell"
        if port is None:
            raise NotConfigured(f"{where} write access")
        rows: list[Any] = await port.run(key, params)
        return rows

    async def close(self) -> None:
        for port in (self._exchange, self._host, self._ews):
            if port is not None:
                await port.close()


VerifyOutcome = tuple[bool, list[CheckResult]]


def verification(plan: FixPlan, results: Sequence[CheckResult]) -> VerifyOutcome:
    """Whether every check the remediation names passed in `results`, and those checks' results."""
    named = [r for r in results if r.id in plan.verify_checks]
    seen = {r.id for r in named}
    fixed = seen == set(plan.verify_checks) and all(r.status == "ok" for r in named)
    return fixed, named


Verifier = Callable[[], Awaitable[Sequence[CheckResult]]]
