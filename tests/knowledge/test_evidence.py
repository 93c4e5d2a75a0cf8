"""Which check observations bear on a cause (`knowledge.evidence.bearing`): the rows showing a matched
indicator's fact at its value, never rows that merely share a True/False with it, and a count of the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checks.api import CheckResult, Evidence
from knowledge.assessment import assess
from knowledge.evidence import bearing
from knowledge.jsonvalue import JsonObject
from knowledge.loader import load_knowledge
from tests.knowledge.test_loader import data, edit, problems  # noqa: F401  (the fixture)

KB = load_knowledge()
SAID: JsonObject = {
    "requester": "carol@contoso.com",
    "target": "bjorn@contoso.com",
    "symptom": "owa-ecp-cross-site-proxy",
    "scope": "site",
}
VDIRS = [
    Evidence(
        f"{kind} {prop}",
        f"{'http' if (server, kind) == ('EX03', 'owa') else 'https'}://{server}/{kind}",
        server,
    )
    for server in ("EX03", "EX04")
    for kind in ("owa", "ecp", "ews")
    for prop in ("InternalUrl",)
] + [
    Evidence(f"IIS {kind} sslFlags", "Ssl", server) for server in ("EX03", "EX04") for kind in ("owa", "ecp")
]
TOPOLOGY = [
    Evidence("Internet-facing (a server publishes an ExternalUrl)", "False", "Branch"),
    Evidence("Internet-facing (a server publishes an ExternalUrl)", "True", "HQ"),
    Evidence("MAPIBlockOutlookRpcHttp", "False", "bjorn@contoso.com"),
    Evidence("MAPIBlockOutlookExternalConnectivity", "False", "bjorn@contoso.com"),
]


def _results() -> list[CheckResult]:
    return [
        CheckResult(
            "topology",
            "ok",
            "Bjorn is in Branch.",
            tuple(TOPOLOGY),
            {"target.location": "onprem", "target.site": "Branch", "target.site.internet_facing": False},
        ),
        CheckResult(
            "virtual-directories",
            "fail",
            "EX03's OWA InternalUrl is http.",
            tuple(VDIRS),
            {
                "owa.site.http_internal_url_servers": ["EX03"],
                "owa.site.http_internal_urls": [
                    {
                        "server": "EX03",
                        "internal_url": "http://EX03/owa",
                        "suggested_internal_url": "https://EX03/owa",
                    }
                ],
                "vdirs.non_https": ["EX03/owa/InternalUrl"],
            },
        ),
    ]


def test_of_many_virtual_directories_only_the_one_behind_the_cause_is_shown() -> None:
    assessment = assess(KB, said=SAID, results=_results())
    assert assessment.best is not None and assessment.best.id == "owa-internalurl-not-https"
    found = bearing(KB, assessment, assessment.best, _results())
    assert [(c, r.server, r.property, r.value) for c, r in found.rows] == [
        ("virtual-directories", "EX03", "owa InternalUrl", "http://EX03/owa")
    ]
    assert found.others == {"virtual-directories": len(VDIRS) - 1}


def test_a_yes_or_no_fact_shows_its_own_row_and_not_every_row_saying_false() -> None:
    facts: JsonObject = {
        "fedcert.missing_servers": ["EX03"],
        "fedcert.missing_sites": ["Branch"],
        "fedcert.source_server": "EX01",
    }
    results = [
        *_results()[:1],
        CheckResult(
            "federation-certificates",
            "fail",
            "EX03 lacks it.",
            (
                Evidence("Certificate 3226500C943B6235AEB493A307F084710FD1D5D0", "missing", "EX03"),
                Evidence("Certificate 3226500C943B6235AEB493A307F084710FD1D5D0", "present", "EX01"),
            ),
            facts,
        ),
    ]
    said: JsonObject = {**SAID, "symptom": "freebusy-cloud-to-onprem", "scope": "all"}
    assessment = assess(KB, said=said, results=results)
    assert assessment.best is not None and assessment.best.id == "federation-cert-missing-on-site"
    shown = [(r.server, r.property) for _, r in bearing(KB, assessment, assessment.best, results).rows]
    assert ("Branch", "Internet-facing (a server publishes an ExternalUrl)") in shown
    assert ("EX03", "Certificate 3226500C943B6235AEB493A307F084710FD1D5D0") in shown
    assert ("HQ", "Internet-facing (a server publishes an ExternalUrl)") not in shown
    assert not any(p.startswith("MAPIBlockOutlook") for _, p in shown)


def test_the_loader_keeps_evidence_patterns_to_check_facts(data: Path) -> None:  # noqa: F811
    def change(content: Any) -> None:
        content["facts"]["scope"]["evidence"] = "^Scope$"

    edit(data / "facts.yaml", change)
    [problem] = problems(data)
    assert problem.endswith("facts.yaml: fact 'scope': evidence: only a check's fact has rows")


def test_an_absent_permission_shows_the_calendars_entries_not_the_anonymous_none() -> None:
    target = "erin@contoso.com"
    rows = (
        Evidence("Default", "AvailabilityOnly", f"{target}:\\Calendar"),
        Evidence("Anonymous", "None", f"{target}:\\Calendar"),
    )
    facts: JsonObject = {
        "calendar.explicit_permission": "None",
        "calendar.default_permission": "AvailabilityOnly",
    }
    results = [
        CheckResult("calendar-permissions", "fail", "No entry for Carol.", rows, facts),
        CheckResult(
            "sharing-subscriptions",
            "fail",
            "Carol holds one.",
            (Evidence("Sharing subscription", target, "carol@contoso.com"),),
            {"sharing.subscription_present": True, "sharing.subscription_sharer": target},
        ),
    ]
    said: JsonObject = {"requester": "carol@contoso.com", "target": target, "scope": "pair"}
    assessment = assess(KB, said=said, results=results)
    assert assessment.best is not None and assessment.best.id == "sharing-subscription-without-permission"
    shown = [(r.property, r.value) for _, r in bearing(KB, assessment, assessment.best, results).rows]
    assert shown == [("Default", "AvailabilityOnly"), ("Sharing subscription", target)]
