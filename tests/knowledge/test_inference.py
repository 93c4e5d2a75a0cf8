"""Inference and conditions: pure ranking of causes from facts."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.conditions import holds, holds_all
from knowledge.inference import infer
from knowledge.loader import load_knowledge
from knowledge.model import Condition, Indicator

KB = load_knowledge()


def cond(**kwargs: Any) -> Condition:
    return Condition.model_validate(kwargs)


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        (cond(fact="proxy.type", equals="crosssite"), {"proxy.type": "CrossSite"}, True),
        (cond(fact="event.id", equals=4002), {"event.id": 4002}, True),
        (cond(fact="event.id", equals=4002), {"event.id": 42}, False),
        (cond(fact="fedtrust.present", equals=True), {"fedtrust.present": 1}, False),
        (cond(fact="scope", **{"in": ["all", "site"]}), {"scope": "Site"}, True),
        (
            cond(fact="error.codes", contains="ErrorProxyRequestProcessingFailed"),
            {"error.codes": ["errorproxyrequestprocessingfailed"]},
            True,
        ),
        (cond(fact="event.ids", any_of=[42, 43]), {"event.ids": [1, 43]}, True),
        (cond(fact="event.ids", any_of=[42, 43]), {"event.ids": [1]}, False),
        (cond(fact="target.url", matches=r"^http://"), {"target.url": "HTTP://ex02/owa"}, True),
        (
            cond(fact="exception.types", matches="SocketException"),
            {"exception.types": ["System.Net.Sockets.SocketException"]},
            True,
        ),
        (cond(fact="fedcert.missing_servers", present=True), {"fedcert.missing_servers": ["EX03"]}, True),
        (cond(fact="fedcert.missing_servers", present=True), {"fedcert.missing_servers": []}, False),
        (cond(fact="fedcert.missing_servers", present=False), {}, True),
        (cond(fact="fedcert.missing_servers", empty=True), {"fedcert.missing_servers": []}, True),
        (cond(fact="fedcert.missing_servers", empty=True), {}, False),
        (cond(fact="fedcert.days_left", lte=0), {"fedcert.days_left": -3}, True),
        (cond(fact="fedcert.days_left", gte=30), {"fedcert.days_left": 10}, False),
        (cond(fact="fedcert.days_left", gte=0), {"fedcert.days_left": True}, False),
        (cond(fact="event.id", equals=4002), {}, False),
    ],
)
def test_condition(condition: Condition, facts: dict[str, Any], expected: bool) -> None:
    assert holds(condition, facts) is expected


def test_configuration_evidence_puts_its_cause_first_with_evidence_and_remediation() -> None:
    facts: dict[str, Any] = {
        "fedcert.missing_servers": ["EX03.contoso.com", "EX04.contoso.com"],
        "fedcert.thumbprint": "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
        "fedcert.source_server": "EX01.contoso.com",
    }
    best = infer(KB, facts).best
    assert best is not None and best.id == "federation-cert-missing-on-site"
    assert best.confidence >= 0.9
    assert (
        "The federation certificate (or its private key) is missing on EX03.contoso.com, EX04.contoso.com."
        in best.evidence
    )
    [remediation] = best.remediations
    assert (
        "Import-ExchangeCertificate -Server EX03.contoso.com -FileData $export.FileData -Password $password"
        in remediation.commands
    )
    assert (
        "Import-ExchangeCertificate -Server EX04.contoso.com -FileData $export.FileData -Password $password"
        in remediation.commands
    )
    assert remediation.missing == []


def test_a_matched_rule_out_removes_the_cause_and_says_why() -> None:
    facts: dict[str, Any] = {"event.id": 4002, "proxy.type": "CrossSite", "fedcert.missing_servers": []}
    result = infer(KB, facts)
    assert "federation-cert-missing-on-site" not in [c.id for c in result.causes]
    [ruled] = [r for r in result.ruled_out if r.id == "federation-cert-missing-on-site"]
    assert ruled.reason == "Every server holds the federation certificate with its private key."


def test_a_known_symptom_the_cause_does_not_produce_excludes_it() -> None:
    facts: dict[str, Any] = {
        "symptom": "owa-ecp-cross-site-proxy",
        "event.id": 4002,
        "proxy.type": "CrossSite",
    }
    assert "federation-cert-missing-on-site" not in [c.id for c in infer(KB, facts).causes]


def test_confidence_is_the_noisy_or_of_the_matched_weights() -> None:
    cause = KB.causes["owa-internalurl-not-https"]
    weights = {
        i.fact: i.weight for i in cause.indicators if i.fact in ("owa.target.internal_url_scheme", "event.id")
    }
    facts: dict[str, Any] = {"owa.target.internal_url_scheme": "http", "event.id": 42}
    [ranked] = [c for c in infer(KB, facts).causes if c.id == cause.id]
    expected = 1 - (1 - weights["owa.target.internal_url_scheme"]) * (1 - weights["event.id"])
    assert ranked.confidence == pytest.approx(expected, abs=0.001)


def test_inference_is_deterministic_and_sorted() -> None:
    facts: dict[str, Any] = {
        "event.id": 42,
        "signatures": ["owa-proxy-ssl-configuration", "connection-forcibly-closed"],
    }
    first, second = infer(KB, facts), infer(KB, facts)
    assert [c.as_dict() for c in first.causes] == [c.as_dict() for c in second.causes]
    keys = [(-c.confidence, -c.matched, c.id) for c in first.causes]
    assert keys == sorted(keys)


def test_checks_already_run_leave_the_to_do_list() -> None:
    facts: dict[str, Any] = {"event.id": 4002}
    [cause] = [
        c
        for c in infer(KB, facts, checks_run=frozenset({"topology"})).causes
        if c.id == "federation-cert-missing-on-site"
    ]
    assert "topology" not in cause.checks and "federation-certificates" in cause.checks


def test_nothing_known_means_no_causes() -> None:
    assert infer(KB, {}).causes == []


def test_an_indicator_with_also_conditions_matches_only_in_its_context() -> None:
    indicator = Indicator.model_validate(
        {
            "fact": "ioc.enabled",
            "equals": False,
            "weight": 0.5,
            "says": "The connector is disabled.",
            "also": [{"fact": "oauth.in_use", "equals": True}],
        }
    )
    assert not holds_all(indicator, {"ioc.enabled": False})
    assert not holds_all(indicator, {"ioc.enabled": False, "oauth.in_use": False})
    assert holds_all(indicator, {"ioc.enabled": False, "oauth.in_use": True})
