"""Permissions, network/TLS, Autodiscover/EWS, cross-forest and cross-site proxy causes: ranking, rule-outs, runbooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.assessment import Reported
from knowledge.diagnosis import diagnose
from knowledge.inference import infer
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from knowledge.remediation import fill_remediation

KB = load_knowledge()
CATEGORIES = {
    "permissions_sharing",
    "network_tls",
    "autodiscover_ews_endpoint",
    "cross_forest_availability",
    "owa_cross_site_proxy",
    "ews_cross_site_proxy",
}
CAUSES = sorted(c.id for c in KB.causes.values() if c.category in CATEGORIES)
REMEDIATIONS = sorted({r for c in CAUSES for r in KB.causes[c].remediations})

# What the checks would find in an organisation where every one of these causes is present at once.
CHECK_FACTS: dict[str, Any] = {
    "requester": "alice@fabrikam.com",
    "target": "bob@contoso.com",
    "pair.onprem_mailbox": "bob@contoso.com",
    "orgrel.name": "On-premises to O365 - 1a2b",
    "ioc.name": "HybridIOC - 1a2b",
    "ioc.expected_discovery_endpoint": "https://autodiscover.contoso.com/autodiscover/autodiscover.svc",
    "dns.unresolved_host": "autodiscover.contoso.com",
    "servers.internet_facing": ["EX01", "EX02"],
    "servers.all": ["EX01", "EX02", "EX03"],
    "target.site.servers": ["EX03"],
    "target.server": "EX03",
    "ews.external_url": "https://mail.contoso.com/EWS/Exchange.asmx",
    "ews.external_host": "mail.contoso.com",
    "ews.external_url_missing_servers": ["EX01"],
    "ews.nlb_bypass_wrong_servers": ["EX01", "EX02"],
    "probe.url": "https://mail.fabrikam.com/EWS/Exchange.asmx",
    "host.tls12_disabled_servers": ["EX03"],
    "host.internet_web_proxy_missing": ["EX01"],
    "host.internet_web_proxy": "http://proxy.contoso.com:8080",
    "host.outbound_blocked_servers": ["EX02"],
    "host.unhealthy_servers": ["EX02"],
    "host.backend_binding_broken_servers": ["EX01"],
    "iis.svc_handler_missing": ["EX01"],
    "availability_space.forest": "contoso.mail.onmicrosoft.com",
    "availability_space.expected_url": "https://ex2016.contoso.com/EWS/Exchange.asmx",
    "availability_config.remote_account": "FABRIKAM\\Exchange Servers",
    "autodiscover.anchor_domain": "fabrikam.com",
    "ecp.target.server": "EX02",
    "ecp.target.suggested_internal_url": "https://ex02.branch.contoso.com/ecp",
    "owa.target.server": "EX02",
    "owa.target.suggested_internal_url": "https://ex02.branch.contoso.com/owa",
    "owa.site.http_internal_urls": [
        {
            "server": "EX02",
            "internal_url": "http://ex02.branch.contoso.com/owa",
            "suggested_internal_url": "https://ex02.branch.contoso.com/owa",
        }
    ],
    "ecp.site.http_internal_urls": [
        {
            "server": "EX02",
            "internal_url": "http://ex02.branch.contoso.com/ecp",
            "suggested_internal_url": "https://ex02.branch.contoso.com/ecp",
        }
    ],
    "owa.site.https_403": [{"server": "EX02", "url": "https://ex02.branch.contoso.com/owa"}],
    "ecp.site.https_403": [{"server": "EX02", "url": "https://ex02.branch.contoso.com/ecp"}],
    "servers.outdated": ["EX02"],
    "sharing.subscription_sharer": "bob@contoso.com",
}


def ranked(facts: dict[str, Any], text: str | None = None) -> list[str]:
    return [c.id for c in diagnose(KB, text=text, results=[Reported("checks", facts)]).causes]


def balanced(command: str) -> bool:
    """Whether quotes, parentheses, brackets and braces pair up (PowerShell's '' escapes a quote)."""
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    quote: str | None = None
    i = 0
    while i < len(command):
        char = command[i]
        if quote:
            if char == quote and command[i + 1 : i + 2] == quote:
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
        i += 1
    return quote is None and not stack


# Configuration evidence from one check must beat a paste that points somewhere else.
@pytest.mark.parametrize(
    ("cause", "facts", "paste"),
    [
        (
            "internet-web-proxy-missing",
            {"host.internet_web_proxy_missing": ["EX01"]},
            "TimeoutExpiredException",
        ),
        (
            "default-calendar-permission-none",
            {"calendar.default_permission": "None"},
            "Unable to connect to the remote server",
        ),
        ("tls12-not-enabled", {"host.tls12_disabled_servers": ["EX03"]}, "Response is not well-formed XML"),
        (
            "ews-internalnlbbypassurl-wrong",
            {"ews.nlb_bypass_wrong_servers": ["EX01"]},
            "ProxyWebRequest CrossSite",
        ),
        (
            "availability-address-space-mismatch",
            {"availability_space.mismatch": ["contoso.com"]},
            "ErrorProxyRequestNotAllowed",
        ),
        (
            "ecp-internalurl-not-https",
            {"ecp.target.internal_url_scheme": "http"},
            "Event ID: 42 ProxyErrorSslConnection",
        ),
        (
            "owa-externalurl-on-internal-site",
            {
                "owa.target.external_url": "https://branch.contoso.com/owa",
                "vdirs.internal_site_external_urls": ["EX02/owa"],
            },
            "Event ID: 42",
        ),
        ("availability-anchor-address-missing", {"autodiscover.anchor_address_missing": True}, "hash marks"),
        (
            "exchange-web-services-unavailable",
            {"host.unhealthy_servers": ["EX02"]},
            "Response is not well-formed XML",
        ),
    ],
)
def test_configuration_evidence_beats_a_paste_pointing_elsewhere(
    cause: str, facts: dict[str, Any], paste: str
) -> None:
    assert ranked(facts, paste)[0] == cause


def test_a_reset_connection_for_one_pair_puts_the_sharing_subscription_above_the_network_causes() -> None:
    paste = "Proxy web request failed. , inner exception: An existing connection was forcibly closed by the remote host"
    causes = [c.id for c in diagnose(KB, text=paste, conversation={"scope": "pair"}).inference.causes]
    assert causes[0] == "sharing-subscription-without-permission"
    assert causes.index("firewall-blocks-exchange-online") > 0
    everyone = [c.id for c in diagnose(KB, text=paste, conversation={"scope": "all"}).inference.causes]
    assert everyone.index("firewall-blocks-exchange-online") < everyone.index(
        "sharing-subscription-without-permission"
    )


@pytest.mark.parametrize(
    ("cause", "facts"),
    [
        ("default-calendar-permission-none", {"calendar.default_permission": "AvailabilityOnly"}),
        ("internet-web-proxy-missing", {"host.internet_web_proxy_missing": []}),
        ("ews-internalnlbbypassurl-wrong", {"ews.nlb_bypass_wrong_servers": []}),
        ("owa-externalurl-on-internal-site", {"owa.target.external_url": ""}),
        ("cross-forest-detail-limited-by-design", {"freebusy.ok": False}),
        ("reverse-proxy-answers-instead-of-exchange", {"probe.server_header": "Microsoft-IIS/10.0"}),
    ],
)
def test_a_check_that_looked_rules_its_cause_out(cause: str, facts: dict[str, Any]) -> None:
    text = "\n".join(KB.cases[KB.causes[cause].cases[0]].error_text)
    result = infer(KB, {**read_error_text(text), **facts})
    assert cause not in [c.id for c in result.causes]
    assert cause in [r.id for r in result.ruled_out]


def test_the_unresolved_host_is_read_from_the_paste() -> None:
    facts = read_error_text(
        "Autodiscover failed for E-Mail Address bob@contoso.com with error System.Net.WebException: "
        "The remote name could not be resolved: 'autodiscover.contoso.com'"
    )
    assert facts["dns.unresolved_host"] == "autodiscover.contoso.com"
    assert "autodiscover-name-not-resolved" in str(facts["signatures"])
    placeholder = read_error_text("The remote name could not be resolved: '<on-premises host name>'")
    assert "dns.unresolved_host" not in placeholder


def test_every_cause_here_has_checks_remediations_and_docs() -> None:
    for cause_id in CAUSES:
        cause = KB.causes[cause_id]
        assert cause.checks and cause.remediations and cause.docs, cause_id
        assert any(i.weight >= 0.5 for i in cause.indicators), cause_id


@pytest.mark.parametrize("remediation_id", REMEDIATIONS)
def test_each_runbook_fills_every_parameter_with_balanced_powershell(remediation_id: str) -> None:
    filled = fill_remediation(KB.remediations[remediation_id], CHECK_FACTS)
    assert filled.missing == []
    for line in filled.commands + filled.verify:
        assert "<" not in line or line.startswith("#"), line
        if not line.startswith("#"):
            assert balanced(line), line


def test_a_list_of_servers_repeats_the_command_per_server() -> None:
    filled = fill_remediation(KB.remediations["reset-ews-internalnlbbypassurl"], CHECK_FACTS)
    assert filled.commands[:2] == [
        "Get-WebServicesVirtualDirectory -Identity 'EX01\\EWS (Exchange Back End)' -ADPropertiesOnly | ForEach-Object "
        "{ Set-WebServicesVirtualDirectory -Identity $_.Identity -InternalNLBBypassUrl ('https://' + "
        "(Get-ExchangeServer -Identity $_.Server).Fqdn + ':444/ews/exchange.asmx') }",
        "Get-WebServicesVirtualDirectory -Identity 'EX02\\EWS (Exchange Back End)' -ADPropertiesOnly | ForEach-Object "
        "{ Set-WebServicesVirtualDirectory -Identity $_.Identity -InternalNLBBypassUrl ('https://' + "
        "(Get-ExchangeServer -Identity $_.Server).Fqdn + ':444/ews/exchange.asmx') }",
    ]


def test_a_hostile_value_never_reaches_a_command() -> None:
    facts = {**CHECK_FACTS, "host.internet_web_proxy": "http://proxy:8080'; Remove-Mailbox x; '"}
    filled = fill_remediation(KB.remediations["set-internet-web-proxy"], facts)
    assert "ProxyUrl" in filled.missing
    assert all("Remove-Mailbox" not in line for line in filled.commands)


LAB = Path(__file__).resolve().parents[2] / "lab" / "scenarios"

# What the checks report in each bundled lab scenario of these categories.
LAB_SCENARIOS = [
    (
        "default-calendar-permission-none",
        {"calendar.default_permission": "None", "sharing.subscription_present": False},
    ),
    (
        "ews-internalnlbbypassurl-wrong",
        {
            "ews.nlb_bypass_wrong_servers": ["EX02"],
            "ews.target.nlb_bypass_url": "https://casarray.contoso.com/EWS/Exchange.asmx",
        },
    ),
    (
        "availability-address-space-mismatch",
        {"availability_space.mismatch": ["contoso.mail.onmicrosoft.com"]},
    ),
    ("ecp-internalurl-not-https", {"ecp.target.internal_url_scheme": "http"}),
    ("internet-web-proxy-missing", {"host.internet_web_proxy_missing": ["EX02"]}),
]


def lab_error_texts(scenario: str) -> list[str]:
    """The free/busy error the scenario's failing pair gets, and the events its servers logged."""
    data = yaml.safe_load((LAB / f"{scenario}.yaml").read_text(encoding="utf-8"))
    texts = [entry["error"]["message"] for entry in data.get("availability", [])[:1]]
    for server in data.get("organization", {}).get("servers", []):
        texts.extend(event["message"] for event in server.get("events") or [])
    return texts


@pytest.mark.parametrize(("scenario", "facts"), LAB_SCENARIOS, ids=[s for s, _ in LAB_SCENARIOS])
def test_each_lab_scenario_ranks_its_cause_first_once_the_checks_report(
    scenario: str, facts: dict[str, Any]
) -> None:
    texts = lab_error_texts(scenario)
    assert texts, f"{scenario}: no error text in the scenario"
    for text in texts:
        assert scenario in ranked({}, text)[:3], "its error text alone puts it in the first three"
        assert ranked(facts, text)[0] == scenario
