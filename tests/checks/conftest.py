"""Fixtures for the checks: the knowledge base, the fake organisation, a runner over fake ports."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.runner import Runner
from checks.testing import fixed_ports
from knowledge.loader import KnowledgeBase, load_knowledge
from tests.checks.fake_org import NOW, PAIR, FakeOrg, healthy


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture
def org() -> FakeOrg:
    return healthy()


@pytest.fixture(autouse=True)
def _quiet_clients() -> Iterator[None]:
    # pypsrp and requests warn about things that do not matter on loopback.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


async def run_checks(
    org: FakeOrg,
    kb: KnowledgeBase,
    *ids: str,
    facts: dict[str, Any] | None = None,
    **port_options: Any,
) -> dict[str, CheckResult]:
    """Run `ids` (all catalogue checks when none) over `org`'s fake ports; results by id."""
    ports, _fakes = org.ports(**port_options)
    runner = Runner(fixed_ports(ports), kb=kb, clock=lambda: NOW, check_seconds=5, triage_seconds=10)
    events: list[ProgressEvent] = []

    async def progress(event: ProgressEvent) -> None:
        events.append(event)

    request = CheckRequest(ids or tuple(kb.checks), PAIR if facts is None else facts)
    return {r.id: r for r in await runner.run(request, progress)}
