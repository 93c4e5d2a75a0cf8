"""Site-wide checks: every server of the target's site is examined, not only the target's own.

The bundled scenario `owa-branch-two-servers` has two Branch servers with different faults (EX03's OWA
InternalUrl is http://, EX04's /owa answers 403). Through the real clients against the lab, both are found,
both causes rank first and second with their server named, and each remediation names its own server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from checks.impl.events import proxied_to
from knowledge.assessment import assess
from knowledge.loader import KnowledgeBase
from lab.runtime import RunningLab, start_lab
from tests.checks.conftest import run_on_lab
from triage.backends import run_checks_once

TWO_SERVERS = "owa-branch-two-servers"


@pytest.fixture(scope="module")
def two_servers() -> Iterator[RunningLab]:
    lab = start_lab(TWO_SERVERS)
    try:
        yield lab
    finally:
        lab.close()


@pytest.mark.lab
async def test_two_servers_of_one_site_with_different_faults_are_both_found_and_both_remediated(
    kb: KnowledgeBase,
) -> None:
    results, facts = await run_checks_once("lab", facts={}, kb=kb, scenario=TWO_SERVERS)
    assert facts["target"] == "bjorn@contoso.com"  # on EX03: EX04 is not the target's own server
    inference = assess(kb, said=facts, results=results)
    first_two = {c.id: c for c in inference.causes[:2]}
    assert set(first_two) == {"owa-internalurl-not-https", "owa-target-vdir-not-ssl"}, [
        (c.id, c.confidence) for c in inference.causes[:4]
    ]

    http, forbidden = first_two["owa-internalurl-not-https"], first_two["owa-target-vdir-not-ssl"]
    assert any("EX03" in sentence for sentence in http.evidence), http.evidence
    assert any("EX04" in sentence and "403" in sentence for sentence in forbidden.evidence), (
        forbidden.evidence
    )
    # Each remediation names its own server, with that server's own URL, and not the other one.
    (set_url,) = http.remediations
    assert set_url.commands == [
        "Set-OwaVirtualDirectory -Identity 'EX03\\owa (Default Web Site)' -InternalUrl https://ex03.contoso.com/owa"
    ]
    (require_ssl,) = forbidden.remediations
    assert require_ssl.missing == []
    assert all("EX04" in c for c in require_ssl.commands)
    assert not any("EX03" in c for c in [*require_ssl.commands, *require_ssl.verify])
    assert "Invoke-WebRequest -Uri https://ex04.contoso.com/owa" in " ".join(require_ssl.verify)

    by_id = {r.id: r for r in results}
    assert by_id["virtual-directories"].status == "fail"
    assert "EX03's OWA InternalUrl is http://ex03.contoso.com/owa" in by_id["virtual-directories"].summary
    assert "IIS on EX04 does not require SSL on /owa" in by_id["virtual-directories"].summary
    assert "https://ex04.contoso.com/owa: it answers HTTP 403" in by_id["https-probe"].summary
    assert any(e.server == "ex04.contoso.com" and e.value == "403" for e in by_id["https-probe"].evidence)


@pytest.mark.lab
async def test_events_naming_different_target_servers_stay_apart(kb: KnowledgeBase) -> None:
    results, _ = await run_checks_once("lab", facts={}, kb=kb, scenario=TWO_SERVERS)
    events = next(r for r in results if r.id == "event-logs")
    assert events.facts["events.found"] == [
        "EX01: MSExchange OWA 42 (to ex04.contoso.com)",
        "EX01: MSExchange OWA 42 (to ex03.contoso.com)",
    ]


@pytest.mark.lab
async def test_a_site_scope_without_a_target_examines_every_server_of_the_named_site(
    two_servers: RunningLab, kb: KnowledgeBase
) -> None:
    facts = {"scope": "site", "target.site": "Branch", "symptom": "owa-ecp-cross-site-proxy"}
    results = await run_on_lab(two_servers, kb, facts, "virtual-directories", "https-probe")
    vdirs, probe = results["virtual-directories"], results["https-probe"]
    assert vdirs.facts["owa.site.http_internal_url_servers"] == ["EX03"]
    assert vdirs.facts["owa.site.ssl_not_required_servers"] == ["EX04"]
    assert probe.facts["owa.site.https_403_servers"] == ["EX04"]
    assert {"ex03.contoso.com", "ex04.contoso.com"} <= {e.server for e in probe.evidence}


@pytest.mark.lab
async def test_owa_externalurl_on_an_internet_facing_site_is_ruled_out(kb: KnowledgeBase) -> None:
    """A healthy HQ pair and no symptom: HQ publishes its OWA ExternalUrl on purpose (it reached 0.5)."""
    pair = {"requester": "carol@contoso.com", "target": "frank@contoso.com"}
    results, facts = await run_checks_once("lab", facts=pair, kb=kb, scenario="healthy")
    assert facts.get("symptom") is None
    merged = {k: v for r in results for k, v in r.facts.items()}
    assert merged["target.site.internet_facing"] is True and merged["owa.target.external_url"]
    inference = assess(kb, said=facts, results=results)
    assert "owa-externalurl-on-internal-site" not in [c.id for c in inference.causes]
    (ruled,) = [r for r in inference.ruled_out if r.id == "owa-externalurl-on-internal-site"]
    assert "Internet-facing" in ruled.reason


def test_the_proxy_target_is_read_from_the_event_message() -> None:
    owa = 'Client Access server "https://mail.contoso.com/owa" tried to proxy Outlook Web App traffic to Client Access server "http://EX03.contoso.com/owa". This failed'
    availability = "Process 7312: ProxyWebRequest IntraOrgOAuth from S-1-5-21-1 to https://outlook.office365.com/EWS/Exchange.asmx failed."
    assert proxied_to(owa) == "ex03.contoso.com"
    assert proxied_to(availability) == "outlook.office365.com"
    assert proxied_to("The service started.") is None
    assert proxied_to(None) is None
    assert proxied_to("to " * 100_000) is None  # bounded: a huge message is cut before the search
