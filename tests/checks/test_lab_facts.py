"""The facts the directory, organisation and server-health reads establish, against the lab through the real
clients (PSRP, WinRM, the management host, Graph): a healthy lab gives the all-clear values, an organisation
with each of those things broken gives them away; and pasted output of the remedies gives the same."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.catalogue import registry
from checks.ports import Ports
from checks.remedies import Remedy
from checks.runner import Runner
from checks.testing import fixed_ports
from checks.wiring import ports_factory
from knowledge.loader import KnowledgeBase
from knowledge.reader.command_output import read_command_output
from lab.runtime import RunningLab, start_lab
from tests.checks.powershell_text import Recorded, transcript
from tests.checks.recording import recording_factory
from triage.backends import from_lab_endpoints

pytestmark = pytest.mark.lab

CHECKS = ("topology", "organization-relationships", "availability-address-space", "host-settings",
          "exchange-online-settings")  # fmt: skip
PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
INBOUND = {"requester": "guest@northwind.example", "target": "bjorn@contoso.com"}  # another forest asks

BROKEN = """
extends: healthy
name: broken-directory-and-servers
description: Everything the directory, organisation and server-health reads look at, broken at once
working_pair: {requester: alice@contoso.com, target: carol@contoso.com}
organization:
  servers:
    - name: EX03
      clock_offset_seconds: 612
      unreachable_urls: ["*"]
      stopped_services: [MSExchangeServiceHost]
      back_end_certificate: null
      virtual_directories: {ews: {svc_handler: false}}
  recipients:
    - {name: Bjorn Odegard (old), recipient_type: MailContact, email_addresses: ["SMTP:bjorn@contoso.com"]}
  groups:
    - {name: Free Busy Scope, members: [carol@contoso.com]}
  organization_relationships:
    - name: On-premises to O365 - 00c33fdb-3a1f-4506-b253-238e4fd29e3f
      free_busy_access_scope: Free Busy Scope
  # Classic (DAuth) hybrid: the relationships, not the connectors, carry free/busy (so their scope counts).
  intra_organization_connectors:
    - {name: HybridIOC - 00c33fdb-3a1f-4506-b253-238e4fd29e3f, enabled: false}
  ews_policy: {application_access_policy: EnforceAllowList, allow_list: ["OWA/*", "Microsoft Office/*"]}
  availability_config: {per_user_account: "CONTOSO\\\\Exchange Servers"}
exchange_online:
  federation_trust_application_id: "292841"
  intra_organization_connectors:
    - {name: HybridIOC - 50829e3a-6afe-4684-9602-6beb0382a45a, enabled: false}
  service_principals:
    - {app_id: 365f8bef-5d8a-403b-99f6-f650be404e1b, key_thumbprints: []}
mailboxes:
  - address: alice@contoso.com
    email_addresses: ["SMTP:alice@contoso.com"]
    user_principal_name: alice.martin@contoso.com
  - address: bjorn@contoso.com
    synced_to_cloud: false
    block_external_outlook: true
"""


@pytest.fixture(scope="module")
def broken_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    path: Path = tmp_path_factory.mktemp("scenarios") / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    lab = start_lab(path)
    try:
        yield lab
    finally:
        lab.close()


async def _quiet(_event: ProgressEvent) -> None:
    return None


def _runner(lab: RunningLab, kb: KnowledgeBase, recorded: Recorded | None = None) -> Runner:
    opened = ports_factory(from_lab_endpoints(dict(lab.endpoints), lab.ctx.scenario.exchange_online.tenant))
    now = datetime.datetime.now(datetime.UTC)
    return Runner(recording_factory(opened, recorded) if recorded else opened, kb=kb, clock=lambda: now)


async def _facts(lab: RunningLab, kb: KnowledgeBase, facts: dict[str, Any]) -> dict[str, CheckResult]:
    return {r.id: r for r in await _runner(lab, kb).run(CheckRequest(CHECKS, facts), _quiet)}


HEALTHY: dict[str, dict[str, Any]] = {
    "topology": {
        "pair.onprem_synced": True,
        "pair.onprem_duplicate_objects": [],
        "pair.cloud_routing_address": "alice@contoso.mail.onmicrosoft.com",
        "pair.cloud_upn": "alice@contoso.com",
        "target.external_connectivity_blocked": False,
    },
    "availability-address-space": {
        "ews.availability_blocked_by_policy": False,
        "availability_config.accounts": [],
    },
    "host-settings": {
        "host.time_skew_servers": [],
        "host.outbound_blocked_servers": [],
        "host.unhealthy_servers": [],
        "host.backend_binding_broken_servers": [],
        "iis.svc_handler_missing": [],
    },
    "exchange-online-settings": {"exo.fedtrust_application_id": "260563", "oauth.auth_cert_in_entra": True},
}


async def test_the_healthy_lab_gives_the_all_clear_values(lab: RunningLab, kb: KnowledgeBase) -> None:
    results = await _facts(lab, kb, PAIR)
    for check_id, expected in HEALTHY.items():
        got = {k: results[check_id].facts.get(k) for k in expected}
        assert got == expected, (check_id, results[check_id].summary)
    assert "orgrel.target_in_scope" not in results["organization-relationships"].facts  # no scope set


async def test_a_broken_organisation_gives_each_thing_away(broken_lab: RunningLab, kb: KnowledgeBase) -> None:
    results = await _facts(broken_lab, kb, PAIR)
    topology = results["topology"]
    assert topology.status == "fail"
    assert {k: topology.facts.get(k) for k in HEALTHY["topology"]} == {
        "pair.onprem_synced": False,
        "pair.onprem_duplicate_objects": ["CN=Bjorn Odegard (old),CN=Users,DC=contoso,DC=com"],
        "pair.cloud_routing_address": "",
        "pair.cloud_upn": "alice.martin@contoso.com",
        "target.external_connectivity_blocked": True,
    }
    relationships = results["organization-relationships"]
    assert (relationships.status, relationships.facts["orgrel.target_in_scope"]) == ("fail", False)
    assert results["availability-address-space"].facts["ews.availability_blocked_by_policy"] is True
    host = results["host-settings"]
    assert host.status == "fail"
    for fact in HEALTHY["host-settings"]:
        assert host.facts[fact] == ["EX03"], (fact, host.facts.get(fact))
    assert any(
        e.server == "EX03" and "Clock offset" in e.property and e.value == "+612.0" for e in host.evidence
    )
    online = results["exchange-online-settings"]
    assert online.status == "fail"
    assert (online.facts["exo.fedtrust_application_id"], online.facts["oauth.auth_cert_in_entra"]) == (
        "292841",
        False,
    )


async def test_another_forest_asking_finds_no_anchor_address_and_the_account_to_trust(
    broken_lab: RunningLab, kb: KnowledgeBase
) -> None:
    result = (await _facts(broken_lab, kb, INBOUND))["availability-address-space"]
    assert result.status == "fail"
    assert {k: result.facts.get(k) for k in ("autodiscover.anchor_domain", "autodiscover.anchor_address_missing",
                                              "availability_config.remote_account", "availability_config.accounts")} == {
        "autodiscover.anchor_domain": "contoso.com",
        "autodiscover.anchor_address_missing": True,
        "availability_config.remote_account": "NORTHWIND\\Exchange Servers",
        "availability_config.accounts": ["CONTOSO\\Exchange Servers"],
    }  # fmt: skip


@pytest.mark.parametrize("facts", [PAIR, INBOUND], ids=["pair", "inbound"])
async def test_pasted_output_of_the_broken_organisation_gives_the_same_facts(
    broken_lab: RunningLab, kb: KnowledgeBase, facts: dict[str, Any]
) -> None:
    recorded = Recorded()
    live = {r.id: r for r in await _runner(broken_lab, kb, recorded).run(CheckRequest(CHECKS, facts), _quiet)}
    remedies = [registry()[c].remedy for c in CHECKS]
    text = "\n".join(transcript(r, recorded, facts) for r in remedies if isinstance(r, Remedy))
    runner = Runner(fixed_ports(Ports()), kb=kb, clock=lambda: datetime.datetime.now(datetime.UTC))
    again = {
        r.id: r
        for r in await runner.run(CheckRequest(CHECKS, facts, tuple(read_command_output(text))), _quiet)
    }
    for check_id in CHECKS:
        assert (again[check_id].status, again[check_id].facts) == (
            live[check_id].status,
            live[check_id].facts,
        ), (
            check_id,
            again[check_id].summary,
        )
