"""The reader on the shapes admins paste: event entries (rendered, XML, Get-WinEvent), JSON error bodies,
test-cmdlet output (Format-List and tables) and the reference cases' error texts."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.loader import DATA_DIR
from knowledge.yamlio import read_yaml
from tests.knowledge.reader_support import paste, read

CASES = {case["id"]: case for case in read_yaml(DATA_DIR / "cases.yaml")["cases"]}


def subset(facts: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {name: facts.get(name) for name in expected}


def test_rendered_event_viewer_entry() -> None:
    facts = read(paste("event-4002-rendered.txt"))
    expected = {
        "event.id": 4002,
        "event.source": "MSExchange Availability",
        "event.computer": "EXHYB01.contoso.com",
        "proxy.type": "FederatedCrossForest",
        "request.requester": "john.smith@contoso.com",
        "request.target": "jane.cloud@fabrikam.com",
        "target.url": "https://outlook.office365.com/EWS/Exchange.asmx",
        "target.fqdn": "outlook.office365.com",
        "target.url_scheme": "https",
        "caller.sids": "NetworkCredentials",
        "freebusy.view": "FreeBusyMerged",
        "freebusy.merged_interval": 30,
        "origin.server": "EXHYB01",
        "exception.types": ["ProxyWebRequestProcessingException", "WebException", "AuthenticationException"],
    }
    assert subset(facts, expected) == expected
    assert (
        "The remote certificate is invalid according to the validation procedure"
        in facts["exception.messages"]
    )
    assert {"remote-certificate-untrusted", "availability-site-needs-local-server"} <= set(
        facts["signatures"]
    )


def test_xml_event_entry_is_read_like_a_rendered_one() -> None:
    facts = read(paste("event-4002.xml"))
    expected = {
        "event.id": 4002,
        "event.source": "MSExchange Availability",
        "event.computer": "EX01.site1.contoso.com",
        "proxy.type": "CrossSite",
        "request.requester": "UserA@contoso.mail.onmicrosoft.com",
        "request.target": "UserB@fabrikam.com",
        "caller.sids": "WSSecurity",
        "target.url": "https://ex03.site2.contoso.com:443/ews/exchange.asmx",
        "target.fqdn": "ex03.site2.contoso.com",
        "target.port": 443,
        "origin.server": "EX01",
        "exception.types": [
            "ProxyWebRequestProcessingException",
            "WebException",
            "IOException",
            "SocketException",
        ],
    }
    assert subset(facts, expected) == expected
    assert "connection-forcibly-closed" in facts["signatures"]


def test_xml_owa_event_maps_its_insertion_strings_to_the_servers() -> None:
    entry = (
        "<Event><System><Provider Name='MSExchange OWA'/><EventID Qualifiers='49152'>42</EventID>"
        "<Computer>CAS01.contoso.com</Computer></System><EventData>"
        "<Data>https://mail.contoso.com/owa</Data><Data>http://cas02.branch.contoso.com/owa</Data>"
        "</EventData></Event>"
    )
    facts = read(entry)
    assert subset(facts, {"event.id": 0, "proxy.source_server": "", "proxy.target_server": ""}) == {
        "event.id": 42,
        "proxy.source_server": "mail.contoso.com",
        "proxy.target_server": "cas02.branch.contoso.com",
    }
    assert facts["target.url_scheme"] == "http"
    assert "owa-proxy-ssl-configuration" in facts["signatures"]


def test_fiddler_json_body_with_escapes() -> None:
    facts = read(paste("fiddler-owa-availability.json"))
    expected = {
        "proxy.type": "CrossForest",
        "target.url": "https://mail.fabrikam.com/EWS/Exchange.asmx",
        "request.target": "pat.lee@fabrikam.com",
        "error.codes": ["ErrorProxyRequestProcessingFailed"],
        "error.lids": [43532],
        "http.statuses": [401],
        "exception.types": ["WebException"],
        "exception.messages": ["The request failed with HTTP status 401: Unauthorized"],
        "freebusy.view": "FreeBusy",
        "origin.server": "EX02",
    }
    assert subset(facts, expected) == expected
    assert {"proxy-web-request-failed", "request-failed-http-status", "http-401-unauthorized"} <= set(
        facts["signatures"]
    )


def test_json_with_curly_quotes_and_unicode_escapes() -> None:
    body = "{\u201cMessageText\u201d:\u201dProxy web request failed. , inner exception: \\u0022x\\u0022 System.Net.WebException: The remote name could not be resolved: \\u0027ex9.contoso.com\\u0027\u201d}"
    facts = read(body)
    assert facts["exception.types"] == ["WebException"]
    assert facts["exception.messages"] == ["The remote name could not be resolved: 'ex9.contoso.com'"]
    assert "proxy-web-request-failed" in facts["signatures"]


def test_entities_and_escapes_decode_to_plain_characters() -> None:
    facts = read('Caller&nbsp;SIDs:&#160;WSSecurity. ProxyWebRequest\\u00a0CrossSite {"a": 1}')
    assert facts["caller.sids"] == "WSSecurity"
    assert facts["proxy.type"] == "CrossSite"


def test_get_winevent_format_list_owa_71() -> None:
    facts = read(paste("get-winevent-owa-71.txt"))
    expected = {
        "event.id": 71,
        "event.source": "MSExchange OWA",
        "event.computer": "CAS01.contoso.com",
        "proxy.source_server": "mail.contoso.com",
        "proxy.target_server": "10.1.2.3",
        "target.url_scheme": "https",
    }
    assert subset(facts, expected) == expected
    assert "owa-proxy-authentication-failed" in facts["signatures"]


def test_owa_46_names_both_client_access_servers() -> None:
    text = (
        "Event Type: Error\nEvent Source: MSExchange OWA\nEvent Category: Proxy\nEvent ID: 46\n"
        'Client Access server "cas01.contoso.com", running Microsoft Exchange version "8.2.176.2", is proxying '
        'Outlook Web Access traffic to Client Access server "cas02.contoso.com", which runs Exchange version '
        '"8.0.685.24". To ensure reliable interoperability, the proxying Client Access server needs to be running '
        "a newer version of Exchange than the Client Access server it is proxying to."
    )
    facts = read(text)
    expected = {
        "event.id": 46,
        "event.source": "MSExchange OWA",
        "proxy.source_server": "cas01.contoso.com",
        "proxy.target_server": "cas02.contoso.com",
    }
    assert subset(facts, expected) == expected
    assert "owa-proxy-version-mismatch" in facts["signatures"]


def test_a_source_label_in_prose_is_not_an_event_source() -> None:
    assert "event.source" not in read("As the docs say (Source: Microsoft Learn), restart IIS.")
    assert read("Log Name: Application\nSource: Schannel\nEvent ID: 36887")["event.source"] == "Schannel"


def test_ecp_28_target_url_is_http() -> None:
    facts = read(paste("event-ecp-28.txt"))
    expected = {
        "event.id": 28,
        "event.source": "MSExchange Control Panel",
        "proxy.target_server": "cas02.branch.contoso.com",
        "target.url": "http://cas02.branch.contoso.com/ecp",
        "target.url_scheme": "http",
        "http.statuses": [403],
    }
    assert subset(facts, expected) == expected


FEDTRUST_ERRORS_TABLE = ["OrganizationCertificate", "TokenRequest", "TokenValidation"]


def test_test_federationtrust_table() -> None:
    facts = read(paste("test-federationtrust-table.txt"))
    rows = facts["test.federation_trust"]
    assert [row["id"] for row in rows][:3] == [
        "FederationTrustConfiguration",
        "FederationMetadata",
        "StsCertificate",
    ]
    assert len(rows) == 8
    assert rows[4] == {
        "id": "OrganizationCertificate",
        "type": "Error",
        "message": "Unable to find the certificate referenced by property OrgPrivCertificate in the FederationTrust object.",
    }
    assert facts["test.federation_trust.errors"] == FEDTRUST_ERRORS_TABLE


def test_test_federationtrust_format_list_with_a_wrapped_message() -> None:
    facts = read(paste("test-federationtrust-fl.txt"))
    assert [row["type"] for row in facts["test.federation_trust"]] == ["Success", "Success", "Error", "Error"]
    assert facts["test.federation_trust"][2]["message"].endswith(
        "in the FederationTrust object. Thumbprint: 8A2F0D3B6C1E4F5A7B9C0D1E2F3A4B5C6D7E8F90"
    )
    assert facts["test.federation_trust.errors"] == ["OrganizationCertificate", "TokenRequest"]
    assert "delegation-token-request-failed" in facts["signatures"]


def test_test_oauthconnectivity() -> None:
    facts = read(paste("test-oauthconnectivity.txt"))
    [row] = facts["test.oauth"]
    assert row["service"] == "Checking EWS API Call Under Oauth"
    assert row["result"] == "Error"
    assert "The remote server returned an error: (401) Unauthorized." in row["detail"]
    assert facts["test.oauth.result"] == "Error"
    assert facts["http.statuses"] == [401]
    assert "remote-server-returned-error" in facts["signatures"]


def test_test_oauthconnectivity_success() -> None:
    text = "Task        : Checking EWS API Call Under Oauth\nDetail      : The request succeeded.\nResultType  : Success\n"
    facts = read(text)
    assert facts["test.oauth.result"] == "Success"


def test_test_organizationrelationship() -> None:
    facts = read(paste("test-organizationrelationship.txt"))
    [row] = facts["test.orgrel"]
    assert row["status"] == "Warning"
    assert row["description"].endswith("organization relationship: sub.contoso.com.")
    assert facts["test.orgrel.errors"] == [
        "LocalFederatedDomainsAreMissingFromTheRemoteOrganizationRelationsipDomains"
    ]


def test_test_federationtrustcertificate() -> None:
    facts = read(paste("test-federationtrustcertificate.txt"))
    assert [(r["site"], r["server"], r["state"]) for r in facts["test.fedcert"]] == [
        ("contoso.com/Configuration/Sites/HQ", "EX01.contoso.com", "Installed"),
        ("contoso.com/Configuration/Sites/HQ", "EX02.contoso.com", "Installed"),
        ("contoso.com/Configuration/Sites/DR", "EX03.contoso.com", "NotInstalled"),
    ]
    assert facts["test.fedcert"][0]["thumbprint"] == "8A2F0D3B6C1E4F5A7B9C0D1E2F3A4B5C6D7E8F90"
    assert facts["test.fedcert.problem_servers"] == ["EX03.contoso.com"]


def test_a_table_of_other_columns_is_not_a_test_cmdlet() -> None:
    text = "FolderName           User                 AccessRights\n----------           ----                 ------------\nCalendar             Default              {AvailabilityOnly}\n"
    assert read(text) == {}


def case_text(case_id: str) -> str:
    return "\n".join(CASES[case_id]["error_text"])


CASE_FACTS: dict[str, dict[str, Any]] = {
    "fedcert-missing-non-internet-facing-site": {
        "event.id": 4002,
        "event.source": "MSExchange Availability",
        "proxy.type": "CrossSite",
        "request.requester": "UserA@contoso.mail.onmicrosoft.com",
        "caller.sids": "WSSecurity",
        "target.url_scheme": "https",
    },
    "fedcert-missing-second-datacenter": {"test.federation_trust.errors": ["OrganizationCertificate"]},
    "federation-metadata-stale": {
        "test.federation_trust.errors": ["TokenValidation"],
        "error.codes": ["ErrorProxyRequestProcessingFailed"],
    },
    "default-calendar-permission-none": {"error.lids": [47652, 44348, 40764]},
    "orgrel-domainnames-missing-requester-domain": {
        "error.codes": ["ErrorNoFreeBusyAccess", "5037"],
        "test.orgrel.errors": ["LocalFederatedDomainsAreMissingFromTheRemoteOrganizationRelationsipDomains"],
    },
    "remote-routing-address-wrong-5016": {"error.codes": ["5016"]},
    "tls10-disabled-old-cu-crosssite-444": {
        "proxy.type": "CrossSite",
        "target.url": "https://server1.domain.com:444/EWS/Exchange.asmx",
        "target.port": 444,
        "caller.sids": "NetworkCredentials",
        "error.lids": [43532],
    },
    "hybrid-mesh-crossorg-proxy-not-allowed": {
        "exception.types": ["CrossOrganizationProxyNotAllowedForExternalOrganization"],
        "error.lids": [39660],
    },
    "oauth-authserver-invalid-signature": {"http.statuses": [401], "error.codes": ["invalid_signature"]},
    "dedicated-hybrid-app-not-activated": {"http.statuses": [403]},
    "hcw-oauth-portion-failed-ioc-disabled": {"error.codes": ["HCW8064"]},
    "http-503-service-unavailable": {"http.statuses": [503]},
    "autodiscover-endpoint-404": {"http.statuses": [404], "exception.types": ["WebException"]},
    "owa42-target-internalurl-http": {
        "event.id": 42,
        "event.source": "MSExchange OWA",
        "error.codes": ["ProxyErrorSslConnection"],
    },
    "owa46-cas-version-mismatch": {"event.id": 46, "event.source": "MSExchange OWA"},
    "ecp28-target-internalurl-http-or-403": {"event.id": 28, "event.source": "MSExchange Control Panel"},
    "federatedcrossforest-untrusted-remote-certificate": {
        "proxy.type": "FederatedCrossForest",
        "exception.types": ["AuthenticationException"],
    },
    "request-timed-out": {"exception.types": ["TimeoutExpiredException"], "error.lids": [43404]},
}


@pytest.mark.parametrize("case_id", sorted(CASE_FACTS))
def test_reference_case_error_texts(case_id: str) -> None:
    facts = read(case_text(case_id))
    expected = CASE_FACTS[case_id]
    assert subset(facts, expected) == expected


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_every_reference_case_reads_without_error(case_id: str) -> None:
    read(case_text(case_id))
