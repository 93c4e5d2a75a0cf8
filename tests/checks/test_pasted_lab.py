"""Against the lab: what the remedies' commands print, pasted back, gives every check the facts it found
over the real clients; and with Exchange PowerShell down, the paste alone names the scenario's cause."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.catalogue import registry
from checks.ports import Ports, PortsFactory
from checks.remedies import Remedy
from checks.runner import Runner
from checks.wiring import ports_factory
from knowledge.assessment import assess
from knowledge.loader import KnowledgeBase
from knowledge.reader.command_output import read_command_output
from lab.runtime import RunningLab
from tests.checks.powershell_text import Recorded, transcript
from tests.checks.recording import recording_factory
from tests.checks.test_pasted import PASTEABLE
from tests.labs import running_lab
from triage.backends import from_lab_endpoints

pytestmark = pytest.mark.lab

# Scenarios whose cause a pasteable check finds (the rest need a live probe, hidden items or free/busy).
SCENARIOS = (
    "healthy",
    "seed-000-federation-cert",
    "oauth-auth-certificate-missing",
    "orgrel-freebusy-disabled",
    "ews-internalnlbbypassurl-wrong",
    "internet-web-proxy-missing",
    "availability-address-space-mismatch",
)
CULTURES = {"seed-000-federation-cert": "de-DE", "oauth-auth-certificate-missing": "en-GB"}


def _factory(lab: RunningLab) -> PortsFactory:
    settings = from_lab_endpoints(dict(lab.endpoints), lab.ctx.scenario.exchange_online.tenant)
    return ports_factory(settings)


def _probe_only(open_ports: PortsFactory) -> PortsFactory:
    """No Exchange, WinRM, EWS or Graph: only the HTTPS probe, which no paste stands in for."""

    @asynccontextmanager
    async def opened() -> AsyncIterator[Ports]:
        async with open_ports() as ports:
            yield Ports(probe=ports.probe)

    return opened


async def _run(
    runner: Runner, facts: dict[str, Any], pasted: list[dict[str, Any]] | None = None
) -> list[CheckResult]:
    async def quiet(_event: ProgressEvent) -> None:
        return None

    return await runner.run(CheckRequest(PASTEABLE, facts, tuple(pasted or ())), quiet)


@pytest.fixture(scope="module", params=SCENARIOS)
def scenario_lab(request: pytest.FixtureRequest) -> Iterator[RunningLab]:
    with running_lab(request.param) as lab:
        yield lab


async def test_pasted_output_of_the_remedies_gives_the_facts_the_lab_gives(
    kb: KnowledgeBase, scenario_lab: RunningLab
) -> None:
    scenario = scenario_lab.ctx.scenario
    pair = scenario.failing_pair or scenario.working_pair
    facts = {"requester": pair.requester, "target": pair.target}
    now = datetime.datetime.now(datetime.UTC)
    recorded = Recorded()
    live_runner = Runner(recording_factory(_factory(scenario_lab), recorded), kb=kb, clock=lambda: now)
    live = {r.id: r for r in await _run(live_runner, facts)}
    assert [r.summary for r in live.values() if r.status == "error"] == []

    culture = CULTURES.get(scenario.name, "en-US")
    text = "\n".join(
        transcript(registry()[c].remedy, recorded, facts, culture=culture)  # type: ignore[arg-type]
        for c in PASTEABLE
        if isinstance(registry()[c].remedy, Remedy)
    )
    pasted = read_command_output(text)
    pasted_runner = Runner(_probe_only(_factory(scenario_lab)), kb=kb, clock=lambda: now)
    again = {r.id: r for r in await _run(pasted_runner, facts, pasted)}
    for check_id in PASTEABLE:
        assert (again[check_id].status, again[check_id].facts) == (
            live[check_id].status,
            live[check_id].facts,
        ), (
            scenario.name,
            check_id,
            again[check_id].summary,
        )
    if scenario.expected_causes:
        best = assess(kb, said=facts, results=list(again.values())).causes[0]
        assert best.id == scenario.expected_causes[0]
