"""One assessment: every bundled scenario through `triage diagnose` and through the chat ranks the same causes
with the same confidences (both render the one `knowledge.assessment.Assessment`)."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from dialogs.findings import find
from dialogs.state import load
from knowledge.loader import KnowledgeBase, load_knowledge
from lab.runtime import RunningLab
from lab.scenario.load import bundled_scenario_names, load_scenario
from tests.dialogs.harness import Chat, actions_of, card_text
from tests.labs import running_lab
from triage.backends import runner_for_lab
from triage.cli import main

KB = load_knowledge()
NAMES = bundled_scenario_names()


def _symptom(kb: KnowledgeBase, expected: list[str]) -> str:
    """The symptom a user of this scenario reports: its expected cause's first (any for a healthy one)."""
    return kb.causes[expected[0]].symptoms[0] if expected else next(iter(kb.symptoms))


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[RunningLab]:
    with running_lab(request.param) as running:
        yield running


async def _chat_to_the_result(chat: Chat, symptom: str, requester: str, target: str) -> None:
    await chat.say("hi")
    await chat.press(KB.symptoms[symptom].title)
    for _ in range(10):
        if chat.state["phase"] == "done":
            return
        node = chat.awaiting()
        last = chat.last_card()
        buttons = {a.get("title") for a in actions_of(last)}
        inputs = {e["id"] for e in last.get("body", []) if e.get("type") == "Input.Text"}
        pair = {k: v for k, v in (("requester", requester), ("target", target)) if k in inputs}
        if "Yes, that's right" in buttons:
            await chat.press("Yes, that's right")
        elif pair:
            await chat.press("Next", **pair)
        elif node == "scope":
            await chat.say("everyone")
        else:
            await chat.press("Skip")
    raise AssertionError(f"the chat did not reach a result: {chat.awaiting()} {card_text(chat.last_card())}")


@pytest.mark.parametrize("lab", NAMES, indirect=True, ids=NAMES)
async def test_the_cli_and_the_chat_rank_every_scenario_alike(
    lab: RunningLab, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = load_scenario(lab.ctx.scenario.name)
    pair = scenario.failing_pair or scenario.working_pair
    assert pair is not None
    symptom = _symptom(KB, scenario.expected_causes)

    chat = Chat(runner=runner_for_lab(lab, kb=KB))  # type: ignore[arg-type]
    await _chat_to_the_result(chat, symptom, pair.requester, pair.target)
    said: dict[str, Any] = chat.state["said"]
    in_chat = find(KB, load(chat.state)).assessment
    chat_ranked = [(c.id, c.confidence) for c in in_chat.causes]

    # The symptom as the chat ended with it: the lookup corrects a pressed symptom the pair contradicts.
    args = ["diagnose", "--scenario", scenario.name, "--symptom", said.get("symptom", symptom), "--json"]
    for name in ("scope", "requester", "target"):
        args += [f"--{name}", said[name]] if said.get(name) else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert await asyncio.to_thread(main, args) == 0
    out = json.loads(capsys.readouterr().out)
    cli_ranked = [(c["id"], c["confidence"]) for c in out["causes"]]

    assert cli_ranked == chat_ranked
    # The command line runs every check, the chat those of the symptom: it can rule out more, never less.
    assert {r.id for r in in_chat.ruled_out} <= {r["id"] for r in out["ruled_out"]}
    if in_chat.confident and in_chat.best is not None:
        assert f"Likely cause: {in_chat.best.title}" in card_text(chat.last_card())
    if scenario.expected_causes:
        assert cli_ranked[0][0] == scenario.expected_causes[0]
