"""A remediation's writes as a plan: each step a cmdlet with validated parameter values, never script text.

Pure: the plan is computed from the remediation's `apply:` data and the facts a triage established. A value
that fails its parameter's validator leaves the parameter missing and the plan not ready, so a write is
never built from a doubtful value. The plan's fingerprint binds an approval to exactly these steps.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from knowledge.conditions import FactsView
from knowledge.model import ApplyStep, Remediation, RemediationParam, StepValue
from knowledge.remediation import check_param_value
from knowledge.validators import ValueProblem

__all__ = ["CAPTURED", "SECRET", "FixPlan", "PlannedStep", "plan_fix"]

# How a step's parameter names a value only known while the fix runs.
CAPTURED = "$captured"  # {"$captured": "Name"}: a property an earlier step's output gave
SECRET = "$secret"  # noqa: S105  (a marker key: {"$secret": "Name"} stands for the run's one-time secret)

_PLACEHOLDER = re.compile(r"^\{([A-Za-z0-9]+)\}$")
_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9]+)\}")
PlanValue = str | bool | int | None | list[str] | dict[str, Any]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("'", "''")
    return f"'{text}'"


@dataclass(frozen=True)
class PlannedStep:
    cmdlet: str
    params: dict[str, PlanValue]
    capture: dict[str, str] = field(default_factory=dict)
    what_if: bool = True
    template: str = ""  # a write host template run on params["Server"] instead of a cmdlet

    @property
    def key(self) -> str:
        """What the write allow-list knows the step by: the cmdlet, or `template:<name>`."""
        return f"template:{self.template}" if self.template else self.cmdlet

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "cmdlet": self.cmdlet,
            "params": self.params,
            "capture": self.capture,
            "what_if": self.what_if,
        }
        return data | ({"template": self.template} if self.template else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedStep:
        """The step `as_dict` gave (a stored, approved plan); its `text` is ignored and computed again."""
        return cls(
            str(data.get("cmdlet") or ""),
            dict(data.get("params") or {}),
            {str(k): str(v) for k, v in (data.get("capture") or {}).items()},
            bool(data.get("what_if", True)),
            str(data.get("template") or ""),
        )

    def text(self) -> str:
        """The step as an admin would read it (for cards and the CLI, never for running)."""
        if self.template:
            args = ", ".join(f"{k.lower()}={_shown(v)}" for k, v in self.params.items() if k != "Server")
            return f"on {self.params.get('Server')}: host template {self.template} ({args})"
        parts = [self.cmdlet]
        for name, value in self.params.items():
            if isinstance(value, bool):  # -Name:$true binds a switch and a Boolean parameter alike
                parts.append(f"-{name}:{_shown(value)}")
            elif isinstance(value, dict) and (CAPTURED in value or SECRET in value):
                ref = value.get(CAPTURED) or "one-time password"
                parts.append(f"-{name} <{ref}>")
            elif isinstance(value, dict):
                entries = "; ".join(f"{k}={_shown(v)}" for k, v in value.items())
                parts.append(f"-{name} @{{{entries}}}")
            elif isinstance(value, list):
                parts.append(f"-{name} " + ",".join(_shown(v) for v in value))
            elif value is None:
                parts.append(f"-{name} $null")
            else:
                parts.append(f"-{name} {_shown(value)}")
        return " ".join(parts)


@dataclass(frozen=True)
class FixPlan:
    remediation_id: str
    summary: str
    risk: str
    preview: str
    steps: list[PlannedStep]
    rollback: list[PlannedStep]
    verify_checks: list[str]
    missing: list[str]
    needs_secret: bool = False
    side: str = "onprem"

    @property
    def ready(self) -> bool:
        return not self.missing and bool(self.steps)

    def fingerprint(self) -> str:
        """SHA-256 over the steps and rollback: an approval names it, a changed parameter changes it."""
        body = json.dumps(
            {"id": self.remediation_id, "steps": [s.as_dict() for s in self.steps],
             "rollback": [s.as_dict() for s in self.rollback]},
            sort_keys=True, separators=(",", ":"),
        )  # fmt: skip
        return hashlib.sha256(body.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "remediation": self.remediation_id,
            "summary": self.summary,
            "risk": self.risk,
            "preview": self.preview,
            "steps": [s.as_dict() | {"text": s.text()} for s in self.steps],
            "rollback": [s.as_dict() | {"text": s.text()} for s in self.rollback],
            "verify_checks": self.verify_checks,
            "missing": self.missing,
            "ready": self.ready,
            "side": self.side,
            "fingerprint": self.fingerprint(),
            "needs_secret": self.needs_secret,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixPlan:
        """The plan `as_dict` gave: an approved plan is applied (and rolled back) exactly as it was stored."""
        return cls(
            remediation_id=str(data["remediation"]),
            summary=str(data.get("summary") or ""),
            risk=str(data.get("risk") or ""),
            preview=str(data.get("preview") or ""),
            steps=[PlannedStep.from_dict(s) for s in data.get("steps") or []],
            rollback=[PlannedStep.from_dict(s) for s in data.get("rollback") or []],
            verify_checks=[str(c) for c in data.get("verify_checks") or []],
            missing=[str(m) for m in data.get("missing") or []],
            needs_secret=bool(data.get("needs_secret")),
            side=str(data.get("side") or "onprem"),
        )


def _checked(param: RemediationParam, item: object) -> str | None:
    try:
        return param.format.replace("{value}", check_param_value(param.type, str(item)))
    except ValueProblem:
        return None


Row = dict[str, str | None]


def _rows(params: list[RemediationParam], facts: FactsView) -> list[Row]:
    """One row per record of the records fact these (`field`) parameters name: each parameter's checked value
    from that record, None where the record lacks it or it does not pass."""
    raw = facts.get(params[0].fact)
    records = [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
    return [
        {p.name: None if r.get(p.field or "") is None else _checked(p, r.get(p.field or "")) for p in params}
        for r in records
    ]


def _values(param: RemediationParam, facts: FactsView) -> list[str]:
    if param.field is not None:
        return [v for row in _rows([param], facts) if (v := row[param.name]) is not None]
    raw = facts.get(param.fact)
    items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    out = []
    for item in items:
        if isinstance(item, dict | list):
            continue
        try:
            checked = check_param_value(param.type, str(item))
        except ValueProblem:
            continue
        out.append(param.format.replace("{value}", checked))
    return out if param.type in ("servers", "domains") else out[:1]


def _expand(
    step: ApplyStep,
    values: dict[str, list[str]],
    secret: str | None,
    captured: set[str],
    records: dict[str, list[RemediationParam]] | None = None,
    facts: FactsView | None = None,
) -> list[PlannedStep]:
    repeat = step.each or []
    rounds: list[dict[str, str]] = [{}]
    for name in repeat:
        rounds = [r | {name: v} for r in rounds for v in values.get(name, [])]
    named = set(step.placeholders())
    for fields in (records or {}).values():  # one round per record: its values together, never crossed
        used = [p for p in fields if p.name in named]
        if used and facts is not None:
            rows = [row for row in _rows(used, facts) if all(v is not None for v in row.values())]
            rounds = [r | {k: v for k, v in row.items() if v is not None} for r in rounds for row in rows]
    planned = []
    for chosen in rounds:
        params: dict[str, PlanValue] = {}
        for key, value in step.params.items():
            params[key] = _fill(value, chosen, values, secret, captured)
        what_if = step.what_if and not step.template
        planned.append(
            PlannedStep(step.cmdlet or "", params, dict(step.capture), what_if, step.template or "")
        )
    return planned


def _fill(
    value: StepValue,
    chosen: dict[str, str],
    values: dict[str, list[str]],
    secret: str | None,
    captured: set[str],
) -> PlanValue:
    if isinstance(value, dict):  # a hashtable such as @{Add=...}: each entry filled the same way
        return {key: _fill(item, chosen, values, secret, captured) for key, item in value.items()}
    match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    name = match.group(1)
    if name == secret:
        return {SECRET: name}
    if name in captured:
        return {CAPTURED: name}
    if name in chosen:
        return chosen[name]
    found = values.get(name) or []
    if len(found) > 1:  # a list used whole: a multi-valued parameter takes the array
        return list(found)
    return found[0] if found else f"<{name}>"


def plan_fix(remediation: Remediation, facts: FactsView) -> FixPlan | None:
    """The plan for `remediation` on these facts, or None when it cannot be applied by the tool."""
    spec = remediation.apply
    if spec is None:
        return None
    values = {p.name: _values(p, facts) for p in remediation.params}
    records: dict[str, list[RemediationParam]] = {}
    for param in remediation.params:
        if param.field is not None:
            records.setdefault(param.fact, []).append(param)
    for name, fact in spec.current.items():
        raw = facts.get(fact)
        values[name] = [str(raw)] if raw not in (None, "", []) and not isinstance(raw, dict | list) else []
    used = {n for step in spec.steps for n in step.placeholders()}
    missing = sorted(n for n in used if n in {p.name for p in remediation.params} and not values.get(n))
    secret = spec.one_time_secret

    def build(steps: list[ApplyStep]) -> list[PlannedStep]:
        captured: set[str] = set()
        out: list[PlannedStep] = []
        for step in steps:
            out += _expand(step, values, secret, captured, records, facts)
            captured |= set(step.capture)
        return out

    # A rollback needs every value it names: the current ones, and each record's own (a server whose
    # current URL is unknown cannot be rolled back, so none is).
    rollback_names = {n for s in spec.rollback for n in s.placeholders()}
    rollback_ready = all(values.get(n) for n in rollback_names if n in spec.current) and all(
        all(
            row[p.name] is not None
            for row in _rows(params, facts)
            for p in params
            if p.name in rollback_names
        )
        for params in records.values()
    )

    def word(match: re.Match[str]) -> str:
        found = values.get(match.group(1)) or []
        return ", ".join(found) if found else "(not known)"

    return FixPlan(
        remediation_id=remediation.id,
        summary=remediation.summary,
        risk=remediation.risk,
        preview=_ANY_PLACEHOLDER.sub(word, spec.preview),
        steps=build(spec.steps),
        rollback=build(spec.rollback) if rollback_ready else [],
        verify_checks=list(spec.verify_checks),
        missing=missing,
        needs_secret=secret is not None,
        side=_side(spec.side, facts.get(spec.side_fact) if spec.side_fact else None),
    )


def _side(default: str, named: object) -> str:
    return str(named) if named in ("onprem", "online") else default
