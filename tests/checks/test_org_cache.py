"""The organisation cache: org-wide configuration loaded once for triages close together (and once for
triages at the same moment), per-mailbox data never shared, a fresh look and an expired entry reloaded, a
failure never kept, and the result saying its evidence came from the cache and how old it is."""

from __future__ import annotations

import asyncio

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.errors import Unreachable
from checks.org_cache import OrgCache
from checks.runner import Runner
from checks.testing import FakeExchange, fixed_ports
from knowledge.loader import KnowledgeBase
from tests.world import NOW, PAIR, World

CHECKS = ("topology", "federation-certificates", "calendar-permissions")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def quiet(_event: ProgressEvent) -> None:
    return None


def setup(
    org: World, kb: KnowledgeBase, *, latency: float = 0.0
) -> tuple[Runner, FakeExchange, Clock, object]:
    ports, _fakes = org.ports(latency=latency)
    clock = Clock()
    runner = Runner(fixed_ports(ports), kb=kb, clock=lambda: NOW, org_cache=OrgCache(60.0, clock))
    assert isinstance(ports.exchange, FakeExchange)
    return runner, ports.exchange, clock, ports.onprem_mailboxes


async def triage(runner: Runner, *, fresh: bool = False) -> dict[str, CheckResult]:
    return {r.id: r for r in await runner.run(CheckRequest(CHECKS, PAIR, fresh=fresh), quiet)}


async def test_a_second_triage_reads_the_organisation_from_the_cache_and_says_how_old(
    org: World, kb: KnowledgeBase
) -> None:
    runner, exchange, clock, mailboxes = setup(org, kb)
    first = await triage(runner)
    mailbox_calls, permission_calls = exchange.called("Get-Mailbox"), mailboxes.called("permissions")  # type: ignore[attr-defined]
    assert mailbox_calls and permission_calls
    clock.now += 12
    second = await triage(runner)
    assert exchange.called("Get-ExchangeServer") == 1
    # Per-mailbox data: asked by each triage.
    assert exchange.called("Get-Mailbox") == 2 * mailbox_calls
    assert mailboxes.called("permissions") == 2 * permission_calls  # type: ignore[attr-defined]
    assert "shared cache" not in first["topology"].summary
    assert second["topology"].summary.endswith("(organisation settings from the shared cache, 12 s old)")
    assert {r.status for r in first.values()} == {r.status for r in second.values()}


async def test_triages_at_the_same_moment_share_one_call(org: World, kb: KnowledgeBase) -> None:
    runner, exchange, _, _ = setup(org, kb, latency=0.05)
    await asyncio.gather(*(triage(runner) for _ in range(5)))
    assert exchange.called("Get-ExchangeServer") == 1
    assert exchange.called("Get-Mailbox") == 5 * 2  # the requester and the target, in each triage


async def test_a_fresh_look_and_an_expired_entry_go_to_exchange_again(org: World, kb: KnowledgeBase) -> None:
    runner, exchange, clock, _ = setup(org, kb)
    await triage(runner)
    again = await triage(runner, fresh=True)  # "check again", a fix to verify
    assert exchange.called("Get-ExchangeServer") == 2
    assert "shared cache" not in again["topology"].summary
    clock.now += 61
    await triage(runner)
    assert exchange.called("Get-ExchangeServer") == 3


async def test_a_failed_load_is_not_kept(org: World, kb: KnowledgeBase) -> None:
    runner, exchange, _, _ = setup(org, kb)
    exchange.failures["Get-ExchangeServer"] = Unreachable("Exchange PowerShell", "EX01 did not answer.")
    failed = await triage(runner)
    assert failed["topology"].status == "error"
    del exchange.failures["Get-ExchangeServer"]
    healed = await triage(runner)
    assert exchange.called("Get-ExchangeServer") == 2
    assert healed["topology"].status != "error"


async def test_pasted_command_output_is_never_shared(org: World, kb: KnowledgeBase) -> None:
    runner, exchange, _, _ = setup(org, kb)
    await runner.run(
        CheckRequest(CHECKS, PAIR, ({"source": "ems", "command": "Get-Date", "rows": []},)), quiet
    )
    await triage(runner)
    assert exchange.called("Get-ExchangeServer") == 2
