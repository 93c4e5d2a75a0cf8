"""Every bundled scenario through the real clients against the lab: the expected cause comes first.

The scenarios and their expected causes come from `triage lab list --json`. For a broken scenario the
checks' evidence must name the server (or mailbox) and the value that give the cause away; for the
healthy one no check fails and no cause is confident.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from knowledge.assessment import assess
from knowledge.loader import KnowledgeBase
from triage.backends import run_checks_once
from triage.cli import main

pytestmark = pytest.mark.lab

CONFIDENT = 0.5


def bundled() -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["lab", "list", "--json"]) == 0
    scenarios: list[dict[str, Any]] = json.loads(out.getvalue())
    return scenarios


SCENARIOS = bundled()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_the_checks_find_each_scenarios_cause(kb: KnowledgeBase, scenario: dict[str, Any]) -> None:
    results, facts = await run_checks_once("lab", facts={}, kb=kb, scenario=scenario["name"])
    pair = scenario["failing_pair"] or scenario["working_pair"]
    assert (facts["requester"], facts["target"]) == (pair["requester"], pair["target"])
    assert [r.id for r in results if r.status == "error"] == [], [
        r.summary for r in results if r.status == "error"
    ]
    inference = assess(kb, said=facts, results=results)
    expected = scenario["expected_causes"]
    if not expected:
        assert [r.id for r in results if r.status == "fail"] == []
        assert [c.id for c in inference.causes if c.confidence >= CONFIDENT] == []
        return
    best = inference.causes[0]
    assert best.id == expected[0], [(c.id, c.confidence) for c in inference.causes[:3]]
    assert best.confidence >= CONFIDENT
    telling = [r for r in results if r.id in kb.causes[best.id].checks and r.status in ("fail", "warn")]
    assert telling, f"no check of {best.id} reported a problem"
    assert any(e.server and e.value and e.value != "(not set)" for r in telling for e in r.evidence)
