"""Each check over the in-process world: the healthy organisation passes; one broken thing is noticed by
its check.

MUTATIONS maps a name to (a patch of the healthy scenario, check id, expected status, facts it must
establish, a server the evidence must name). The same table feeds the registry test that checks every fact
is declared and the paste-back test that re-reads every check's commands.
"""

from __future__ import annotations

from typing import Any

import pytest

from checks.ports import ProbeAnswer
from knowledge.loader import KnowledgeBase
from tests.checks.conftest import run_checks
from tests.world import (
    AUTH,
    FED,
    NOW,
    ONLINE_APP,
    PAIR,
    REQUESTER,
    ROUTING,
    TARGET,
    World,
    mailbox,
    merged,
    online,
    organization,
    scenario,
    server,
)

Patch = dict[str, Any]
Mutation = tuple[Patch, str, str, dict[str, Any], str]

SCHANNEL = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"
OWA_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchange OWA"
SERVERS = ("EX01", "EX02", "EX03", "EX04")
# healthy.yaml's names of the hybrid objects.
ONPREM_RELATIONSHIP = "On-premises to O365 - 00c33fdb-3a1f-4506-b253-238e4fd29e3f"
ONLINE_RELATIONSHIP = "O365 to On-premises - 50829e3a-6afe-4684-9602-6beb0382a45a"
ONPREM_CONNECTOR = "HybridIOC - 00c33fdb-3a1f-4506-b253-238e4fd29e3f"
ONLINE_CONNECTOR = "HybridIOC - 50829e3a-6afe-4684-9602-6beb0382a45a"


def vdir(name: str, kind: str, **values: Any) -> Patch:
    return server(name, virtual_directories={kind: values})


def classic(*patches: Patch) -> Patch:
    """`patches` in a classic (DAuth) hybrid: with both connectors off, the relationships carry free/busy
    (with an enabled connector OAuth does, and a relationship's settings do not matter)."""
    return merged(
        organization(intra_organization_connectors=[{"name": ONPREM_CONNECTOR, "enabled": False}]),
        online(intra_organization_connectors=[{"name": ONLINE_CONNECTOR, "enabled": False}]),
        *patches,
    )


# Faults of the network rather than the organisation's configuration: knobs of the in-process ports.
PORT_FAULTS: dict[str, dict[str, Any]] = {"probe-unreachable": {"probe_error": "connection refused"}}


def mutated(name: str) -> World:
    """The healthy organisation with mutation `name`'s patch (a scenario, as a lab file would say it), or
    with a port fault of `PORT_FAULTS`."""
    patch = MUTATIONS[name][0] if name in MUTATIONS else {}
    return World(scenario("healthy", patch) if patch else scenario("healthy"), **PORT_FAULTS.get(name, {}))


STALE_CONTACT = "CN=Bjorn Odegard (old),CN=Users,DC=contoso,DC=com"
EVENT_4002 = {
    "provider": "MSExchange Availability",
    "id": 4002,
    "level": "Error",
    "time_created": "now",
    "message": "ProxyWebRequest CrossSite failed",
}

# Facts other than the pair that a mutation's triage starts from.
MUTATION_FACTS: dict[str, dict[str, Any]] = {
    "cross-forest-anchor-missing": {"requester": "dave@fabrikam.com", "target": TARGET},
    "probe-403": {**PAIR, "symptom": "owa-ecp-cross-site-proxy"},
}


MUTATIONS: dict[str, Mutation] = {
    "fedcert-missing": (
        server("EX03", certificates=[{"thumbprint": FED, "_remove": True}]),
        "federation-certificates",
        "fail",
        {
            "fedcert.missing_servers": ["EX03"],
            "fedcert.missing_sites": ["Branch"],
            "fedcert.source_server": "EX01",
        },
        "EX03",
    ),
    "fedcert-no-key": (
        server("EX03", certificates=[{"thumbprint": FED, "has_private_key": False}]),
        "federation-certificates",
        "fail",
        {"fedcert.missing_servers": ["EX03"]},
        "EX03",
    ),
    "fedcert-expired": (
        merged(*(server(s, certificates=[{"thumbprint": FED, "not_after": "now-3d"}]) for s in SERVERS)),
        "federation-trust",
        "fail",
        {"fedcert.expired": True, "fedcert.days_left": -3},
        "",
    ),
    "no-federation-trust": (
        organization(federation_trust=None),
        "federation-trust",
        "fail",
        {"fedtrust.present": False},
        "",
    ),
    "auth-cert-missing": (
        server("EX02", certificates=[{"thumbprint": AUTH, "_remove": True}]),
        "oauth-configuration",
        "fail",
        {"oauth.auth_cert_missing_servers": ["EX02"], "oauth.auth_cert_ok": False},
        "EX02",
    ),
    "dedicated-app-off": (
        organization(setting_overrides=[{"name": "EnableExchangeHybrid3PAppFeature", "_remove": True}]),
        "oauth-configuration",
        "fail",
        {"oauth.dedicated_app_override": False},
        "",
    ),
    "ioc-domain-missing": (
        online(
            intra_organization_connectors=[
                {"name": ONLINE_CONNECTOR, "target_address_domains": ["fabrikam.com"]}
            ]
        ),
        "intra-org-connectors",
        "fail",
        {"ioc.missing_domains": ["contoso.com"], "ioc.side": "online"},
        "Exchange Online",
    ),
    "ioc-off-and-no-relationship": (
        classic(online(organization_relationships=[{"name": ONLINE_RELATIONSHIP, "_remove": True}])),
        "intra-org-connectors",
        "fail",
        {"ioc.enabled": False, "oauth.in_use": False, "orgrel.dauth_path": False},
        "Exchange Online",
    ),
    "orgrel-freebusy-off": (
        classic(
            organization(
                organization_relationships=[{"name": ONPREM_RELATIONSHIP, "free_busy_access_enabled": False}]
            )
        ),
        "organization-relationships",
        "fail",
        {"orgrel.freebusy_enabled": False, "orgrel.side": "onprem"},
        "on-premises",
    ),
    "orgrel-domain-missing": (
        classic(
            online(
                organization_relationships=[{"name": ONLINE_RELATIONSHIP, "domain_names": ["fabrikam.com"]}]
            )
        ),
        "organization-relationships",
        "fail",
        {"orgrel.missing_domains": ["contoso.com"], "orgrel.side": "online"},
        "Exchange Online",
    ),
    "orgrel-uri-mismatch": (
        classic(
            organization(
                organization_relationships=[
                    {"name": ONPREM_RELATIONSHIP, "target_application_uri": "outlook.office365.com"}
                ]
            )
        ),
        "organization-relationships",
        "fail",
        {"orgrel.uri_mismatch": ["TargetApplicationUri"]},
        "",
    ),
    "sharing-policy-narrow": (
        organization(
            sharing_policies=[
                {"name": "Default Sharing Policy", "domains": ["fabrikam.com:CalendarSharingFreeBusySimple"]}
            ]
        ),
        "sharing-policy",
        "warn",
        {"sharing_policy.missing_domains": [ROUTING]},
        "",
    ),
    "availability-space-wrong": (
        organization(
            availability_address_spaces=[
                {"forest_name": ROUTING, "proxy_url": "https://old.contoso.com/EWS/Exchange.asmx"}
            ]
        ),
        "availability-address-space",
        "fail",
        {
            "availability_space.mismatch": [ROUTING],
            "availability_space.proxy_url": "https://old.contoso.com/EWS/Exchange.asmx",
        },
        ROUTING,
    ),
    "owa-auth-unusable": (
        vdir("EX03", "owa", authentication=["OAuth"]),
        "virtual-directories",
        "warn",
        {"vdirs.target_auth_unusable": ["EX03/owa"]},
        "EX03",
    ),
    "ecp-auth-switches-off": (
        vdir("EX03", "ecp", authentication=[]),
        "virtual-directories",
        "warn",
        {"vdirs.target_auth_unusable": ["EX03/ecp"]},
        "EX03",
    ),
    "owa-internal-http": (
        vdir("EX03", "owa", internal_url="http://ex03.contoso.com/owa"),
        "virtual-directories",
        "fail",
        {
            "owa.target.internal_url_scheme": "http",
            "owa.target.suggested_internal_url": "https://ex03.contoso.com/owa",
        },
        "EX03",
    ),
    "ecp-internal-http": (
        vdir("EX03", "ecp", internal_url="http://ex03.contoso.com/ecp"),
        "virtual-directories",
        "fail",
        {"ecp.target.internal_url_scheme": "http"},
        "EX03",
    ),
    "owa-iis-no-ssl": (
        vdir("EX03", "owa", require_ssl=False),
        "virtual-directories",
        "fail",
        {"owa.target.require_ssl": False, "ecp.target.require_ssl": True},
        "EX03",
    ),
    "nlb-bypass-wrong": (
        vdir("EX03", "ews", internal_nlb_bypass_url="https://mail.contoso.com/ews/exchange.asmx"),
        "virtual-directories",
        "fail",
        {
            "ews.nlb_bypass_wrong_servers": ["EX03"],
            "ews.target.nlb_bypass_url": "https://mail.contoso.com/ews/exchange.asmx",
        },
        "EX03",
    ),
    "internal-site-owa-external": (
        vdir("EX03", "owa", external_url="https://branch.contoso.com/owa"),
        "virtual-directories",
        "fail",
        {"vdirs.internal_site_external_urls": ["EX03/owa"]},
        "EX03",
    ),
    "ews-external-missing": (
        vdir("EX02", "ews", external_url=None),
        "virtual-directories",
        "fail",
        {"ews.external_url_missing_servers": ["EX02"]},
        "EX02",
    ),
    "ip-host": (
        vdir("EX01", "ecp", internal_url="https://10.0.0.5/ecp"),
        "virtual-directories",
        "warn",
        {"vdirs.ip_hosts": ["EX01/ecp/InternalUrl"]},
        "EX01",
    ),
    "tls12-off": (
        server("EX01", registry={SCHANNEL + "Server": {"Enabled": 0, "DisabledByDefault": 1}}),
        "host-settings",
        "fail",
        {"host.tls12_disabled_servers": ["EX01"]},
        "EX01",
    ),
    "web-proxy-missing": (
        server("EX02", internet_web_proxy=None),
        "host-settings",
        "fail",
        {
            "host.internet_web_proxy_missing": ["EX02"],
            "host.internet_web_proxy": "http://proxy.contoso.com:8080/",
        },
        "EX02",
    ),
    "proxying-without-ssl": (
        server("EX01", registry={OWA_KEY: {"AllowProxyingWithoutSsl": 1}}),
        "host-settings",
        "warn",
        {"owa.allow_proxying_without_ssl": True},
        "EX01",
    ),
    "probe-403": (
        merged(*(vdir("EX03", kind, answer_status=403) for kind in ("owa", "ecp", "ews", "autodiscover"))),
        "https-probe",
        "fail",
        {"probe.status": 403, "owa.target.https_status": 403},
        "ex03.contoso.com",
    ),
    "event-4002": (
        server("EX01", events=[EVENT_4002]),
        "event-logs",
        "warn",
        {"events.ids": [4002], "events.found": ["EX01: MSExchange Availability 4002"]},
        "EX01",
    ),
    "subscription": (
        mailbox(
            REQUESTER,
            sharing_subscriptions=[
                {"sharer_identity": TARGET, "url": "https://mail.contoso.com/EWS/Exchange.asmx"}
            ],
        ),
        "sharing-subscriptions",
        "warn",
        {"sharing.subscription_present": True, "sharing.subscription_sharer": TARGET},
        REQUESTER,
    ),
    "default-none": (
        mailbox(TARGET, calendar_permissions=[{"user": "Default", "access_rights": ["None"]}]),
        "calendar-permissions",
        "fail",
        {"calendar.default_permission": "None", "calendar.explicit_permission": "None"},
        f"{TARGET}:\\Calendar",
    ),
    "free-busy-fails": (
        {
            "availability": [
                {
                    "requester": REQUESTER,
                    "target": TARGET,
                    "error": {
                        "code": "ErrorProxyRequestProcessingFailed",
                        "message": "Proxy web request failed.",
                    },
                }
            ]
        },
        "freebusy-probe",
        "fail",
        {
            "freebusy.ok": False,
            "freebusy.error_code": "ErrorProxyRequestProcessingFailed",
            "freebusy.protocol": "graph",
        },
        TARGET,
    ),
    "cloud-routing-address-missing": (
        mailbox(REQUESTER, email_addresses=[f"SMTP:{REQUESTER}"]),
        "topology",
        "fail",
        {"pair.cloud_routing_address": "", "pair.cloud_upn": REQUESTER},
        REQUESTER,
    ),
    "onprem-not-synced": (
        mailbox(TARGET, synced_to_cloud=False),
        "topology",
        "fail",
        {"pair.onprem_synced": False},
        "Exchange Online",
    ),
    "duplicate-address": (
        organization(
            recipients=[
                {
                    "name": "Bjorn Odegard (old)",
                    "recipient_type": "MailContact",
                    "email_addresses": [f"SMTP:{TARGET}"],
                }
            ]
        ),
        "topology",
        "fail",
        {"pair.onprem_duplicate_objects": [STALE_CONTACT]},
        TARGET,
    ),
    "external-outlook-blocked": (
        mailbox(TARGET, block_external_outlook=True),
        "topology",
        "fail",
        {"target.external_connectivity_blocked": True},
        TARGET,
    ),
    "requester-on-premises": (
        mailbox(REQUESTER, location="onprem", database="DB01", remote_routing_address=None),
        "topology",
        "ok",
        {
            "requester.location": "onprem",
            "requester.server": "EX01",
            "requester.site": "HQ",
            "ad.root_domain": "contoso.com",
        },
        REQUESTER,
    ),
    "fedcert-rotated": (
        organization(federation_trust={"org_prev_certificate": AUTH}),
        "federation-trust",
        "ok",
        {"fedcert.prev_thumbprint": AUTH},
        "",
    ),
    "freebusy-scope-excludes-target": (
        classic(
            organization(
                organization_relationships=[
                    {"name": ONPREM_RELATIONSHIP, "free_busy_access_scope": "Free Busy Scope"}
                ],
                groups=[{"name": "Free Busy Scope", "members": ["carol@contoso.com"]}],
            )
        ),
        "organization-relationships",
        "fail",
        {"orgrel.target_in_scope": False},
        "on-premises",
    ),
    "ews-policy-blocks-availability": (
        organization(
            ews_policy={
                "application_access_policy": "EnforceAllowList",
                "allow_list": ["OWA/*", "Microsoft Office/*"],
            }
        ),
        "availability-address-space",
        "fail",
        {"ews.availability_blocked_by_policy": True},
        "",
    ),
    "cross-forest-anchor-missing": (
        # dave is in another forest (not a mailbox here); this forest trusts its own servers' group.
        merged(
            mailbox("dave@fabrikam.com", _remove=True),
            organization(availability_config={"per_user_account": "CONTOSO\\Exchange Servers"}),
        ),
        "availability-address-space",
        "fail",
        {
            "autodiscover.anchor_address_missing": True,
            "autodiscover.anchor_domain": "contoso.com",
            "availability_config.remote_account": "FABRIKAM\\Exchange Servers",
            "availability_config.accounts": ["CONTOSO\\Exchange Servers"],
        },
        "contoso.com",
    ),
    "clock-skew": (
        server("EX03", clock_offset_seconds=-412),
        "host-settings",
        "fail",
        {"host.time_skew_servers": ["EX03"]},
        "EX03",
    ),
    "outbound-blocked": (
        server("EX01", unreachable_urls=["*"]),
        "host-settings",
        "fail",
        {"host.outbound_blocked_servers": ["EX01"]},
        "EX01",
    ),
    "service-stopped": (
        server("EX03", stopped_services=["MSExchangeServiceHost"]),
        "host-settings",
        "fail",
        {"host.unhealthy_servers": ["EX03"]},
        "EX03",
    ),
    "component-inactive": (
        server("EX02", inactive_components=["EwsProxy"]),
        "host-settings",
        "fail",
        {"host.unhealthy_servers": ["EX02"]},
        "EX02",
    ),
    "back-end-binding-broken": (
        server("EX03", back_end_certificate=None),
        "host-settings",
        "fail",
        {"host.backend_binding_broken_servers": ["EX03"]},
        "EX03",
    ),
    "svc-handler-missing": (
        vdir("EX03", "ews", svc_handler=False),
        "host-settings",
        "fail",
        {"iis.svc_handler_missing": ["EX03"]},
        "EX03",
    ),
    "exo-old-federation-trust": (
        online(federation_trust_application_id="292841"),
        "exchange-online-settings",
        "fail",
        {"exo.fedtrust_application_id": "292841"},
        "contoso",
    ),
    "auth-cert-not-in-entra": (
        online(service_principals=[{"app_id": ONLINE_APP, "key_thumbprints": []}]),
        "exchange-online-settings",
        "fail",
        {"oauth.auth_cert_in_entra": False},
        "Microsoft Entra ID",
    ),
    "exo-ews-off": (
        online(ews_enabled=False),
        "exchange-online-settings",
        "fail",
        {"exo.ews_enabled": False, "exo.hybrid_app_ews_allowed": False},
        "contoso",
    ),
}


async def test_the_healthy_organisation_passes_every_check(org: World, kb: KnowledgeBase) -> None:
    results = await run_checks(org, kb)
    assert {r.id: r.status for r in results.values() if r.status != "ok"} == {}
    topology = results["topology"].facts
    assert topology["target.site"] == "Branch" and topology["target.server"] == "EX03"
    assert topology["target.site.internet_facing"] is False
    assert topology["requester.location"] == "online" and topology["pair.cloud_remote_routing_ok"] is True
    assert results["federation-certificates"].facts["fedcert.missing_servers"] == []


@pytest.mark.parametrize("name", list(MUTATIONS))
async def test_a_broken_setting_is_noticed_by_its_check(kb: KnowledgeBase, name: str) -> None:
    _patch, check_id, status, facts, server_named = MUTATIONS[name]
    results = await run_checks(mutated(name), kb, facts=MUTATION_FACTS.get(name, PAIR))
    result = results[check_id]
    assert result.status == status, result.summary
    assert {k: result.facts.get(k) for k in facts} == facts
    assert any(e.server == server_named for e in result.evidence), [e.as_dict() for e in result.evidence]
    others = {r.id: r.status for r in results.values() if r.id != check_id and r.status in ("error", "fail")}
    assert "error" not in others.values(), others


async def test_an_unreachable_target_is_noticed_by_the_probe(kb: KnowledgeBase) -> None:
    # A network fault, not the organisation's configuration: the probe's connection is refused.
    world = mutated("probe-unreachable")
    result = (await run_checks(world, kb, "https-probe"))["https-probe"]
    assert result.status == "fail", result.summary
    assert result.facts["probe.error"] == "connection refused" and result.facts["probe.tls_ok"] is False
    assert any(e.server == "ex03.contoso.com" for e in result.evidence)


async def test_evidence_names_the_server_property_and_value(kb: KnowledgeBase) -> None:
    result = (await run_checks(mutated("fedcert-missing"), kb, "federation-certificates"))[
        "federation-certificates"
    ]
    assert any(e.server == "EX03" and FED in e.property and e.value == "missing" for e in result.evidence)
    assert "EX03" in result.summary and "Branch" in result.summary


async def test_topology_says_when_the_target_has_no_mailbox(org: World, kb: KnowledgeBase) -> None:
    results = await run_checks(org, kb, "topology", facts={"target": "nobody@contoso.com"})
    assert results["topology"].status == "fail"
    assert "nobody@contoso.com" in results["topology"].summary


async def test_an_explicit_permission_is_reported(kb: KnowledgeBase) -> None:
    world = World(
        scenario(
            "healthy",
            mailbox(TARGET, calendar_permissions=[{"user": REQUESTER, "access_rights": ["Reviewer"]}]),
        )
    )
    result = (await run_checks(world, kb, "calendar-permissions"))["calendar-permissions"]
    assert result.facts["calendar.explicit_permission"] == "Reviewer"
    assert result.status == "ok"


async def test_the_probe_records_an_untrusted_certificate(org: World, kb: KnowledgeBase) -> None:
    ports, fakes = org.ports()
    url = "https://ex03.contoso.com/EWS/Exchange.asmx"
    fakes["probe"].answers[url] = ProbeAnswer(
        url, tls_ok=True, cert_name_ok=True, cert_trusted=False, status=200
    )
    from checks.runner import Runner
    from checks.testing import fixed_ports

    runner = Runner(fixed_ports(ports), kb=kb, clock=lambda: NOW)

    async def quiet(_event: object) -> None:
        return None

    from checks.api import CheckRequest

    (result,) = await runner.run(CheckRequest(("https-probe",), PAIR), quiet)
    assert result.status == "fail" and result.facts["probe.cert_trusted"] is False
    assert "trusted root" in result.summary
