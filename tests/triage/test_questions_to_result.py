"""The questions a helpdesk agent answers before the result card, walked on the lab as `bench.questions` walks
them: the issue's goals are at most 3 from a plain description and at most 2 with the pair named."""

from __future__ import annotations

import pytest

from bench.questions import WALKS, Walk, walk

pytestmark = pytest.mark.lab

EXPECTED = {
    "seed-000-federation-cert": ("federation-cert-missing-on-site", 3),
    "seed-001-sharing-subscription": ("sharing-subscription-without-permission", 2),
    "seed-002-owa-internalurl-http": ("owa-internalurl-not-https", 3),
}


@pytest.mark.parametrize("case", WALKS, ids=[w.scenario for w in WALKS])
async def test_the_walk_reaches_the_right_cause_within_its_questions(case: Walk) -> None:
    cause, most = EXPECTED[case.scenario]
    asked, done, reached = await walk(case)
    assert done, f"{case.scenario}: no result card after {asked} questions"
    assert reached == cause
    assert asked <= most, f"{case.scenario}: {asked} questions, the goal is at most {most}"
