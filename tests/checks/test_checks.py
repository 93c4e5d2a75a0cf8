"""Each check over fake ports: the healthy organisation passes; one broken thing is noticed by its check.

MUTATIONS maps a name to (change, check id, expected status, facts it must establish, a server the
evidence must name). The same table feeds the registry test that checks every fact is declared.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from checks.ports import FreeBusy, Permission, ProbeAnswer, Subscription
from knowledge.loader import KnowledgeBase
from tests.checks.conftest import run_checks
from tests.checks.fake_org import AUTH, CLOUD, FED, NOW, PAIR, REQUESTER, SCHANNEL, TARGET, FakeOrg

Mutation = tuple[Callable[[FakeOrg], None], str, str, dict[str, Any], str]


def _row(rows: list[dict[str, Any]], server: str) -> dict[str, Any]:
    return next(r for r in rows if r["Server"] == server)


def _drop_cert(server: str, thumbprint: str) -> Callable[[FakeOrg], None]:
    def change(org: FakeOrg) -> None:
        org.certificates[server] = [c for c in org.certificates[server] if c["Thumbprint"] != thumbprint]

    return change


def _no_private_key(org: FakeOrg) -> None:
    next(c for c in org.certificates["EX03"] if c["Thumbprint"] == FED)["HasPrivateKey"] = False


def _expired_fedcert(org: FakeOrg) -> None:
    for certs in org.certificates.values():
        next(c for c in certs if c["Thumbprint"] == FED)["NotAfter"] = (
            NOW - datetime.timedelta(days=3)
        ).isoformat()


def _set(cmdlet: str, online: bool = False, **values: Any) -> Callable[[FakeOrg], None]:
    def change(org: FakeOrg) -> None:
        table = org.online if online else org.cmdlets
        table[cmdlet][0].update(values)

    return change


def _vdir(kind: str, server: str, **values: Any) -> Callable[[FakeOrg], None]:
    def change(org: FakeOrg) -> None:
        _row(org.vdirs[kind], server).update(values)

    return change


def _registry(server: str, path: str, **values: Any) -> Callable[[FakeOrg], None]:
    def change(org: FakeOrg) -> None:
        org.registry[(server, path)] = values

    return change


def _no_proxy(org: FakeOrg) -> None:
    next(s for s in org.servers if s["Name"] == "EX02")["InternetWebProxy"] = None


def _iis_not_ssl(org: FakeOrg) -> None:
    org.iis["EX03"] = [
        {"path": p, "ssl_flags": "None" if p == "owa" else "Ssl", "require_ssl": p != "owa"}
        for p in ("owa", "ecp", "EWS", "Autodiscover")
    ]


def _event(org: FakeOrg) -> None:
    org.events["EX01"] = [
        {
            "time_created": NOW.isoformat(),
            "provider": "MSExchange Availability",
            "id": 4002,
            "level": "Error",
            "message": "ProxyWebRequest CrossSite failed",
        }
    ]


def _subscription(org: FakeOrg) -> None:
    org.subscriptions[REQUESTER] = [
        Subscription(sharer=TARGET, url="https://mail.contoso.com/EWS/Exchange.asmx")
    ]


def _default_none(org: FakeOrg) -> None:
    org.permissions[TARGET] = [Permission("Default", "None")]


def _free_busy_fails(org: FakeOrg) -> None:
    org.free_busy[(REQUESTER, TARGET)] = FreeBusy(
        ok=False, error_code="ErrorProxyRequestProcessingFailed", error_message="Proxy web request failed."
    )


def _forbidden(org: FakeOrg) -> None:
    org.probe_status = 403


def _no_trust(org: FakeOrg) -> None:
    org.cmdlets["Get-FederationTrust"] = []


def _no_routing_address(org: FakeOrg) -> None:
    org.remote_mailboxes[0]["EmailAddresses"] = [f"SMTP:{REQUESTER}"]


def _not_synced(org: FakeOrg) -> None:
    org.cloud_recipients = [r for r in org.cloud_recipients if r["PrimarySmtpAddress"] != TARGET]


STALE_CONTACT = "CN=Bjorn Odegard (old),OU=Contacts,DC=contoso,DC=com"


def _duplicate(org: FakeOrg) -> None:
    org.others.append(
        {
            "Name": "Bjorn Odegard (old)",
            "RecipientTypeDetails": "MailContact",
            "EmailAddresses": [f"SMTP:{TARGET}"],
            "DistinguishedName": STALE_CONTACT,
        }
    )


def _external_blocked(org: FakeOrg) -> None:
    org.cas[TARGET] = {"MAPIBlockOutlookExternalConnectivity": True, "MAPIBlockOutlookRpcHttp": False}


def _requester_on_premises(org: FakeOrg) -> None:
    org.remote_mailboxes = []
    org.mailboxes.append(
        {
            "PrimarySmtpAddress": REQUESTER,
            "Database": "DB01",
            "ServerName": "ex01",
            "RecipientTypeDetails": "UserMailbox",
        }
    )


def _scope(org: FakeOrg) -> None:
    org.cmdlets["Get-OrganizationRelationship"][0]["FreeBusyAccessScope"] = (
        "contoso.com/Users/Free Busy Scope"
    )
    org.groups["contoso.com/Users/Free Busy Scope"] = ["carol@contoso.com"]


def _ews_allow_list(org: FakeOrg) -> None:
    org.cmdlets["Get-OrganizationConfig"][0].update(
        EwsApplicationAccessPolicy="EnforceAllowList", EwsAllowList=["OWA/*", "Microsoft Office/*"]
    )


def _rotated(org: FakeOrg) -> None:
    org.cmdlets["Get-FederationTrust"][0]["OrgPrevPrivCertificate"] = AUTH


def _unreachable_target(org: FakeOrg) -> None:
    org.probe_error = "connection refused"


def _offset(org: FakeOrg) -> None:
    org.clock_offsets["EX03"] = -412.0


def _classic(change: Callable[[FakeOrg], None]) -> Callable[[FakeOrg], None]:
    """`change` in a classic (DAuth) hybrid: with both connectors off, the relationships carry free/busy
    (with an enabled connector OAuth does, and a relationship's settings do not matter)."""

    def dauth(org: FakeOrg) -> None:
        for table in (org.cmdlets, org.online):
            for connector in table["Get-IntraOrganizationConnector"]:
                connector["Enabled"] = False
        change(org)

    return dauth


def _no_online_relationship(org: FakeOrg) -> None:
    org.online["Get-OrganizationRelationship"] = []


# Facts other than the pair that a mutation's triage starts from.
MUTATION_FACTS: dict[str, dict[str, Any]] = {
    "cross-forest-anchor-missing": {"requester": "dave@fabrikam.com", "target": TARGET},
}


MUTATIONS: dict[str, Mutation] = {
    "fedcert-missing": (
        _drop_cert("EX03", FED),
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
        _no_private_key,
        "federation-certificates",
        "fail",
        {"fedcert.missing_servers": ["EX03"]},
        "EX03",
    ),
    "fedcert-expired": (
        _expired_fedcert,
        "federation-trust",
        "fail",
        {"fedcert.expired": True, "fedcert.days_left": -3},
        "",
    ),
    "no-federation-trust": (_no_trust, "federation-trust", "fail", {"fedtrust.present": False}, ""),
    "auth-cert-missing": (
        _drop_cert("EX02", AUTH),
        "oauth-configuration",
        "fail",
        {"oauth.auth_cert_missing_servers": ["EX02"], "oauth.auth_cert_ok": False},
        "EX02",
    ),
    "dedicated-app-off": (
        lambda org: org.cmdlets.update({"Get-SettingOverride": []}),
        "oauth-configuration",
        "fail",
        {"oauth.dedicated_app_override": False},
        "",
    ),
    "ioc-domain-missing": (
        _set("Get-IntraOrganizationConnector", online=True, TargetAddressDomains=["fabrikam.com"]),
        "intra-org-connectors",
        "fail",
        {"ioc.missing_domains": ["contoso.com"], "ioc.side": "online"},
        "Exchange Online",
    ),
    "ioc-off-and-no-relationship": (
        _classic(_no_online_relationship),
        "intra-org-connectors",
        "fail",
        {"ioc.enabled": False, "oauth.in_use": False, "orgrel.dauth_path": False},
        "Exchange Online",
    ),
    "orgrel-freebusy-off": (
        _classic(_set("Get-OrganizationRelationship", FreeBusyAccessEnabled=False)),
        "organization-relationships",
        "fail",
        {"orgrel.freebusy_enabled": False, "orgrel.side": "onprem"},
        "on-premises",
    ),
    "orgrel-domain-missing": (
        _classic(_set("Get-OrganizationRelationship", online=True, DomainNames=["fabrikam.com"])),
        "organization-relationships",
        "fail",
        {"orgrel.missing_domains": ["contoso.com"], "orgrel.side": "online"},
        "Exchange Online",
    ),
    "orgrel-uri-mismatch": (
        _classic(_set("Get-OrganizationRelationship", TargetApplicationUri="outlook.office365.com")),
        "organization-relationships",
        "fail",
        {"orgrel.uri_mismatch": ["TargetApplicationUri"]},
        "",
    ),
    "sharing-policy-narrow": (
        _set("Get-SharingPolicy", Domains=["fabrikam.com:CalendarSharingFreeBusySimple"]),
        "sharing-policy",
        "warn",
        {"sharing_policy.missing_domains": [CLOUD]},
        "",
    ),
    "availability-space-wrong": (
        _set("Get-AvailabilityAddressSpace", ProxyUrl="https://old.contoso.com/EWS/Exchange.asmx"),
        "availability-address-space",
        "fail",
        {
            "availability_space.mismatch": [CLOUD],
            "availability_space.proxy_url": "https://old.contoso.com/EWS/Exchange.asmx",
        },
        CLOUD,
    ),
    "owa-auth-unusable": (
        _vdir("owa", "EX03", InternalAuthenticationMethods=["OAuth"]),
        "virtual-directories",
        "warn",
        {"vdirs.target_auth_unusable": ["EX03/owa"]},
        "EX03",
    ),
    "ecp-auth-switches-off": (
        _vdir(
            "ecp",
            "EX03",
            InternalAuthenticationMethods=[],
            FormsAuthentication=False,
            BasicAuthentication=False,
            WindowsAuthentication=False,
        ),
        "virtual-directories",
        "warn",
        {"vdirs.target_auth_unusable": ["EX03/ecp"]},
        "EX03",
    ),
    "owa-internal-http": (
        _vdir("owa", "EX03", InternalUrl="http://ex03.contoso.com/owa"),
        "virtual-directories",
        "fail",
        {
            "owa.target.internal_url_scheme": "http",
            "owa.target.suggested_internal_url": "https://ex03.contoso.com/owa",
        },
        "EX03",
    ),
    "ecp-internal-http": (
        _vdir("ecp", "EX03", InternalUrl="http://ex03.contoso.com/ecp"),
        "virtual-directories",
        "fail",
        {"ecp.target.internal_url_scheme": "http"},
        "EX03",
    ),
    "owa-iis-no-ssl": (
        _iis_not_ssl,
        "virtual-directories",
        "fail",
        {"owa.target.require_ssl": False, "ecp.target.require_ssl": True},
        "EX03",
    ),
    "nlb-bypass-wrong": (
        _vdir("ews_back", "EX03", InternalNLBBypassUrl="https://mail.contoso.com/ews/exchange.asmx"),
        "virtual-directories",
        "fail",
        {
            "ews.nlb_bypass_wrong_servers": ["EX03"],
            "ews.target.nlb_bypass_url": "https://mail.contoso.com/ews/exchange.asmx",
        },
        "EX03",
    ),
    "internal-site-owa-external": (
        _vdir("owa", "EX03", ExternalUrl="https://branch.contoso.com/owa"),
        "virtual-directories",
        "fail",
        {"vdirs.internal_site_external_urls": ["EX03/owa"]},
        "EX03",
    ),
    "ews-external-missing": (
        _vdir("ews", "EX02", ExternalUrl=None),
        "virtual-directories",
        "fail",
        {"ews.external_url_missing_servers": ["EX02"]},
        "EX02",
    ),
    "ip-host": (
        _vdir("ecp", "EX01", InternalUrl="https://10.0.0.5/ecp"),
        "virtual-directories",
        "warn",
        {"vdirs.ip_hosts": ["EX01/ecp/InternalUrl"]},
        "EX01",
    ),
    "tls12-off": (
        _registry("EX01", SCHANNEL + "Server", Enabled=0, DisabledByDefault=1),
        "host-settings",
        "fail",
        {"host.tls12_disabled_servers": ["EX01"]},
        "EX01",
    ),
    "web-proxy-missing": (
        _no_proxy,
        "host-settings",
        "fail",
        {
            "host.internet_web_proxy_missing": ["EX02"],
            "host.internet_web_proxy": "http://proxy.contoso.com:8080/",
        },
        "EX02",
    ),
    "proxying-without-ssl": (
        _registry(
            "EX01", "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchange OWA", AllowProxyingWithoutSsl=1
        ),
        "host-settings",
        "warn",
        {"owa.allow_proxying_without_ssl": True},
        "EX01",
    ),
    "probe-403": (
        _forbidden,
        "https-probe",
        "fail",
        {"probe.status": 403, "owa.target.https_status": 403},
        "ex03.contoso.com",
    ),
    "event-4002": (
        _event,
        "event-logs",
        "warn",
        {"events.ids": [4002], "events.found": ["EX01: MSExchange Availability 4002"]},
        "EX01",
    ),
    "subscription": (
        _subscription,
        "sharing-subscriptions",
        "warn",
        {"sharing.subscription_present": True, "sharing.subscription_sharer": TARGET},
        REQUESTER,
    ),
    "default-none": (
        _default_none,
        "calendar-permissions",
        "fail",
        {"calendar.default_permission": "None", "calendar.explicit_permission": "None"},
        f"{TARGET}:\\Calendar",
    ),
    "free-busy-fails": (
        _free_busy_fails,
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
        _no_routing_address,
        "topology",
        "fail",
        {"pair.cloud_routing_address": "", "pair.cloud_upn": REQUESTER},
        REQUESTER,
    ),
    "onprem-not-synced": (_not_synced, "topology", "fail", {"pair.onprem_synced": False}, "Exchange Online"),
    "duplicate-address": (
        _duplicate,
        "topology",
        "fail",
        {"pair.onprem_duplicate_objects": [STALE_CONTACT]},
        TARGET,
    ),
    "external-outlook-blocked": (
        _external_blocked,
        "topology",
        "fail",
        {"target.external_connectivity_blocked": True},
        TARGET,
    ),
    "requester-on-premises": (
        _requester_on_premises,
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
    "fedcert-rotated": (_rotated, "federation-trust", "ok", {"fedcert.prev_thumbprint": AUTH}, ""),
    "freebusy-scope-excludes-target": (
        _classic(_scope),
        "organization-relationships",
        "fail",
        {"orgrel.target_in_scope": False},
        "on-premises",
    ),
    "ews-policy-blocks-availability": (
        _ews_allow_list,
        "availability-address-space",
        "fail",
        {"ews.availability_blocked_by_policy": True},
        "",
    ),
    "cross-forest-anchor-missing": (
        lambda org: None,
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
    "clock-skew": (_offset, "host-settings", "fail", {"host.time_skew_servers": ["EX03"]}, "EX03"),
    "outbound-blocked": (
        lambda org: org.outbound_blocked.add("EX01"),
        "host-settings",
        "fail",
        {"host.outbound_blocked_servers": ["EX01"]},
        "EX01",
    ),
    "service-stopped": (
        lambda org: org.stopped_services.update(EX03=["MSExchangeServiceHost"]),
        "host-settings",
        "fail",
        {"host.unhealthy_servers": ["EX03"]},
        "EX03",
    ),
    "component-inactive": (
        lambda org: org.inactive_components.update(EX02=["EwsProxy"]),
        "host-settings",
        "fail",
        {"host.unhealthy_servers": ["EX02"]},
        "EX02",
    ),
    "back-end-binding-broken": (
        lambda org: org.back_end_broken.add("EX03"),
        "host-settings",
        "fail",
        {"host.backend_binding_broken_servers": ["EX03"]},
        "EX03",
    ),
    "svc-handler-missing": (
        lambda org: org.svc_handler_missing.add("EX03"),
        "host-settings",
        "fail",
        {"iis.svc_handler_missing": ["EX03"]},
        "EX03",
    ),
    "probe-unreachable": (
        _unreachable_target,
        "https-probe",
        "fail",
        {"probe.error": "connection refused", "probe.tls_ok": False},
        "ex03.contoso.com",
    ),
    "exo-old-federation-trust": (
        _set("Get-FederationTrust", online=True, ApplicationIdentifier="292841"),
        "exchange-online-settings",
        "fail",
        {"exo.fedtrust_application_id": "292841"},
        "contoso.onmicrosoft.com",
    ),
    "auth-cert-not-in-entra": (
        lambda org: org.entra.update({"00000002-0000-0ff1-ce00-000000000000": []}),
        "exchange-online-settings",
        "fail",
        {"oauth.auth_cert_in_entra": False},
        "Microsoft Entra ID",
    ),
    "exo-ews-off": (
        _set("Get-OrganizationConfig", online=True, EwsEnabled=False),
        "exchange-online-settings",
        "fail",
        {"exo.ews_enabled": False, "exo.hybrid_app_ews_allowed": False},
        "contoso.onmicrosoft.com",
    ),
}


async def test_the_healthy_organisation_passes_every_check(org: FakeOrg, kb: KnowledgeBase) -> None:
    results = await run_checks(org, kb)
    assert {r.id: r.status for r in results.values() if r.status != "ok"} == {}
    topology = results["topology"].facts
    assert topology["target.site"] == "Branch" and topology["target.server"] == "EX03"
    assert topology["target.site.internet_facing"] is False
    assert topology["requester.location"] == "online" and topology["pair.cloud_remote_routing_ok"] is True
    assert results["federation-certificates"].facts["fedcert.missing_servers"] == []


@pytest.mark.parametrize("name", list(MUTATIONS))
async def test_a_broken_setting_is_noticed_by_its_check(org: FakeOrg, kb: KnowledgeBase, name: str) -> None:
    change, check_id, status, facts, server = MUTATIONS[name]
    change(org)
    facts_given = {**PAIR, "symptom": "owa-ecp-cross-site-proxy"} if name == "probe-403" else PAIR
    facts_given = MUTATION_FACTS.get(name, facts_given)
    results = await run_checks(org, kb, facts=facts_given)
    result = results[check_id]
    assert result.status == status, result.summary
    assert {k: result.facts.get(k) for k in facts} == facts
    assert any(e.server == server for e in result.evidence), [e.as_dict() for e in result.evidence]
    others = {r.id: r.status for r in results.values() if r.id != check_id and r.status in ("error", "fail")}
    assert "error" not in others.values(), others


async def test_evidence_names_the_server_property_and_value(org: FakeOrg, kb: KnowledgeBase) -> None:
    _drop_cert("EX03", FED)(org)
    result = (await run_checks(org, kb, "federation-certificates"))["federation-certificates"]
    assert any(e.server == "EX03" and FED in e.property and e.value == "missing" for e in result.evidence)
    assert "EX03" in result.summary and "Branch" in result.summary


async def test_topology_says_when_the_target_has_no_mailbox(org: FakeOrg, kb: KnowledgeBase) -> None:
    results = await run_checks(org, kb, "topology", facts={"target": "nobody@contoso.com"})
    assert results["topology"].status == "fail"
    assert "nobody@contoso.com" in results["topology"].summary


async def test_an_explicit_permission_is_reported(org: FakeOrg, kb: KnowledgeBase) -> None:
    org.permissions[TARGET].append(Permission(REQUESTER, "Reviewer"))
    result = (await run_checks(org, kb, "calendar-permissions"))["calendar-permissions"]
    assert result.facts["calendar.explicit_permission"] == "Reviewer"
    assert result.status == "ok"


async def test_the_probe_records_an_untrusted_certificate(org: FakeOrg, kb: KnowledgeBase) -> None:
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
