"""The runner over fake ports: progress, concurrency over one memo, time limits, failures as results."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from checks.api import CheckRequest, ProgressEvent
from checks.errors import Unreachable
from checks.ports import ExchangePort, Ports, Row
from checks.runner import Runner
from checks.testing import FakeExchange, fixed_ports
from knowledge.assessment import assess
from knowledge.loader import KnowledgeBase
from tests.checks.conftest import run_checks
from tests.world import FED, NOW, PAIR, World, scenario, server


def _runner(ports: Ports, kb: KnowledgeBase, **limits: Any) -> Runner:
    return Runner(fixed_ports(ports), kb=kb, clock=lambda: NOW, **limits)


async def test_progress_tells_each_start_before_its_finish(org: World, kb: KnowledgeBase) -> None:
    ports, _ = org.ports()
    events: list[ProgressEvent] = []

    async def progress(event: ProgressEvent) -> None:
        events.append(event)

    results = await _runner(ports, kb).run(CheckRequest(tuple(kb.checks), PAIR), progress)
    assert [r.id for r in results] == list(kb.checks)
    for check_id in kb.checks:
        kinds = [e.kind for e in events if e.check_id == check_id]
        assert kinds == ["started", "finished"]
    finished = {e.check_id: e.result for e in events if e.kind == "finished"}
    assert finished["topology"] == results[0]
    assert next(e.title for e in events if e.check_id == "topology") == kb.checks["topology"].title


class _InFlight:
    """An Exchange port that counts how many calls are waiting for an answer at once."""

    def __init__(self, inner: ExchangePort) -> None:
        self.inner, self.now, self.most = inner, 0, 0

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await self.inner.run(cmdlet, params)
        finally:
            self.now -= 1


async def test_checks_share_one_call_per_cmdlet_and_run_side_by_side(org: World, kb: KnowledgeBase) -> None:
    ports, fakes = org.ports(latency=0.05)
    assert ports.exchange is not None
    counting = _InFlight(ports.exchange)
    results = await _runner(dataclasses.replace(ports, exchange=counting), kb).run(
        CheckRequest(tuple(kb.checks), PAIR), _ignore
    )
    exchange: FakeExchange = fakes["exchange"]
    assert exchange.called("Get-ExchangeServer") == 1
    assert exchange.called("Get-OwaVirtualDirectory") == 1
    assert exchange.called("Get-ExchangeCertificate") == 4  # once per server, shared by two checks
    # Side by side, not one after the other: many cmdlets wait for their answers at the same time (counted,
    # not timed, so a busy machine cannot fail it).
    assert counting.most >= 5, counting.most
    assert all(r.status == "ok" for r in results)


async def test_an_exception_becomes_an_error_result_and_the_rest_complete(
    org: World, kb: KnowledgeBase
) -> None:
    ports, fakes = org.ports()
    fakes["exchange"].failures["Get-FederationTrust"] = KeyError("OrgCertificate")
    results = {r.id: r for r in await _runner(ports, kb).run(CheckRequest(tuple(kb.checks), PAIR), _ignore)}
    failed = results["federation-trust"]
    assert failed.status == "error"
    assert failed.summary.startswith("The check stopped on an unexpected problem (KeyError")
    assert "Test-FederationTrust" in failed.remedy
    assert results["oauth-configuration"].status == "ok"


async def test_an_unreachable_backend_is_an_error_with_its_message_and_the_command_to_run(
    org: World, kb: KnowledgeBase
) -> None:
    ports, fakes = org.ports()
    down = Unreachable(
        "Exchange PowerShell", "Could not reach Exchange PowerShell on ex01 (connection refused or reset)."
    )
    fakes["exchange"].failures["Get-AvailabilityAddressSpace"] = down
    results = {r.id: r for r in await _runner(ports, kb).run(CheckRequest(tuple(kb.checks), PAIR), _ignore)}
    result = results["availability-address-space"]
    assert (result.status, result.summary) == ("error", down.message)
    assert result.remedy.startswith("# In the Exchange Management Shell")
    assert (
        "'## exchange-triage: Get-AvailabilityAddressSpace'; Get-AvailabilityAddressSpace | Format-List"
        in (result.remedy)
    )


async def test_a_backend_nobody_configured_skips_its_checks_with_the_command_to_paste(
    org: World, kb: KnowledgeBase
) -> None:
    ports, _ = org.ports(with_online=False)
    results = {r.id: r for r in await _runner(ports, kb).run(CheckRequest(tuple(kb.checks), PAIR), _ignore)}
    skipped = results["exchange-online-settings"]
    assert skipped.status == "skipped"
    assert "Exchange Online PowerShell" in skipped.summary
    assert "Get-OrganizationConfig" in skipped.remedy
    # The on-premises half still answers; the online half is named as not read.
    connectors = results["organization-relationships"]
    assert connectors.status == "skipped" or any(e.value == "not read" for e in connectors.evidence)


async def test_missing_needs_skip_the_pair_checks(org: World, kb: KnowledgeBase) -> None:
    results = await run_checks(org, kb, "sharing-subscriptions", "topology", facts={"target": PAIR["target"]})
    assert results["sharing-subscriptions"].status == "skipped"
    assert "requester's address" in results["sharing-subscriptions"].summary
    assert results["topology"].status == "ok"


async def test_an_invalid_address_is_refused_before_any_backend(org: World, kb: KnowledgeBase) -> None:
    ports, fakes = org.ports()
    facts = {"requester": "alice'; Remove-Mailbox@contoso.com", "target": PAIR["target"]}
    results = {
        r.id: r for r in await _runner(ports, kb).run(CheckRequest(("freebusy-probe",), facts), _ignore)
    }
    assert results["freebusy-probe"].status == "skipped"
    assert "characters an email address cannot have" in results["freebusy-probe"].summary
    assert fakes["cloud"].calls == [] and fakes["onprem"].calls == []


async def test_a_slow_check_times_out_alone(org: World, kb: KnowledgeBase) -> None:
    ports, fakes = org.ports()
    fakes["exchange"].delays["Get-SharingPolicy"] = 5.0
    ids = ("sharing-policy", "topology")
    results = {
        r.id: r for r in await _runner(ports, kb, check_seconds=0.3).run(CheckRequest(ids, PAIR), _ignore)
    }
    assert results["sharing-policy"].status == "error"
    assert (
        "No answer within 0 s" in results["sharing-policy"].summary
        or "within" in results["sharing-policy"].summary
    )
    assert results["topology"].status == "ok"


async def test_the_triage_deadline_stops_what_is_left(org: World, kb: KnowledgeBase) -> None:
    ports, fakes = org.ports()
    fakes["exchange"].delays["Get-SharingPolicy"] = 5.0
    events: list[ProgressEvent] = []

    async def progress(event: ProgressEvent) -> None:
        events.append(event)

    runner = _runner(ports, kb, check_seconds=10, triage_seconds=0.4)
    started = time.monotonic()
    results = {
        r.id: r for r in await runner.run(CheckRequest(("sharing-policy", "topology"), PAIR), progress)
    }
    # It did not wait for the 5 s answer (the bound is the delay itself, not a guess at the machine's speed).
    assert time.monotonic() - started < 5
    assert results["sharing-policy"].status == "error" and "deadline" in results["sharing-policy"].summary
    assert ("finished", "sharing-policy") in [(e.kind, e.check_id) for e in events]


async def test_an_unknown_check_id_is_an_error_result(org: World, kb: KnowledgeBase) -> None:
    ports, _ = org.ports()
    (result,) = await _runner(ports, kb).run(CheckRequest(("no-such-check",), PAIR), _ignore)
    assert result.status == "error" and "no-such-check" in result.summary


async def test_a_failing_progress_callback_does_not_fail_the_checks(org: World, kb: KnowledgeBase) -> None:
    ports, _ = org.ports()

    async def broken(_event: ProgressEvent) -> None:
        raise RuntimeError("card update failed")

    (result,) = await _runner(ports, kb).run(CheckRequest(("topology",), PAIR), broken)
    assert result.status == "ok"


async def test_results_feed_the_inference(org: World, kb: KnowledgeBase) -> None:
    org = World(scenario("healthy", server("EX03", certificates=[{"thumbprint": FED, "_remove": True}])))
    results = list((await run_checks(org, kb)).values())
    assessment = assess(kb, said=PAIR, results=results)
    assert assessment.facts["fedcert.missing_servers"] == ["EX03"]
    assert "federation-certificates" in assessment.checks_ran
    assert assessment.causes[0].id == "federation-cert-missing-on-site"


async def _ignore(_event: ProgressEvent) -> None:
    await asyncio.sleep(0)
