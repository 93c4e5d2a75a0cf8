"""The quality of a diagnosis against the lab, through the real clients: not only the right cause first, but
runners-up quiet enough not to mislead a helpdesk agent, and no check failing a setting that is normal in
that organisation's topology.

Each bundled scenario runs once per module (`outcomes`); the inference is pure, so each is also read with
the error text the user sees (the scenario's free/busy error) pasted beside the checks.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from typing import Any

import pytest

from checks.api import CheckResult
from knowledge.assessment import Assessment, assess
from knowledge.conditions import holds_all
from knowledge.loader import KnowledgeBase, load_knowledge
from knowledge.reader.error_text import read_error_text
from lab.scenario.load import Scenario, load_bundled_scenarios
from triage.backends import run_checks_once

SCENARIOS = {s.name: s for s in load_bundled_scenarios()}
BROKEN = sorted(name for name, s in SCENARIOS.items() if s.expected_causes)

FIRST = 0.8  # the expected cause, once the checks have looked
RUNNER_UP = 0.5  # any other cause
HEALTHY_CEILING = 0.3  # any cause at all, when nothing is broken

# (scenario, cause) pairs allowed above RUNNER_UP, each with the reason a helpdesk agent should see both.
# Keep it empty unless two causes are genuinely indistinguishable from what the checks can see.
SECOND_CANDIDATES: dict[tuple[str, str], str] = {}

# Live probes fail because free/busy (or the page) really fails: that is the symptom, not a setting.
LIVE_PROBES = frozenset({"freebusy-probe", "https-probe"})


@dataclass(frozen=True)
class Outcome:
    results: dict[str, CheckResult]
    facts: dict[str, Any]
    inference: Assessment
    with_text: Assessment

    def confidences(self, inference: Assessment | None = None) -> list[tuple[str, float]]:
        return [(c.id, c.confidence) for c in (inference or self.inference).causes]

    def statuses(self, *wanted: str) -> dict[str, str]:
        return {r.id: r.status for r in self.results.values() if r.status in wanted}


def error_text(scenario: Scenario) -> str:
    pair = scenario.failing_pair
    return "\n".join(
        a.error.message
        for a in scenario.availability
        if pair is not None and (a.requester, a.target) == (pair.requester, pair.target)
    )


def diagnose(kb: KnowledgeBase, name: str) -> Outcome:
    with warnings.catch_warnings():
        # pypsrp and requests warn about things that do not matter on loopback.
        warnings.simplefilter("ignore")
        results, facts = asyncio.run(run_checks_once("lab", facts={}, kb=kb, scenario=name))
    pasted = read_error_text(error_text(SCENARIOS[name]))
    return Outcome(
        results={r.id: r for r in results},
        facts=facts,
        inference=assess(kb, said=facts, results=results),
        with_text=assess(kb, said=facts, pasted=pasted, results=results),
    )


class Outcomes:
    """Each scenario's checks run once, the first time a test asks for it."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._done: dict[str, Outcome] = {}

    def __getitem__(self, name: str) -> Outcome:
        if name not in self._done:
            self._done[name] = diagnose(self.kb, name)
        outcome = self._done[name]
        errors = {r.id: r.summary for r in outcome.results.values() if r.status == "error"}
        assert not errors, f"{name}: checks could not look (a slow machine?): {errors}"
        return outcome


@pytest.fixture(scope="module")
def outcomes() -> Outcomes:
    return Outcomes(load_knowledge())


def test_the_allow_list_names_real_scenarios_and_causes() -> None:
    kb = load_knowledge()
    for (scenario, cause), reason in SECOND_CANDIDATES.items():
        assert scenario in BROKEN and cause in kb.causes and reason.strip()


@pytest.mark.parametrize("name", BROKEN)
def test_the_expected_cause_is_first_and_confident_and_the_rest_are_quiet(
    outcomes: Outcomes, name: str
) -> None:
    outcome = outcomes[name]
    expected = SCENARIOS[name].expected_causes[0]
    for inference, label in ((outcome.inference, "checks"), (outcome.with_text, "checks and error text")):
        ranked = outcome.confidences(inference)
        assert ranked and ranked[0][0] == expected, f"{label}: {ranked[:3]}"
        assert ranked[0][1] >= FIRST, f"{label}: {ranked[:3]}"
        also_expected = SCENARIOS[name].expected_causes[1:]  # a scenario with two faults expects both
        loud = [
            (c, p)
            for c, p in ranked[1:]
            if p > RUNNER_UP and (name, c) not in SECOND_CANDIDATES and c not in also_expected
        ]
        assert loud == [], f"{label}: runners-up above {RUNNER_UP}: {loud}"


def test_a_healthy_organisation_has_no_failing_check_and_no_likely_cause(outcomes: Outcomes) -> None:
    outcome = outcomes["healthy"]
    assert outcome.statuses("fail", "error") == {}
    assert [(c, p) for c, p in outcome.confidences() if p >= HEALTHY_CEILING] == []


def _telling_facts(kb: KnowledgeBase, cause_id: str, facts: dict[str, Any]) -> set[str]:
    """The facts behind the cause's matched indicators (their `also` context included)."""
    cause = kb.causes[cause_id]
    return {
        name
        for indicator in cause.indicators
        if holds_all(indicator, facts)
        for name in (indicator.fact, *(extra.fact for extra in indicator.also))
    }


@pytest.mark.parametrize("name", BROKEN)
def test_every_failing_check_is_evidence_for_the_diagnosis(outcomes: Outcomes, name: str) -> None:
    """A `fail` must point at what is broken: a check failing a setting that is normal in this topology (a
    connector left disabled where the relationships carry free/busy) sends the agent the wrong way."""
    outcome = outcomes[name]
    kb = outcomes.kb
    merged = {k: v for r in outcome.results.values() for k, v in r.facts.items()} | outcome.facts
    telling = _telling_facts(kb, SCENARIOS[name].expected_causes[0], merged)
    stray = {
        r.id: r.summary
        for r in outcome.results.values()
        if r.status == "fail" and r.id not in LIVE_PROBES and not telling & set(r.facts)
    }
    assert stray == {}


# Classic (DAuth) hybrids: both connectors disabled, free/busy rides on the organisation relationships.
DAUTH_SCENARIOS = ["seed-000-federation-cert", "orgrel-domain-missing", "orgrel-freebusy-disabled"]


@pytest.mark.parametrize("name", DAUTH_SCENARIOS)
def test_a_disabled_connector_beside_the_relationships_is_not_a_failure(
    outcomes: Outcomes, name: str
) -> None:
    result = outcomes[name].results["intra-org-connectors"]
    assert result.status == "ok", result.summary
    assert result.facts["ioc.enabled"] is False and result.facts["oauth.in_use"] is False
    assert result.facts["orgrel.dauth_path"] is True
    assert "disabled" in result.summary and "organisation relationship" in result.summary
    ranked = dict(outcomes[name].confidences())
    assert "hcw-oauth-not-configured" not in ranked


def test_a_missing_relationship_where_the_connector_carries_free_busy_is_not_a_failure(
    outcomes: Outcomes,
) -> None:
    # ioc-target-domain-missing: the on-premises side moved to OAuth and removed its relationship.
    outcome = outcomes["ioc-target-domain-missing"]
    relationships = outcome.results["organization-relationships"]
    assert relationships.status == "ok", relationships.summary
    assert "OAuth" in relationships.summary
    assert relationships.facts["orgrel.present"] is True  # the connector is there, this is no minimal hybrid
    assert outcome.results["intra-org-connectors"].status == "fail"
    assert "hybrid-freebusy-not-configured" not in dict(outcome.confidences())


def test_a_relationship_missing_one_domain_is_not_a_minimal_hybrid(outcomes: Outcomes) -> None:
    outcome = outcomes["orgrel-domain-missing"]
    assert outcome.results["organization-relationships"].facts["orgrel.present"] is True
    assert outcome.results["organization-relationships"].facts["orgrel.missing_domains"] == ["fabrikam.com"]
    assert "hybrid-freebusy-not-configured" not in dict(outcome.confidences())
