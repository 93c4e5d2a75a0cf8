"""The catalogues: every entry names its source (the loader rejects one that does not), each rendering of an
event is recognised, request lines, codes and command output point to their causes, generic evidence weighs
little alone, and an answer with no confident cause says what was recognised or asks for the right output."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.diagnosis import diagnose
from knowledge.inference import GENERIC_CAP
from knowledge.loader import DATA_DIR, KnowledgeError, load_knowledge, load_knowledge_from
from knowledge.reader.error_text import read_error_text
from knowledge.unknowns import unknown
from triage.commands import render_report

KB = load_knowledge()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    return copy


def edit(path: Path, change: Callable[[Any], None]) -> None:
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(content)
    path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")


def problems(data: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge_from(data)
    return caught.value.problems


def recognised(text: str) -> list[str]:
    found = read_error_text(text).get("recognised") or []
    assert isinstance(found, list)
    return [str(i) for i in found]


def ranked(text: str, **said: str) -> list[str]:
    return [c.id for c in diagnose(KB, text=text, conversation=said).causes]


# --- provenance and the loader -------------------------------------------------------------------------


def test_the_catalogues_hold_events_and_entries_of_every_kind() -> None:
    kinds = {e.kind for e in KB.catalogue.entries.values()}
    assert {"http", "iis", "httpproxy", "ews-code", "aadsts", "hcw", "cmdlet", "w32tm", "certutil"} <= kinds
    assert {"nltest", "setspn", "message"} <= kinds
    providers = {e.provider for e in KB.catalogue.events.values()}
    for provider in (
        "MSExchange Availability",
        "MSExchange OWA",
        "MSExchange Control Panel",
        "MSExchange Front End HTTP Proxy",
        "MSExchange Autodiscover",
        "Schannel",
        "Microsoft-Windows-Time-Service",
        "HttpEvent",
    ):
        assert provider in providers


def test_every_event_and_entry_names_a_public_source() -> None:
    for ident in KB.catalogue.ids:
        described = KB.catalogue.describe(ident)
        assert described is not None and described.sources, ident
        assert all(url.startswith("https://") for url in described.sources), ident


def test_every_new_cause_names_its_docs_checks_and_remediations() -> None:
    for path in sorted((DATA_DIR / "causes").glob("field_*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["causes"]:
            cause = KB.causes[raw["id"]]
            assert cause.docs and cause.checks and cause.remediations, cause.id


def test_an_event_without_a_source_is_rejected(data: Path) -> None:
    edit(data / "events/msexchange_owa.yaml", lambda c: c["events"][1].pop("sources"))
    [problem] = problems(data)
    assert problem.endswith(
        "events/msexchange_owa.yaml: event 43: sources: names no source: every entry "
        "needs at least one public page it comes from"
    )


def test_an_entry_with_an_empty_source_list_is_rejected(data: Path) -> None:
    edit(data / "catalogues/aadsts.yaml", lambda c: c["entries"][0].update(sources=[]))
    [problem] = problems(data)
    assert "catalogues/aadsts.yaml: entry 'aadsts500011': sources: names no source" in problem


def test_an_entry_naming_an_unknown_cause_or_fact_is_rejected(data: Path) -> None:
    def change(content: Any) -> None:
        content["entries"][0]["causes"] = {"no-such-cause": 0.5}
        content["entries"][0]["sets"] = [{"fact": "no.such.fact", "value": "x"}]

    edit(data / "catalogues/aadsts.yaml", change)
    found = problems(data)
    assert any("entry 'aadsts500011': causes[0]: unknown cause 'no-such-cause'" in p for p in found)
    assert any("entry 'aadsts500011': sets[0].fact: unknown fact 'no.such.fact'" in p for p in found)


def test_an_event_catalogued_twice_is_rejected(data: Path) -> None:
    edit(data / "events/msexchange_owa.yaml", lambda c: c["events"].append(dict(c["events"][0])))
    assert any("duplicate: MSExchange OWA 42 is catalogued twice" in p for p in problems(data))


# --- recognising events in every rendering ---------------------------------------------------------------

EVENT_43 = "event-msexchange-owa-43"


@pytest.mark.parametrize(
    "text",
    [
        "ProxyErrorSslTrustFailure",
        "Log Name: Application\nSource: MSExchange OWA\nEvent ID: 43\nLevel: Warning\nDescription: ...",
        "ProviderName : MSExchange OWA\nId           : 43\nMessage      : Client Access server ...",
        "<Event><System><Provider Name='MSExchange OWA' /><EventID Qualifiers='49152'>43</EventID></System></Event>",
        "we get event 43 on the CAS every few minutes",
        "MSExchange OWA 43",
    ],
    ids=["symbolic", "event-viewer", "get-winevent", "xml", "sentence", "heading"],
)
def test_an_event_is_recognised_in_any_rendering(text: str) -> None:
    assert EVENT_43 in recognised(text)
    assert ranked(text)[0] == "owa-proxy-certificate-not-trusted"


def test_a_number_two_providers_use_needs_their_source_or_words() -> None:
    assert recognised("event 4002 on the CAS") == []
    assert recognised("event 4002 when users look up free/busy") == ["event-msexchange-availability-4002"]
    assert recognised("NTLM event 4002 keeps appearing") == ["event-microsoft-windows-ntlm-4002"]
    assert recognised("Source: MSExchange Availability\nEvent ID: 4002") == [
        "event-msexchange-availability-4002"
    ]


def test_a_source_of_another_provider_recognises_nothing_by_number() -> None:
    assert recognised("Source: MSExchangeIS\nEvent ID: 43") == []


# --- request lines, codes and command output ---------------------------------------------------------------

IIS_403_6 = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "sc-status sc-substatus sc-win32-status time-taken\n"
    "2026-11-20 09:14:02 10.0.0.5 POST /EWS/Exchange.asmx - 443 - 10.0.9.9 ASProxy/CrossForest/EmailDomain 403 6 5 0\n"
)
HTTPPROXY = (
    "DateTime,RequestId,UrlStem,HttpStatus,BackEndStatus,Method,ProxyAction,TargetServer,ErrorCode,GenericErrors\n"
    "2026-11-20T09:14:02.000Z,1a,/owa/,500,,GET,Proxy,EX03.contoso.com,OrganizationMailboxNotFound,\n"
)


@pytest.mark.parametrize(
    ("text", "entry", "cause"),
    [
        (IIS_403_6, "iis-403-6", "iis-ip-restrictions-block-caller"),
        (IIS_403_6.replace(" 403 6 5 ", " 403 7 5 "), "iis-403-7", "ews-vdir-requires-client-certificate"),
        (HTTPPROXY, "organization-mailbox-not-found", "anchor-mailbox-unavailable"),
        (
            "AADSTS500011: The resource principal named https://mail.contoso.com was not found in the tenant.",
            "aadsts500011",
            "onprem-urls-missing-from-exo-spn",
        ),
        (
            "HCW8017 Hybrid domain contoso.com isn't an accepted domain in the Office 365 tenant.",
            "hcw8017",
            "hybrid-domain-not-accepted",
        ),
        (
            "<m:ResponseCode>ErrorNoDestinationCASDueToSSLRequirements</m:ResponseCode>",
            "ews-errornodestinationcasduetosslrequirements",
            "ews-target-internalurl-not-https",
        ),
        (
            "Leap Indicator: 3(not synchronized)\nSource: Free-running System Clock",
            "w32tm-free-running-clock",
            "server-clock-skew",
        ),
        (
            "CertUtil: -verify command FAILED: 0x80092013 (-2146885613 CRYPT_E_REVOCATION_OFFLINE)",
            "certutil-revocation-offline",
            "crl-revocation-check-offline",
        ),
        (
            "Flags: 0 \nTrust Verification Status = 0x6fb ERROR_NO_TRUST_SAM_ACCOUNT",
            "nltest-secure-channel-broken",
            "computer-secure-channel-broken",
        ),
        (
            "Checking domain DC=contoso,DC=com\nfound 1 group of duplicate SPNs.",
            "setspn-duplicate",
            "duplicate-spn-breaks-kerberos",
        ),
        (
            "System.NotSupportedException: The ServicePointManager does not support proxies with the https scheme.",
            "servicepointmanager-https-proxy",
            "internet-web-proxy-https-scheme",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 60 else None,
)
def test_a_line_points_to_its_cause(text: str, entry: str, cause: str) -> None:
    assert entry in recognised(text)
    assert ranked(text)[0] == cause


def test_iis_lines_become_request_records_with_their_proxying_agent() -> None:
    facts = read_error_text(IIS_403_6)
    assert facts["http.requests"] == [
        {
            "method": "POST",
            "path": "/EWS/Exchange.asmx",
            "status": "403",
            "substatus": "6",
            "win32": "5",
            "backend_status": "",
            "error": "",
            "server": "",
            "agent": "ASProxy/CrossForest",
        }
    ]


def test_a_certutil_thumbprint_is_read_into_a_fact() -> None:
    facts = read_error_text("Cert Hash(sha1): 1a 2b 3c 4d 5e 6f 70 81 92 a3 b4 c5 d6 e7 f8 09 1a 2b 3c 4d")
    assert facts["cert.thumbprint"] == "1a 2b 3c 4d 5e 6f 70 81 92 a3 b4 c5 d6 e7 f8 09 1a 2b 3c 4d"


def test_headers_name_the_servers_a_request_went_through() -> None:
    facts = read_error_text(
        "X-FEServer: EX01\nX-BEServer: EX03.contoso.com\nX-OWA-Error: Microsoft.Exchange.Data.Storage.UserHasNoMailboxException"
    )
    assert facts["proxy.frontend_server"] == "EX01"
    assert facts["proxy.backend_server"] == "EX03.contoso.com"
    assert facts["owa.error"] == "Microsoft.Exchange.Data.Storage.UserHasNoMailboxException"


# --- calibration --------------------------------------------------------------------------------------------


def test_generic_evidence_alone_stays_low() -> None:
    text = "System.Net.WebException: The remote server returned an error: (401) Unauthorized. The operation has timed out."
    causes = diagnose(KB, text=text).causes
    assert causes and all(c.confidence <= GENERIC_CAP for c in causes)


def test_a_reset_connection_does_not_outweigh_a_distinctive_event() -> None:
    text = (
        "ProxyWebRequest CrossSite failed: An existing connection was forcibly closed by the remote host.\n"
        "Source: MSExchange OWA\nEvent ID: 43\n"
    )
    assert ranked(text)[0] == "owa-proxy-certificate-not-trusted"


def test_distinctive_evidence_is_reported_confidently() -> None:
    best = diagnose(KB, text="HCW8017 Hybrid domain contoso.com isn't an accepted domain in the tenant.").best
    assert best is not None and best.id == "hybrid-domain-not-accepted" and best.confidence >= 0.8


# --- honest unknowns ---------------------------------------------------------------------------------------


def test_a_recognised_event_without_a_cause_is_explained_with_checks_and_escalation() -> None:
    result = diagnose(KB, text="Log Name: Application\nSource: MSExchange Availability\nEvent ID: 4002\n")
    honest = unknown(KB, result)
    assert honest is not None and honest.ask is None and honest.escalate
    assert [r.id for r in honest.recognised] == ["event-msexchange-availability-4002"]
    assert "freebusy-probe" in honest.checks
    report = render_report(result, kb=KB)
    assert "No cause fits with confidence, but I recognised:" in report
    assert "MSExchange Availability event 4002: a proxied free/busy request failed" in report
    assert "Checks that would tell more: event-logs, freebusy-probe" in report
    assert "Escalate to the Exchange team" in report
    assert "nothing in it" not in report.lower()


def test_nothing_recognised_asks_for_the_output_with_the_exact_command() -> None:
    result = diagnose(
        KB,
        text="users cannot see the calendar of people in the other office",
        conversation={"symptom": "owa-ecp-cross-site-proxy"},
    )
    honest = unknown(KB, result)
    assert honest is not None and honest.recognised == [] and honest.ask is not None
    assert honest.ask.commands[0].startswith(
        "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='MSExchange OWA'"
    )
    report = render_report(result, kb=KB)
    assert (
        "Nothing in what you pasted is an event, error code, status or command output I recognise." in report
    )
    assert "PS> Get-WinEvent" in report


def test_a_confident_answer_has_no_unknown_section() -> None:
    result = diagnose(KB, text="ProxyErrorSslTrustFailure")
    assert unknown(KB, result) is None


def test_an_event_the_event_logs_check_found_points_to_its_causes_too() -> None:
    from knowledge.assessment import Reported, assess

    found = Reported("event-logs", {"events.found": ["EX01: MSExchange OWA 43"], "events.ids": [43]}, "warn")
    best = assess(KB, results=[found]).best
    assert best is not None and best.id == "owa-proxy-certificate-not-trusted"
    assert best.evidence[0].endswith("logged on the servers: EX01: MSExchange OWA 43.")
    other = Reported(
        "event-logs", {"events.found": ["EX01: MSExchange Control Panel 43"], "events.ids": [43]}
    )
    assert assess(KB, results=[other]).best is None


def test_get_winevents_default_table_is_read() -> None:
    table = (
        "   ProviderName: MSExchange OWA\n\n"
        "TimeCreated                      Id LevelDisplayName Message\n"
        "-----------                      -- ---------------- -------\n"
        '11/20/2026 9:14:02 AM            43 Warning          Client Access server "EX01" tried to proxy ...\n'
        '20.11.2026 09:15:02              43 Warning          Client Access server "EX01" tried to proxy ...\n'
    )
    facts = read_error_text(table)
    assert facts["event.ids"] == [43] and facts["event.source"] == "MSExchange OWA"
    assert recognised(table) == [EVENT_43]


def test_a_cause_without_docs_is_rejected(data: Path) -> None:
    def change(content: Any) -> None:
        content["causes"][0].pop("docs")

    edit(data / "causes/field_proxy_auth.yaml", change)
    [problem] = problems(data)
    assert problem.endswith(
        "cause 'owa-proxy-certificate-not-trusted': docs: names no source: every entry needs at least one "
        "public page it comes from"
    )


def test_an_event_found_with_what_it_names_still_counts() -> None:
    from knowledge.assessment import Reported, assess

    found = Reported("event-logs", {"events.found": ["EX01: MSExchange OWA 71 (to 10.20.0.13)"]}, "warn")
    best = assess(KB, results=[found]).best
    assert best is not None and best.id == "owa-proxy-kerberos-spn-missing"
    other = Reported("event-logs", {"events.found": ["EX01: MSExchange OWA 710"]}, "warn")
    assert assess(KB, results=[other]).best is None
