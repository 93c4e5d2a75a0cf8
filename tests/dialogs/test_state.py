"""The state: typed in a turn, plain JSON in the store (versioned, migrated), and enough on its own to carry on
after a restart; only the transitions change the phase."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from checks.api import CheckResult
from dialogs.state import (
    VERSION,
    Awaiting,
    Conclusion,
    Lookup,
    StateError,
    asking,
    back,
    cancelled,
    concluded,
    dump,
    load,
    new_state,
    push_snapshot,
    running,
)
from tests.dialogs.harness import Chat, card_text
from tests.world import SEED_000, scenario_runner

ROOT = Path(__file__).resolve().parents[2]
STORED = Path(__file__).resolve().parent / "stored_states"


def stored(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((STORED / f"{name}.json").read_text("utf-8"))
    return document


def test_a_new_state_is_stored_as_versioned_plain_json() -> None:
    document = dump(new_state("u", "Ada"))
    assert document["v"] == VERSION == 2
    assert json.loads(json.dumps(document)) == document
    assert document["phase"] == "new" and document["user"] == {"id": "u", "name": "Ada"}
    assert load(document) == load(json.loads(json.dumps(document)))


def test_loading_copies_the_stored_document() -> None:
    document: dict[str, Any] = {**dump(new_state()), "said": {"symptom": "x"}}
    state = load(document)
    state.said["scope"] = "all"
    assert document["said"] == {"symptom": "x"}


@pytest.mark.parametrize("name", sorted(p.stem for p in STORED.glob("v1-*.json")))
def test_documents_version_1_stored_load_and_round_trip(name: str) -> None:
    document = stored(name)
    assert document["v"] == 1
    state = load(document)
    assert state.id == document["id"] and state.phase == document["phase"]
    assert state.said == document["said"] and state.pasted == document["pasted"]
    assert state.command_output == document["command_output"]
    assert len(state.history) == len(document["history"])
    if document["lookup"]:
        assert state.lookup is not None
        assert state.lookup.target == document["lookup"]["for"]
        assert state.lookup.result.facts == document["lookup"]["facts"]
    if document["results"] is not None:
        assert [r.as_dict() for r in state.results or []] == document["results"]
    if document["conclusion"]:
        assert state.conclusion is not None and state.conclusion.title == document["conclusion"]["title"]
    again = dump(state)
    assert again["v"] == VERSION
    assert load(again) == state
    # "reading", "asked" and "questions" are newer than version 1 (empty when loaded from it).
    assert again["asked"] is None and again["questions"] == 0
    newer = ("v", "lookup", "history", "reading", "asked", "questions")
    assert {k: v for k, v in again.items() if k not in newer} == {
        k: v for k, v in document.items() if k not in ("v", "lookup", "history")
    }


@pytest.mark.parametrize(
    "name", ["v1-done", "v1-running-checkpoint", "v1-confirming-sites", "v1-pasted-back"]
)
async def test_a_conversation_stored_by_version_1_carries_on(name: str) -> None:
    chat = Chat(runner=scenario_runner(SEED_000), state=stored(name))
    await chat.say("status")
    assert chat.state["v"] == VERSION
    shown = card_text(chat.last_card())
    assert chat.state["id"] in shown
    if name == "v1-done":
        await chat.say("escalate")
        await chat.say("Restarted IIS on EX02.")
        assert chat.state["escalation"]["where"] == "Exchange › Escalations"
    if name == "v1-confirming-sites":
        await chat.say("yes")
        assert chat.state["said"]["target.site"] == "Branch"


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(StateError):
        load({"v": 99, "id": "x"})


def test_back_restores_exactly_what_an_answer_changed() -> None:
    state = new_state()
    push_snapshot(state)
    state.said["symptom"] = "freebusy-cross-site"
    state.skipped.append("sites")
    state.lookup = Lookup("bob@contoso.com", CheckResult("topology", "ok", "found"))
    state.results = [CheckResult("topology", "ok", "found")]
    assert back(state)
    assert state.said == {} and state.skipped == [] and state.results is None and state.lookup is None
    assert state.phase == "asking"
    assert not back(state)


def test_the_transitions_move_the_phase() -> None:
    state = new_state("u", "Ada")
    phases = [state.phase]
    asking(state)
    phases.append(state.phase)
    state.awaiting = Awaiting("scope")
    running(state, fresh=True)
    phases.append(state.phase)
    assert phases == ["new", "asking", "running"]
    assert state.awaiting is None and state.results is None
    concluded(state, Conclusion("x", "A cause", 0.9, ""))
    assert state.phase == "done" and state.conclusion is not None
    gone = cancelled(state)
    assert gone.phase == "cancelled" and gone.user == state.user and gone.id != state.id


def test_only_the_transitions_set_the_phase() -> None:
    """Nothing outside dialogs/state.py assigns the phase (a property without a setter; this keeps it so)."""
    found = []
    for path in sorted((ROOT / "dialogs").rglob("*.py")):
        if path.name == "state.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in ("phase", "_phase"):
                    found.append(f"{path.name}:{target.lineno}")
                if isinstance(target, ast.Subscript) and ast.unparse(target.slice) == "'phase'":
                    found.append(f"{path.name}:{target.lineno}")
    assert found == []


async def test_each_turn_continues_from_the_stored_json_alone() -> None:
    """A new conversation object (a restarted process) given the stored JSON carries on where the last left off."""
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    stored_json = json.dumps(chat.state)

    restarted = Chat(runner=scenario_runner(SEED_000), state=json.loads(stored_json))
    await restarted.submit(action="answer", node="scope", value="all")
    assert restarted.awaiting() == "pair"
    await restarted.say("alice@contoso.com can't see bjorn@contoso.com")
    stored_json = json.dumps(restarted.state)

    again = Chat(runner=scenario_runner(SEED_000), state=json.loads(stored_json))
    await again.say("yes")
    await again.say("skip")
    assert "Likely cause: The federation certificate is missing" in card_text(again.last_card())
