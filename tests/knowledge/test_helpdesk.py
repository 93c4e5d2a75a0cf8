"""What a first-line helpdesk agent does now (`knowledge.helpdesk`): a user-level step from the cause's data with
the people named, escalation with the cause's (or its category's) reason, or run-and-paste when nothing is
pinned down; and the loader's checks on that data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.assessment import Reported, assess
from knowledge.helpdesk import advise, person
from knowledge.jsonvalue import JsonObject
from knowledge.loader import load_knowledge
from tests.knowledge.test_loader import data, edit, first_cause, problems  # noqa: F401  (the fixture)

KB = load_knowledge()
PAIR = {"requester": "carol@contoso.com", "target": "erin@contoso.com", "scope": "pair"}
STALE_SUBSCRIPTION: JsonObject = {
    "sharing.subscription_present": True,
    "sharing.subscription_sharer": "erin@contoso.com",
    "calendar.explicit_permission": "None",
    "calendar.default_permission": "AvailabilityOnly",
}


def _cause(content: Any, cause_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in content["causes"] if c["id"] == cause_id)
    return found


def test_the_stale_sharing_subscription_asks_the_target_to_share_again_by_name() -> None:
    results = [
        Reported("topology", {"requester.name": "Carol Díaz", "target.name": "Erin Müller"}),
        Reported("sharing-subscriptions", STALE_SUBSCRIPTION, "fail"),
    ]
    advice = advise(KB, assess(KB, said=PAIR, results=results))
    assert advice.kind == "step" and advice.who == "target"
    assert (
        advice.text
        == "Ask Erin Müller to share their calendar with Carol Díaz again (Free/Busy time is enough)."
    )
    assert advice.how.startswith(
        "In Outlook Erin right-clicks Calendar › Properties › Permissions › Add Carol Díaz"
    )
    assert "Why: Carol once accepted Erin's shared calendar" in advice.how
    assert "{" not in advice.text + advice.how
    assert advice.sources and all(url.startswith("https://") for url in advice.sources)


def test_without_display_names_people_are_named_by_address_then_by_what_they_are() -> None:
    results = [Reported("sharing-subscriptions", STALE_SUBSCRIPTION, "fail")]
    advice = advise(KB, assess(KB, said=PAIR, results=results))
    assert advice.text.startswith("Ask erin@contoso.com to share their calendar with carol@contoso.com")
    found: JsonObject = {
        "people.found": [{"candidates": [{"address": "carol@contoso.com", "name": "Carol Díaz"}]}]
    }
    assert person({**PAIR, **found}, "requester") == "Carol Díaz"
    assert person({}, "target") == "the person whose calendar it is"
    assert person({"target.name": "Erin Müller"}, "target", first=True) == "Erin"
    assert person({"target.name": "Müller, Erin"}, "target", first=True) == "Müller, Erin"
    assert person(PAIR, "target", first=True) == "erin@contoso.com"


def test_a_default_permission_of_none_asks_the_target_to_share_free_busy_again() -> None:
    facts: JsonObject = {
        "calendar.default_permission": "None",
        "freebusy.error_code": "ErrorNoFreeBusyAccess",
    }
    advice = advise(KB, assess(KB, said=PAIR, results=[Reported("calendar-permissions", facts, "fail")]))
    assert advice.kind == "step" and advice.who == "target"
    assert advice.text.startswith("Ask erin@contoso.com to let others see when they are busy again")
    assert "Free/Busy time" in advice.how


def test_a_configuration_cause_escalates_with_why_in_helpdesk_words() -> None:
    facts: JsonObject = {
        "fedcert.missing_servers": ["EX03", "EX04"],
        "fedcert.missing_sites": ["Branch"],
        "fedcert.source_server": "EX01",
        "target.site.internet_facing": False,
    }
    said = {
        "requester": "alice@contoso.com",
        "target": "bjorn@contoso.com",
        "symptom": "freebusy-cloud-to-onprem",
    }
    advice = advise(KB, assess(KB, said=said, results=[Reported("federation-certificates", facts, "fail")]))
    assert advice.kind == "escalate" and advice.who == "exchange-team"
    assert advice.text == (
        "Escalate to the Exchange team: the federation certificate is missing on EX03, EX04 in the Branch site, "
        "and only an Exchange admin can install it (the filled commands are ready for them)."
    )


def test_a_cause_without_advice_of_its_own_escalates_with_its_category_reason() -> None:
    cause = KB.causes["orgrel-freebusy-scope-excludes-target"]
    assert cause.helpdesk is None
    facts: JsonObject = {"orgrel.target_in_scope": False, "orgrel.freebusy_scope": "FreeBusyPilot"}
    said = {**PAIR, "symptom": "freebusy-cloud-to-onprem"}
    assessment = assess(KB, said=said, results=[Reported("organization-relationships", facts, "fail")])
    assert assessment.best is not None and assessment.best.id == cause.id and assessment.confident
    advice = advise(KB, assessment)
    assert advice.kind == "escalate"
    assert advice.text == f"Escalate to the Exchange team: {KB.escalate['org_relationship']}."


def test_checks_that_could_not_look_ask_to_run_and_paste_when_nothing_is_pinned_down() -> None:
    assessment = assess(KB, said=PAIR)
    assert not assessment.confident
    assert advise(KB, assessment, could_not_look=True).kind == "paste"
    assert "paste back everything they print" in advise(KB, assessment, could_not_look=True).text


def test_every_cause_gets_advice_and_every_step_names_its_sources() -> None:
    for cause in KB.causes.values():
        if cause.helpdesk is None:
            assert KB.escalate[cause.category]
        elif cause.helpdesk.step is not None:
            assert cause.helpdesk.who and cause.helpdesk.sources, cause.id


def test_the_loader_rejects_a_step_with_an_unknown_placeholder(data: Path) -> None:  # noqa: F811
    def change(content: Any) -> None:
        _cause(content, "sharing-subscription-without-permission")["helpdesk"]["step"] = (
            "Ask {Manager} to share."
        )

    edit(data / "causes/permissions_sharing.yaml", change)
    [problem] = problems(data)
    assert "cause 'sharing-subscription-without-permission': helpdesk" in problem
    assert "uses {Manager}, which is neither a person nor a declared param" in problem


def test_the_loader_rejects_a_step_without_sources_and_a_param_of_an_unknown_fact(data: Path) -> None:  # noqa: F811
    def change(content: Any) -> None:
        _cause(content, "sharing-subscription-without-permission")["helpdesk"]["sources"] = []

    edit(data / "causes/permissions_sharing.yaml", change)
    edit(
        data / "causes/federation_dauth.yaml",
        lambda c: first_cause(c)["helpdesk"]["params"]["Servers"].update(fact="fedcert.nowhere"),
    )
    found = problems(data)
    assert any("names who takes it (who) and the public pages it comes from (sources)" in p for p in found)
    assert any("helpdesk.params.Servers.fact: unknown fact 'fedcert.nowhere'" in p for p in found)


def test_the_loader_wants_an_escalation_reason_for_every_category_without_advice(data: Path) -> None:  # noqa: F811
    def change(content: Any) -> None:
        del content["escalate"]["org_relationship"]

    edit(data / "helpdesk.yaml", change)
    found = problems(data)
    assert any(
        "cause 'orgrel-freebusy-scope-excludes-target': helpdesk: none given" in p
        and "category 'org_relationship'" in p
        for p in found
    )
