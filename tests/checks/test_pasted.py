"""Checks re-run on pasted command output find what they find over the backends (fake organisation)."""

from __future__ import annotations

from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.ports import Ports
from checks.registry import registry
from checks.remedies import Remedy
from checks.runner import Runner
from checks.testing import fixed_ports
from knowledge.command_output import read_command_output
from knowledge.loader import KnowledgeBase
from tests.checks.conftest import run_ports
from tests.checks.fake_org import NOW, PAIR, FakeOrg, healthy
from tests.checks.powershell_text import Recorded, transcript
from tests.checks.recording import recording
from tests.checks.test_checks import MUTATIONS

# Checks whose evidence a pasted command can carry (a live HTTPS probe, hidden items and a live free/busy
# request cannot be pasted).
PASTEABLE = tuple(
    sorted(i for i, c in registry().items() if isinstance(c.remedy, Remedy) and c.remedy.commands)
)


async def run_pasted(
    ports: Ports, kb: KnowledgeBase, facts: dict[str, Any], pasted: list[dict[str, Any]], *ids: str
) -> dict[str, CheckResult]:
    runner = Runner(fixed_ports(ports), kb=kb, clock=lambda: NOW, check_seconds=5, triage_seconds=10)

    async def quiet(_event: ProgressEvent) -> None:
        return None

    request = CheckRequest(ids or PASTEABLE, facts, tuple(pasted))
    return {r.id: r for r in await runner.run(request, quiet)}


def test_the_pasteable_checks_are_the_ones_that_read_exchange_and_the_servers() -> None:
    assert set(PASTEABLE) == set(registry()) - {"https-probe", "sharing-subscriptions", "freebusy-probe"}


@pytest.mark.parametrize("mutation", ["healthy", *MUTATIONS])
async def test_a_check_on_the_output_of_its_own_remedy_finds_what_it_finds_over_the_backends(
    kb: KnowledgeBase, mutation: str
) -> None:
    org: FakeOrg = healthy()
    if mutation != "healthy":
        MUTATIONS[mutation][0](org)
    ports, _ = org.ports()
    recorded = Recorded()
    live = await run_ports(recording(ports, recorded), kb, PAIR, *PASTEABLE)
    for check_id in PASTEABLE:
        remedy = registry()[check_id].remedy
        assert isinstance(remedy, Remedy)
        pasted = read_command_output(transcript(remedy, recorded, PAIR))
        again = (await run_pasted(Ports(probe=ports.probe), kb, PAIR, pasted, check_id))[check_id]
        assert (again.status, again.facts) == (live[check_id].status, live[check_id].facts), (
            check_id,
            again.summary,
        )
