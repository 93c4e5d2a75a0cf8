"""The conversation's state: one plain-JSON dict, versioned, copied on the way in and never shared.

Shape (version 1):

    {
      "v": 1,
      "id": "5f0c2a9e41d7",           # this triage's id: in logs, progress card keys and escalations
      "phase": "new" | "asking" | "running" | "done" | "cancelled",
      "awaiting": {"node": "scope", "step": "ask"} | null,   # the question the next message answers
      "user": {"id": "...", "name": "..."},
      "said": {fact: value},           # what the user told us (symptom, scope, requester, target, sites...)
      "pasted": {fact: value},         # what the error-text reader found in pasted text
      "paste_excerpt": "...",          # the start of the paste, secrets redacted (for escalations)
      "command_output": [section, ...],  # pasted output of the checks' commands (knowledge.reader.command_output),
                                       # answering the checks before the backends do
      "skipped": [node id, ...],       # optional questions the user skipped
      "lookup": CheckResult dict | null,   # the topology check run to resolve the AD sites
      "results": [CheckResult dict] | null,   # every check of the last run (null: not run yet)
      "conclusion": {"cause": id | null, "title": str, "confidence": float, "runbook_url": str} | null,
      "escalation": {"where": str | null, "tried": str} | null,
      "history": [snapshot, ...],      # for "back": the answer-bearing keys before each accepted answer
      "last_error": "a1b2c3d4" | null, # correlation id of the last unexpected error
    }
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from dialogs.api import State

__all__ = [
    "SNAPSHOT_KEYS",
    "VERSION",
    "StateError",
    "new_state",
    "pop_snapshot",
    "push_snapshot",
    "upgrade",
]

VERSION = 1
MAX_HISTORY = 30
# What an answer can change; "back" restores exactly these.
SNAPSHOT_KEYS = ("awaiting", "said", "pasted", "paste_excerpt", "command_output", "skipped", "lookup")


class StateError(ValueError):
    """A stored state this version cannot read."""


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def new_state(user_id: str = "", user_name: str = "") -> State:
    return {
        "v": VERSION,
        "id": new_id(),
        "phase": "new",
        "awaiting": None,
        "user": {"id": user_id, "name": user_name},
        "said": {},
        "pasted": {},
        "paste_excerpt": "",
        "command_output": [],
        "skipped": [],
        "lookup": None,
        "results": None,
        "conclusion": None,
        "escalation": None,
        "history": [],
        "last_error": None,
    }


def upgrade(stored: State | None) -> State:
    """A private, current-version copy of a stored state (a fresh state for none)."""
    if not stored:
        return new_state()
    # A JSON round trip both copies and proves the state is plain data.
    state: State = json.loads(json.dumps(stored))
    version = state.get("v")
    if version != VERSION:
        raise StateError(f"state version {version!r} is not one this conversation reads ({VERSION})")
    fresh = new_state()
    for key, default in fresh.items():
        state.setdefault(key, default)
    return state


def push_snapshot(state: State) -> None:
    snapshot = {key: copy.deepcopy(state.get(key)) for key in SNAPSHOT_KEYS}
    state["history"] = [*state["history"], snapshot][-MAX_HISTORY:]


def pop_snapshot(state: State) -> bool:
    """Restore the state as it was before the last accepted answer; False when there is none."""
    if not state["history"]:
        return False
    snapshot: dict[str, Any] = state["history"][-1]
    state["history"] = state["history"][:-1]
    for key in SNAPSHOT_KEYS:
        state[key] = copy.deepcopy(snapshot.get(key))
    state["results"] = None
    state["conclusion"] = None
    state["escalation"] = None
    state["phase"] = "asking"
    return True
