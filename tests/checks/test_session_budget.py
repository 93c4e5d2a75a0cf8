"""The shared Exchange session budget against the lab, which enforces Exchange's per-account shell limit: many
triages at once stay within the budget and wait for a session rather than fail; without the budget the lab
refuses the extra shells with Exchange's throttling error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from knowledge.loader import KnowledgeBase
from lab.faults import FaultSpec
from lab.psrp.server import SERVER_KEY
from lab.runtime import RunningLab
from triage.backends import runner_for_lab

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
CHECKS = ("topology", "federation-certificates", "organization-relationships")
TRIAGES = 8
SHELL_LIMIT = 4


@pytest.fixture
def limited(lab: RunningLab) -> Iterator[RunningLab]:
    """The lab allowing the service account 4 shells, its PowerShell answering 100 ms late (triages overlap)."""
    server = lab.app("psrp")[SERVER_KEY]
    lab.ctx.shell_limit = SHELL_LIMIT
    server.peak_shells = server.refused_shells = 0
    lab.faults.add(FaultSpec(service="psrp", kind="latency", latency_ms=100))
    yield lab
    lab.ctx.shell_limit = 18


async def quiet(_event: ProgressEvent) -> None:
    return None


async def triages(
    lab: RunningLab, kb: KnowledgeBase, sessions: int
) -> tuple[list[list[CheckResult]], list[str]]:
    runner = runner_for_lab(lab, kb=kb, sessions=sessions)
    notes: list[str] = []

    async def progress(event: ProgressEvent) -> None:
        if event.kind == "waiting":
            notes.append(event.title)

    results = await asyncio.gather(
        *(runner.run(CheckRequest(CHECKS, PAIR), progress) for _ in range(TRIAGES))
    )
    return results, notes


async def test_triages_share_the_budget_and_wait_instead_of_failing(
    limited: RunningLab, kb: KnowledgeBase
) -> None:
    results, notes = await triages(limited, kb, sessions=3)
    server = limited.app("psrp")[SERVER_KEY]
    assert [r.summary for rs in results for r in rs if r.status == "error"] == []
    assert server.refused_shells == 0
    assert 1 <= server.peak_shells <= 3
    # Triages did wait for a session, and were told so.
    assert any(note.startswith("Waiting for a free Exchange PowerShell session on ") for note in notes)
    assert "" in notes  # ... and told when the wait was over
    account = limited.ctx.credentials.username.rsplit("\\", 1)[-1].lower()
    assert server.shells_of(account) == 0  # all closed afterwards


async def test_without_a_budget_the_lab_refuses_shells_with_exchanges_throttling_error(
    limited: RunningLab, kb: KnowledgeBase
) -> None:
    """Every triage with sessions of its own, as before the budget: each opens three at its start and holds
    them to its end, so eight at once ask for 24 (the creates take 300 ms: they all arrive before any ends)."""
    limited.faults.clear()
    limited.faults.add(FaultSpec(service="psrp", kind="latency", latency_ms=300))
    runners = [runner_for_lab(limited, kb=kb, sessions=3) for _ in range(TRIAGES)]
    results = await asyncio.gather(*(r.run(CheckRequest(CHECKS, PAIR), quiet) for r in runners))
    server = limited.app("psrp")[SERVER_KEY]
    assert server.refused_shells > 0 and server.peak_shells == SHELL_LIMIT
    summaries = [r.summary for rs in results for r in rs if r.status == "error"]
    assert any(
        f"This user is allowed a maximum number of {SHELL_LIMIT} concurrent shells, which has been exceeded"
        in s
        for s in summaries
    ), summaries[:3]
