"""The conversation's state: typed while a turn works on it, plain JSON only where the host stores it.

`load` reads a stored document (migrating older versions) into a `TriageState`; `dump` writes one back. The
document (version 2):

    {
      "v": 2,
      "id": "5f0c2a9e41d7",           # this triage's id: in logs, progress card keys and escalations
      "phase": "new" | "asking" | "running" | "done" | "cancelled",
      "awaiting": {"node": "scope", "step": "ask"} | null,   # the question the next message answers
      "user": {"id": "...", "name": "..."},
      "said": {fact: value},           # what the user told us (symptom, scope, requester, target, sites...)
      "pasted": {fact: value},         # what the error-text reader found in pasted text
      "paste_excerpt": "...",          # the start of the paste, secrets redacted (for escalations)
      "command_output": [section, ...],  # pasted output of the checks' commands
                                       # (knowledge.reader.command_output), answering the checks first
      "skipped": [node id, ...],       # optional questions the user skipped
      "lookup": {"for": target, "result": CheckResult dict} | null,  # the topology check run for the sites
      "reading": {"topic", "pending", "looked_up"},  # plain words read, people still to pick
                                       # (dialogs.people), the pair already looked up (dialogs.lookup_first)
      "results": [CheckResult dict] | null,   # every check of the last run (null: not run yet)
      "conclusion": {"cause": id | null, "title": str, "confidence": float, "runbook_url": str} | null,
      "escalation": {"where": str | null, "tried": str} | null,
      "asked": {"key", "node", "prompt", "facts"} | null,  # the question card still open (dialogs.questions)
      "questions": 3,                  # how many question cards this triage sent (their card keys)
      "history": [snapshot, ...],      # for "back": the answer-bearing fields before each accepted answer
      "last_error": "a1b2c3d4" | null, # correlation id of the last unexpected error
      "fix": {...},                    # only once "Fix it" was pressed: the fix's record (dialogs.fix_card)
    }

Version 1 (before 2026-12) kept the lookup as the check result's dict with its target under "for"; `load`
migrates it. Only the transitions below change `phase`: `asking`, `running`, `concluded`, `cancelled`,
`restarted`, `back` (and `escalated`, which records where an escalation went).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from checks.api import CheckResult
from dialogs.api import State
from knowledge.jsonvalue import JsonValue

__all__ = [
    "MAX_HISTORY",
    "VERSION",
    "Asked",
    "Awaiting",
    "Conclusion",
    "Escalation",
    "Lookup",
    "Phase",
    "Snapshot",
    "StateError",
    "TriageState",
    "User",
    "asking",
    "back",
    "cancelled",
    "concluded",
    "dump",
    "escalated",
    "load",
    "new_state",
    "push_snapshot",
    "restarted",
    "running",
]

VERSION = 2
MAX_HISTORY = 30

Phase = Literal["new", "asking", "running", "done", "cancelled"]
_PHASES: tuple[Phase, ...] = ("new", "asking", "running", "done", "cancelled")


class StateError(ValueError):
    """A stored state this version cannot read."""


@dataclass
class User:
    id: str = ""
    name: str = ""


@dataclass
class Awaiting:
    """The question the next message answers: a tree node and the step within it (ask, confirm), or the
    escalation's "what was tried" (node None, step "tried")."""

    node: str | None
    step: str = "ask"


@dataclass
class Lookup:
    """The topology check run to resolve the AD sites, and the target it ran for."""

    target: str | None
    result: CheckResult


@dataclass
class Conclusion:
    cause: str | None
    title: str
    confidence: float
    runbook_url: str


@dataclass
class Escalation:
    where: str | None
    tried: str


@dataclass
class Asked:
    """A question card still open: its card key (to update it in place once answered), the node (or the
    people pick) it asks, its question, and the facts whose values answer it."""

    key: str
    node: str
    prompt: str
    facts: list[str] = field(default_factory=list)


@dataclass
class Snapshot:
    """What an accepted answer can change; "back" restores exactly this."""

    awaiting: Awaiting | None
    said: dict[str, Any]
    pasted: dict[str, Any]
    paste_excerpt: str
    command_output: list[dict[str, Any]]
    skipped: list[str]
    lookup: Lookup | None
    reading: dict[str, Any] = field(default_factory=dict)


@dataclass
class TriageState:
    id: str
    user: User = field(default_factory=User)
    awaiting: Awaiting | None = None
    said: dict[str, Any] = field(default_factory=dict)
    pasted: dict[str, Any] = field(default_factory=dict)
    paste_excerpt: str = ""
    command_output: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lookup: Lookup | None = None
    reading: dict[str, Any] = field(default_factory=dict)
    results: list[CheckResult] | None = None
    conclusion: Conclusion | None = None
    escalation: Escalation | None = None
    asked: Asked | None = None
    questions: int = 0
    history: list[Snapshot] = field(default_factory=list)
    last_error: str | None = None
    # The fix asked for from the result card, as the host last reported it (plain JSON: its id, status,
    # outcome, the re-run checks); the result card shows it.
    fix: dict[str, Any] | None = None
    _phase: Phase = "new"

    @property
    def phase(self) -> Phase:
        """Where the triage is; changed only by the transitions in this module."""
        return self._phase


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def new_state(user_id: str = "", user_name: str = "") -> TriageState:
    return TriageState(id=new_id(), user=User(user_id, user_name))


# The transitions: the only functions that change `phase`.


def asking(state: TriageState) -> None:
    """A question is being asked."""
    state._phase = "asking"


def running(state: TriageState, *, fresh: bool) -> None:
    """The checks start (`fresh`: a new run, whose results replace every earlier one)."""
    state._phase = "running"
    if fresh:
        state.results = None
    state.conclusion = None
    state.awaiting = None  # an escalation stays: escalating again updates its one channel post


def concluded(state: TriageState, conclusion: Conclusion) -> None:
    """The result is in."""
    state.conclusion = conclusion
    state._phase = "done"
    state.awaiting = None


def escalated(state: TriageState, where: str | None, tried: str) -> None:
    """The escalation was posted (`where`; None when there is no channel)."""
    state.escalation = Escalation(where, tried)
    state.awaiting = None


def cancelled(state: TriageState) -> TriageState:
    """A fresh state for the same user, cancelled."""
    fresh = new_state(state.user.id, state.user.name)
    fresh._phase = "cancelled"
    return fresh


def restarted(state: TriageState) -> TriageState:
    """A fresh state for the same user."""
    return new_state(state.user.id, state.user.name)


def back(state: TriageState) -> bool:
    """Restore the state as it was before the last accepted answer; False when there is none."""
    if not state.history:
        return False
    snapshot = state.history.pop()
    state.awaiting = copy.deepcopy(snapshot.awaiting)
    state.said = copy.deepcopy(snapshot.said)
    state.pasted = copy.deepcopy(snapshot.pasted)
    state.paste_excerpt = snapshot.paste_excerpt
    state.command_output = copy.deepcopy(snapshot.command_output)
    state.skipped = list(snapshot.skipped)
    state.lookup = copy.deepcopy(snapshot.lookup)
    state.reading = copy.deepcopy(snapshot.reading)
    state.results = None
    state.conclusion = None
    state._phase = "asking"  # an escalation stays: escalating again updates its one channel post
    return True


def push_snapshot(state: TriageState) -> None:
    snapshot = Snapshot(
        awaiting=copy.deepcopy(state.awaiting),
        said=copy.deepcopy(state.said),
        pasted=copy.deepcopy(state.pasted),
        paste_excerpt=state.paste_excerpt,
        command_output=copy.deepcopy(state.command_output),
        skipped=list(state.skipped),
        lookup=copy.deepcopy(state.lookup),
        reading=copy.deepcopy(state.reading),
    )
    state.history = [*state.history, snapshot][-MAX_HISTORY:]


# The store boundary.


def _awaiting_json(awaiting: Awaiting | None) -> JsonValue:
    return None if awaiting is None else {"node": awaiting.node, "step": awaiting.step}


def _lookup_json(lookup: Lookup | None) -> JsonValue:
    return None if lookup is None else {"for": lookup.target, "result": _plain(lookup.result.as_dict())}


def _plain(value: Any) -> JsonValue:
    """`value` as JSON (a round trip proves it is plain data and copies it)."""
    plain: JsonValue = json.loads(json.dumps(value))
    return plain


def dump(state: TriageState) -> State:
    """The state as the plain-JSON document the host stores."""
    history: list[JsonValue] = [
        {
            "awaiting": _awaiting_json(s.awaiting),
            "said": _plain(s.said),
            "pasted": _plain(s.pasted),
            "paste_excerpt": s.paste_excerpt,
            "command_output": _plain(s.command_output),
            "skipped": _plain(s.skipped),
            "lookup": _lookup_json(s.lookup),
            "reading": _plain(s.reading),
        }
        for s in state.history
    ]
    conclusion = state.conclusion
    escalation = state.escalation
    return {
        "v": VERSION,
        "id": state.id,
        "phase": state.phase,
        "awaiting": _awaiting_json(state.awaiting),
        "user": {"id": state.user.id, "name": state.user.name},
        "said": _plain(state.said),
        "pasted": _plain(state.pasted),
        "paste_excerpt": state.paste_excerpt,
        "command_output": _plain(state.command_output),
        "skipped": _plain(state.skipped),
        "lookup": _lookup_json(state.lookup),
        "reading": _plain(state.reading),
        "results": None if state.results is None else [_plain(r.as_dict()) for r in state.results],
        "conclusion": None
        if conclusion is None
        else {
            "cause": conclusion.cause,
            "title": conclusion.title,
            "confidence": conclusion.confidence,
            "runbook_url": conclusion.runbook_url,
        },
        "escalation": None if escalation is None else {"where": escalation.where, "tried": escalation.tried},
        "asked": None if state.asked is None else _plain(asdict(state.asked)),
        "questions": state.questions,
        "history": history,
        "last_error": state.last_error,
        # Only once a fix was asked for (a document without one reads back the same).
        **({} if state.fix is None else {"fix": _plain(state.fix)}),
    }


def _v1_lookup(lookup: Any) -> Any:
    if not isinstance(lookup, dict):
        return None
    result = {k: v for k, v in lookup.items() if k != "for"}
    return {"for": lookup.get("for"), "result": result}


def _from_v1(document: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept the lookup as the check result itself, its target under "for"."""
    document["lookup"] = _v1_lookup(document.get("lookup"))
    for snapshot in document.get("history") or []:
        if isinstance(snapshot, dict):
            snapshot["lookup"] = _v1_lookup(snapshot.get("lookup"))
    document["v"] = 2
    return document


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_v1}


def _awaiting(value: Any) -> Awaiting | None:
    if not isinstance(value, dict):
        return None
    node = value.get("node")
    return Awaiting(str(node) if node is not None else None, str(value.get("step") or "ask"))


def _lookup(value: Any) -> Lookup | None:
    if not isinstance(value, dict) or not isinstance(value.get("result"), dict):
        return None
    target = value.get("for")
    return Lookup(str(target) if target is not None else None, CheckResult.from_dict(value["result"]))


def _asked(value: Any) -> Asked | None:
    if not isinstance(value, dict) or not value.get("key"):
        return None
    facts = [str(f) for f in _list(value.get("facts"))]
    return Asked(str(value["key"]), str(value.get("node") or ""), str(value.get("prompt") or ""), facts)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _read(document: dict[str, Any]) -> TriageState:
    phase = document.get("phase")
    user = _dict(document.get("user"))
    conclusion = document.get("conclusion")
    escalation = document.get("escalation")
    results = document.get("results")
    state = TriageState(
        id=str(document.get("id") or new_id()),
        user=User(str(user.get("id") or ""), str(user.get("name") or "")),
        awaiting=_awaiting(document.get("awaiting")),
        said=_dict(document.get("said")),
        pasted=_dict(document.get("pasted")),
        paste_excerpt=str(document.get("paste_excerpt") or ""),
        command_output=[s for s in _list(document.get("command_output")) if isinstance(s, dict)],
        skipped=[str(s) for s in _list(document.get("skipped"))],
        lookup=_lookup(document.get("lookup")),
        reading=_dict(document.get("reading")),
        results=None
        if results is None
        else [CheckResult.from_dict(r) for r in _list(results) if isinstance(r, dict)],
        conclusion=None
        if not isinstance(conclusion, dict)
        else Conclusion(
            conclusion.get("cause"),
            str(conclusion.get("title") or ""),
            float(conclusion.get("confidence") or 0.0),
            str(conclusion.get("runbook_url") or ""),
        ),
        escalation=None
        if not isinstance(escalation, dict)
        else Escalation(escalation.get("where"), str(escalation.get("tried") or "")),
        asked=_asked(document.get("asked")),
        questions=int(document.get("questions") or 0) if isinstance(document.get("questions"), int) else 0,
        history=[
            Snapshot(
                awaiting=_awaiting(s.get("awaiting")),
                said=_dict(s.get("said")),
                pasted=_dict(s.get("pasted")),
                paste_excerpt=str(s.get("paste_excerpt") or ""),
                command_output=[c for c in _list(s.get("command_output")) if isinstance(c, dict)],
                skipped=[str(n) for n in _list(s.get("skipped"))],
                lookup=_lookup(s.get("lookup")),
                reading=_dict(s.get("reading")),
            )
            for s in _list(document.get("history"))
            if isinstance(s, dict)
        ],
        last_error=str(document["last_error"]) if document.get("last_error") else None,
        fix=dict(document["fix"]) if isinstance(document.get("fix"), dict) else None,
    )
    state._phase = cast(Phase, phase) if phase in _PHASES else "new"
    return state


def load(stored: State | None) -> TriageState:
    """A stored document (any version this code can migrate) as a typed state; a fresh one for none."""
    if not stored:
        return new_state()
    # A JSON round trip both copies and proves the document is plain data.
    document: dict[str, Any] = json.loads(json.dumps(stored))
    version = document.get("v")
    while isinstance(version, int) and version in _MIGRATIONS:
        document = _MIGRATIONS[version](document)
        version = document.get("v")
    if version != VERSION:
        raise StateError(f"state version {version!r} is not one this conversation reads ({VERSION})")
    return _read(document)
