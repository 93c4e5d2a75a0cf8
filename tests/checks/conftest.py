"""Fixtures for the checks: the knowledge base, the in-process world (`tests/world.py`), a runner over it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.ports import Ports
from checks.runner import Runner
from checks.testing import fixed_ports
from knowledge.loader import KnowledgeBase, load_knowledge
from lab.runtime import RunningLab, start_lab
from tests.world import NOW, PAIR, World
from triage.backends import runner_for_lab


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture
def org() -> World:
    """The healthy scenario, in-process."""
    return World()


@pytest.fixture(autouse=True)
def _quiet_clients() -> Iterator[None]:
    # pypsrp and requests warn about things that do not matter on loopback.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


async def run_checks(
    org: World,
    kb: KnowledgeBase,
    *ids: str,
    facts: dict[str, Any] | None = None,
    **port_options: Any,
) -> dict[str, CheckResult]:
    """Run `ids` (all catalogue checks when none) over `org`'s in-process ports; results by id."""
    ports, _fakes = org.ports(**port_options)
    return await run_ports(ports, kb, PAIR if facts is None else facts, *ids)


async def run_ports(
    ports: Ports, kb: KnowledgeBase, facts: dict[str, Any], *ids: str
) -> dict[str, CheckResult]:
    runner = Runner(fixed_ports(ports), kb=kb, clock=lambda: NOW, check_seconds=5, triage_seconds=10)

    async def progress(_event: ProgressEvent) -> None:
        return None

    return {r.id: r for r in await runner.run(CheckRequest(ids or tuple(kb.checks), facts), progress)}


@pytest.fixture(scope="session")
def healthy_lab() -> Iterator[RunningLab]:
    lab = start_lab("healthy")
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def lab(healthy_lab: RunningLab) -> Iterator[RunningLab]:
    """The healthy lab, with no faults left behind by the test."""
    healthy_lab.faults.clear()
    yield healthy_lab
    healthy_lab.faults.clear()


async def run_on_lab(
    lab: RunningLab, kb: KnowledgeBase, facts: dict[str, Any], *ids: str
) -> dict[str, CheckResult]:
    runner = runner_for_lab(lab, kb=kb)

    async def quiet(_event: ProgressEvent) -> None:
        return None

    return {r.id: r for r in await runner.run(CheckRequest(ids or tuple(kb.checks), facts), quiet)}
