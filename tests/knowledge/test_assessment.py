"""The one assessment: the precedence of facts, one result per check, shared facts, where each fact came
from, matched indicators and rule-outs, and which checks looked."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from knowledge.assessment import CONFIDENT, FactSource, Reported, assess, check_facts, combine_facts
from knowledge.loader import load_knowledge
from tests.knowledge.test_loader import data, edit, problems  # noqa: F401  (the fixture)
from tests.texts import pasted_text

KB = load_knowledge()
PAIR = {"requester": "usera@contoso.mail.onmicrosoft.com", "target": "bjorn@contoso.com"}
MISSING: dict[str, Any] = {
    "fedcert.missing_servers": ["EX02"],
    "fedcert.missing_sites": ["Branch"],
    "fedcert.source_server": "EX01",
}


def test_what_the_user_said_beats_the_checks_which_beat_the_paste() -> None:
    said = {"scope": "pair"}
    pasted = {"scope": "all", "proxy.type": "CrossSite", "target.url": "https://ex02/EWS"}
    results = [Reported("topology", {"scope": "site", "target.site": "Branch"})]
    assessment = assess(KB, said=said, pasted=pasted, results=results)
    assert assessment.facts["scope"] == "pair"
    assert assessment.sources["scope"] == FactSource("said")
    facts = combine_facts(KB, {}, pasted, results)
    assert facts["scope"] == "site", "a check's reading beats the reader's"
    assert assessment.sources["target.site"] == FactSource("check", "topology")
    assert assessment.sources["proxy.type"] == FactSource("pasted")


def test_the_paste_stands_in_for_the_pair_the_user_has_not_given() -> None:
    pasted = {
        "request.requester": "usera@contoso.mail.onmicrosoft.com",
        "request.target": "userb@contoso.com",
    }
    assessment = assess(KB, said={"target": "bob@contoso.com"}, pasted=pasted)
    assert assessment.facts["requester"] == "usera@contoso.mail.onmicrosoft.com"
    assert assessment.sources["requester"] == FactSource("pasted")
    assert assessment.facts["target"] == "bob@contoso.com"


def test_a_later_result_of_the_same_check_replaces_the_earlier_one() -> None:
    before = Reported("federation-certificates", {"fedcert.missing_servers": ["EX02", "EX03"]}, "error")
    after = Reported("federation-certificates", {"fedcert.missing_servers": ["EX03"]}, "fail")
    assessment = assess(KB, said=PAIR, results=[before, after])
    assert assessment.facts["fedcert.missing_servers"] == ["EX03"]
    assert [(c.id, c.status) for c in assessment.checks] == [("federation-certificates", "fail")]
    assert assessment.checks_ran == ["federation-certificates"]


@pytest.mark.parametrize("order", [1, -1])
def test_a_shared_fact_comes_from_the_check_declared_first_whatever_order_they_report_in(order: int) -> None:
    trust = Reported("federation-trust", {"fedcert.thumbprint": "AAAA"})
    certificates = Reported("federation-certificates", {"fedcert.thumbprint": "BBBB"})
    results = [trust, certificates][::order]
    assert KB.shared_facts["fedcert.thumbprint"][0] == "federation-trust"
    assert check_facts(KB, results)["fedcert.thumbprint"] == "AAAA"
    assessment = assess(KB, results=results)
    assert assessment.sources["fedcert.thumbprint"] == FactSource("check", "federation-trust")


def test_two_checks_establishing_one_fact_undeclared_is_a_load_error(data: Path) -> None:  # noqa: F811
    def drop(content: Any) -> None:
        del content["shared_facts"]["oauth.vdirs_without_oauth"]

    edit(data / "checks.yaml", drop)
    assert any(
        "oauth.vdirs_without_oauth" in p and "oauth-configuration, virtual-directories" in p
        for p in problems(data)
    )


def test_a_shared_fact_must_name_the_checks_that_establish_it(data: Path) -> None:  # noqa: F811
    def wrong(content: Any) -> None:
        content["shared_facts"]["fedcert.thumbprint"] = ["federation-trust", "topology"]

    edit(data / "checks.yaml", wrong)
    assert any("shared_facts 'fedcert.thumbprint'" in p for p in problems(data))


def test_a_ranked_cause_carries_its_matched_indicators_with_weights_sentences_and_sources() -> None:
    results = [Reported("federation-certificates", MISSING, "fail")]
    assessment = assess(KB, said=PAIR, pasted={"event.id": 4002}, results=results)
    best = assessment.best
    assert best is not None and best.id == "federation-cert-missing-on-site"
    assert assessment.confident and best.confidence >= CONFIDENT
    shown = [(m.match.fact, m.match.weight, m.source) for m in assessment.indicators(best)]
    assert shown[0] == ("fedcert.missing_servers", 0.9, FactSource("check", "federation-certificates"))
    assert ("event.id", 0.3, FactSource("pasted")) in shown
    assert assessment.indicators(best)[0].match.says.endswith("missing on EX02.")
    weights = [w for _, w, _ in shown]
    assert best.confidence == round(1 - math.prod(1 - w for w in weights), 3)
    document: Any = assessment.as_dict()
    as_json = document["causes"][0]["indicators"][0]
    assert as_json["source"] == {"kind": "check", "check": "federation-certificates"}


def test_a_ruled_out_cause_says_which_rule_out_held_and_how_strongly_it_was_pointed_to() -> None:
    facts = {**MISSING, "fedcert.missing_servers": []}
    assessment = assess(
        KB, said=PAIR, pasted={"event.id": 4002}, results=[Reported("federation-certificates", facts)]
    )
    gone = next(r for r in assessment.ruled_out if r.id == "federation-cert-missing-on-site")
    assert gone.by is not None and gone.by.fact == "fedcert.missing_servers"
    assert gone.reason == gone.by.says
    assert 0.0 < gone.strength < 1.0
    assert "federation-cert-missing-on-site" not in [c.id for c in assessment.causes]


def test_a_check_that_errored_did_not_look_and_stays_on_the_causes_to_do_list() -> None:
    results = [
        Reported("federation-certificates", {}, "error"),
        Reported("topology", {"target.site.internet_facing": False}, "ok"),
    ]
    assessment = assess(KB, said=PAIR, pasted={"event.id": 4002, "proxy.type": "CrossSite"}, results=results)
    assert assessment.checks_errored == ["federation-certificates"]
    assert assessment.checks_ran == ["topology"]
    cause = next(c for c in assessment.causes if c.id == "federation-cert-missing-on-site")
    assert "federation-certificates" in cause.checks and "topology" not in cause.checks


def test_an_implied_symptom_is_added_and_said_to_be_implied() -> None:
    from knowledge.reader.error_text import read_error_text

    text = pasted_text("seed-000-event-4002.txt")
    assessment = assess(KB, pasted=read_error_text(text))
    assert assessment.facts["symptom"] == "freebusy-cloud-to-onprem"
    assert assessment.sources["symptom"] == FactSource("implied")
    said = assess(KB, said={"symptom": "freebusy-cross-forest"}, pasted=read_error_text(text))
    assert said.facts["symptom"] == "freebusy-cross-forest"
    assert said.sources["symptom"] == FactSource("said")
