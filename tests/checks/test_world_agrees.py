"""The in-process world (`tests/world.py`) and the lab agree: every bundled scenario, its failing and its
working pair, every catalogue check, once through the fakes and once through the real clients against the
lab's listeners, ends with the same status and the same facts. The unit tests that use the fakes therefore
say something about the lab."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from knowledge.loader import KnowledgeBase
from lab.runtime import RunningLab, start_lab
from lab.scenario.load import bundled_scenario_names
from tests.checks.test_checks import MUTATION_FACTS, mutated
from tests.labs import running_lab
from tests.world import PAIR, World, run_world
from triage.backends import runner_for_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module", params=bundled_scenario_names())
def each_lab(request: pytest.FixtureRequest) -> Iterator[RunningLab]:
    with running_lab(str(request.param)) as running:
        yield running


async def _on_lab(lab: RunningLab, kb: KnowledgeBase, facts: dict[str, Any]) -> dict[str, CheckResult]:
    async def quiet(_event: ProgressEvent) -> None:
        return None

    runner = runner_for_lab(lab, kb=kb)
    return {r.id: r for r in await runner.run(CheckRequest(tuple(kb.checks), facts), quiet)}


def _seen(results: dict[str, CheckResult]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {check_id: (r.status, dict(r.facts)) for check_id, r in sorted(results.items())}


async def test_the_fakes_and_the_lab_find_the_same(each_lab: RunningLab, kb: KnowledgeBase) -> None:
    scenario = each_lab.ctx.scenario
    # The same moment both ways: relative scenario times from the lab's start, the runner's clock now.
    world = World(scenario, at=each_lab.ctx.started_at, clock=lambda: datetime.datetime.now(datetime.UTC))
    pairs = [p for p in (scenario.failing_pair, scenario.working_pair) if p is not None]
    for pair in pairs:
        facts = {"requester": pair.requester, "target": pair.target}
        lab_results = await _on_lab(each_lab, kb, facts)
        fake_results = await run_world(world, kb, facts)
        assert set(lab_results) == set(kb.checks)
        assert "error" not in {r.status for r in lab_results.values()}, pair
        assert _seen(fake_results) == _seen(lab_results), pair


# The check tests' variants that reach the parts of the world written against the lab's simulators rather
# than calling them (mailboxes, Entra's key credentials, the probe's trust) or that change what they read.
VARIANTS = (
    "default-none",
    "subscription",
    "free-busy-fails",
    "requester-on-premises",
    "auth-cert-not-in-entra",
    "probe-403",
    "owa-iis-no-ssl",
    "clock-skew",
    "duplicate-address",
    "exo-ews-off",
    "cross-forest-anchor-missing",
)


@pytest.mark.parametrize("name", VARIANTS)
async def test_the_check_tests_variants_find_the_same_on_the_lab(name: str, kb: KnowledgeBase) -> None:
    world = mutated(name)
    running = start_lab(world.scenario)
    try:
        facts = dict(MUTATION_FACTS.get(name, PAIR))
        lab_results = await _on_lab(running, kb, facts)
        same_moment = World(
            world.scenario, at=running.ctx.started_at, clock=lambda: datetime.datetime.now(datetime.UTC)
        )
        fake_results = await run_world(same_moment, kb, facts)
    finally:
        running.close()
    assert "error" not in {r.status for r in lab_results.values()}
    assert _seen(fake_results) == _seen(lab_results)
