"""Every bundled lab scenario's likely cause, judged from the checks run on it, gives a helpdesk agent a "What
to do now" with its people and facts filled in: no placeholder left, no `otherwise` words where the checks
found the fact."""

from __future__ import annotations

import asyncio

import pytest

from knowledge.assessment import assess
from knowledge.helpdesk import advise
from knowledge.loader import load_knowledge
from lab.scenario.load import bundled_scenario_names, load_scenario
from triage.backends import run_checks_once

pytestmark = pytest.mark.lab

KB = load_knowledge()
BROKEN = [name for name in bundled_scenario_names() if load_scenario(name).expected_causes]


@pytest.mark.parametrize("name", BROKEN)
def test_the_likely_cause_of_each_scenario_says_what_to_do_with_its_facts(name: str) -> None:
    expected = load_scenario(name).expected_causes
    results, given = asyncio.run(run_checks_once("lab", facts={}, kb=KB, scenario=name))
    symptom = KB.causes[expected[0]].symptoms[0]
    said = {"requester": given["requester"], "target": given["target"], "symptom": symptom}
    assessment = assess(KB, said=said, results=results)
    assert assessment.best is not None and assessment.best.id in expected, name
    advice = advise(KB, assessment)
    assert "{" not in advice.text + advice.how
    helpdesk = KB.causes[assessment.best.id].helpdesk
    assert helpdesk is not None, f"{assessment.best.id}: a bundled scenario's cause says what to do itself"
    for param in helpdesk.params.values():
        if assessment.facts.get(param.fact) not in (None, "", []):
            assert param.otherwise not in advice.text, (name, param.fact)
    if advice.kind == "step":
        assert advice.sources
    else:
        assert advice.text.startswith("Escalate to the Exchange team: ")
