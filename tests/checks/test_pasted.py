"""Checks re-run on pasted command output find what they find over the backends (the in-process world)."""

from __future__ import annotations

from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.catalogue import registry
from checks.ports import Ports
from checks.remedies import Remedy
from checks.runner import Runner
from checks.testing import fixed_ports
from knowledge.loader import KnowledgeBase
from knowledge.reader.command_output import read_command_output
from tests.checks.conftest import run_ports
from tests.checks.powershell_text import Recorded, transcript
from tests.checks.recording import recording
from tests.checks.test_checks import MUTATIONS, PORT_FAULTS, mutated
from tests.world import NOW, PAIR, World

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


@pytest.mark.parametrize("mutation", ["healthy", *MUTATIONS, *PORT_FAULTS])
async def test_a_check_on_the_output_of_its_own_remedy_finds_what_it_finds_over_the_backends(
    kb: KnowledgeBase, mutation: str
) -> None:
    org: World = mutated(mutation)
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


async def test_pasted_output_answers_first_and_the_live_backend_answers_the_rest(
    org: World, kb: KnowledgeBase
) -> None:
    from checks.errors import Unreachable

    ports, fakes = org.ports()
    fakes["exchange"].failures["Get-FederationTrust"] = Unreachable("Exchange PowerShell", "down")
    text = (
        "[PS] C:\\>'## exchange-triage: Get-FederationTrust'; Get-FederationTrust | fl\n"
        "## exchange-triage: Get-FederationTrust\n\n"
        "Name               : Microsoft Federation Gateway\n"
        "OrgPrivCertificate : 3226500C943B6235AEB493A307F084710FD1D5D0\n"
    )
    result = (await run_pasted(ports, kb, PAIR, read_command_output(text), "federation-trust"))[
        "federation-trust"
    ]
    assert result.status == "ok", result.summary
    assert result.facts["fedcert.thumbprint"] == "3226500C943B6235AEB493A307F084710FD1D5D0"
    assert fakes["exchange"].called("Get-FederationTrust") == 0
    assert fakes["exchange"].called("Test-FederationTrust") == 1  # not pasted: the live backend answered


async def test_a_list_cut_off_in_the_paste_is_an_error_naming_the_fix_not_a_finding(
    kb: KnowledgeBase,
) -> None:
    text = (
        "## exchange-triage: Get-OrganizationRelationship\n\n"
        "Name        : On-premises to O365\n"
        "DomainNames : {a.com, b.com, c.com, d.com...}\n"
        "Enabled     : True\n"
        "## exchange-triage: Get-SharingPolicy\n\n"
        "Name    : Default Sharing Policy\nDomains : {*:CalendarSharingFreeBusySimple}\nDefault : True\n"
    )
    pasted = read_command_output(text)
    found = await run_pasted(Ports(), kb, {"target": "bjorn@contoso.com"}, pasted, "sharing-policy")
    result = found["sharing-policy"]
    assert result.status == "error"
    assert "cut DomainNames off" in result.summary and "$FormatEnumerationLimit = -1" in result.summary
    assert "Get-OrganizationRelationship" in result.remedy


async def test_an_object_the_paste_says_was_not_found_is_not_found(kb: KnowledgeBase) -> None:
    text = (
        "## exchange-triage: Get-Mailbox -Identity bjorn@contoso.com\n"
        "The operation couldn't be performed because object 'bjorn@contoso.com' couldn't be found on 'dc01'.\n"
        "    + CategoryInfo          : NotSpecified: (:) [Get-Mailbox], ManagementObjectNotFoundException\n"
        "## exchange-triage: Get-RemoteMailbox -Identity bjorn@contoso.com\n"
        "## exchange-triage: Get-ExchangeServer\n\nName : EX01\nSite : contoso.com/Configuration/Sites/HQ\n"
        "## exchange-triage: Get-WebServicesVirtualDirectory -ADPropertiesOnly\n"
        "## exchange-triage: Get-OwaVirtualDirectory -ADPropertiesOnly\n"
        "## exchange-triage: Get-AcceptedDomain\n\nDomainName : contoso.com\n"
    )
    facts = {"target": "bjorn@contoso.com"}
    result = (await run_pasted(Ports(), kb, facts, read_command_output(text), "topology"))["topology"]
    assert result.status == "fail"
    assert "No mailbox or remote mailbox has the address bjorn@contoso.com" in result.summary
