"""Fix plans are pure: filled from facts with validated values, bound to an approval by their fingerprint."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from knowledge.fix_plan import CAPTURED, SECRET, plan_fix
from knowledge.jsonvalue import JsonValue
from knowledge.loader import KnowledgeError, load_knowledge, load_knowledge_from
from knowledge.model import Remediation

KB = load_knowledge()
APPLIED = sorted(r.id for r in KB.remediations.values() if r.apply is not None)


def test_at_least_nine_remediations_can_be_applied_among_them_the_seed_causes() -> None:
    assert len(APPLIED) >= 9
    assert {
        "copy-federation-certificate",
        "grant-explicit-calendar-permission",
        "set-owa-internalurl-https",
    } <= set(APPLIED)


def test_owa_plan_fills_the_step_preview_and_rollback_from_the_facts() -> None:
    # What the virtual-directories check states: each server of the target's site with an http InternalUrl.
    facts: dict[str, JsonValue] = {
        "owa.site.http_internal_urls": [
            {
                "server": "EX03",
                "internal_url": "http://ex03.contoso.com/owa",
                "suggested_internal_url": "https://ex03.contoso.com/owa",
            }
        ],
    }
    plan = plan_fix(KB.remediations["set-owa-internalurl-https"], facts)
    assert plan is not None and plan.ready
    [step] = plan.steps
    assert step.cmdlet == "Set-OwaVirtualDirectory"
    assert step.params == {
        "Identity": "EX03\\owa (Default Web Site)",
        "InternalUrl": "https://ex03.contoso.com/owa",
    }
    assert "from http://ex03.contoso.com/owa to https://ex03.contoso.com/owa" in plan.preview
    assert plan.rollback[0].params["InternalUrl"] == "http://ex03.contoso.com/owa"


def test_a_value_that_fails_its_validator_leaves_the_plan_not_ready() -> None:
    facts: dict[str, JsonValue] = {
        "owa.site.http_internal_urls": [
            {
                "server": "EX03",
                "internal_url": "http://ex03.contoso.com/owa",
                "suggested_internal_url": "https://ex03.contoso.com/owa x|y",
            }
        ],
    }
    plan = plan_fix(KB.remediations["set-owa-internalurl-https"], facts)
    assert plan is not None
    assert not plan.ready and plan.missing == ["InternalUrl"]


def test_two_servers_of_a_site_each_get_their_own_step_and_rollback() -> None:
    facts: dict[str, JsonValue] = {
        "owa.site.http_internal_urls": [
            {
                "server": "EX03",
                "internal_url": "http://ex03.contoso.com/owa",
                "suggested_internal_url": "https://ex03.contoso.com/owa",
            },
            {
                "server": "EX04",
                "internal_url": "http://branch.contoso.com/owa",
                "suggested_internal_url": "https://ex04.contoso.com/owa",
            },
        ],
    }
    plan = plan_fix(KB.remediations["set-owa-internalurl-https"], facts)
    assert plan is not None and plan.ready
    assert [s.params for s in plan.steps] == [
        {"Identity": "EX03\\owa (Default Web Site)", "InternalUrl": "https://ex03.contoso.com/owa"},
        {"Identity": "EX04\\owa (Default Web Site)", "InternalUrl": "https://ex04.contoso.com/owa"},
    ]
    assert [s.params["InternalUrl"] for s in plan.rollback] == [
        "http://ex03.contoso.com/owa",
        "http://branch.contoso.com/owa",
    ]
    # A server whose current URL is not known cannot be rolled back: then no rollback is offered at all.
    unknown: dict[str, JsonValue] = {
        "owa.site.http_internal_urls": [
            {"server": "EX04", "internal_url": None, "suggested_internal_url": "https://ex04.contoso.com/owa"}
        ],
    }
    plan = plan_fix(KB.remediations["set-owa-internalurl-https"], unknown)
    assert plan is not None and plan.ready and plan.rollback == []


def test_a_list_parameter_repeats_the_step_and_captures_and_the_secret_stay_references() -> None:
    facts: dict[str, JsonValue] = {
        "fedcert.source_server": "EX01",
        "fedcert.thumbprint": "3226500C943B6235AEB493A307F084710FD1D5D0",
        "fedcert.missing_servers": ["EX03", "EX04"],
    }
    plan = plan_fix(KB.remediations["copy-federation-certificate"], facts)
    assert plan is not None and plan.ready and plan.needs_secret
    export, *imports = plan.steps
    assert export.params["Password"] == {SECRET: "OneTimePassword"}
    assert [s.params["Server"] for s in imports] == ["EX03", "EX04"]
    assert all(s.params["FileData"] == {CAPTURED: "CertificateData"} for s in imports)
    assert "one-time password" in export.text()


def test_the_fingerprint_changes_when_any_parameter_changes() -> None:
    remediation = KB.remediations["set-internet-web-proxy"]
    base: dict[str, JsonValue] = {
        "host.internet_web_proxy_missing": ["EX01"],
        "host.internet_web_proxy": "http://proxy.contoso.com:8080/",
    }
    one = plan_fix(remediation, base)
    two = plan_fix(remediation, {**base, "host.internet_web_proxy": "http://evil.contoso.com:8080/"})
    assert one is not None and two is not None
    again = plan_fix(remediation, dict(base))
    assert again is not None and one.fingerprint() == again.fingerprint()
    assert one.fingerprint() != two.fingerprint()


def test_the_side_follows_the_fact_it_names() -> None:
    remediation = KB.remediations["grant-explicit-calendar-permission"]
    facts: dict[str, Any] = {"target": "erin@contoso.com", "requester": "carol@contoso.com"}
    assert plan_fix(remediation, {**facts, "target.location": "online"}).side == "online"  # type: ignore[union-attr]
    assert plan_fix(remediation, {**facts, "target.location": "onprem"}).side == "onprem"  # type: ignore[union-attr]


def test_a_remediation_without_apply_has_no_plan() -> None:
    plain = next(r for r in KB.remediations.values() if r.apply is None)
    assert plan_fix(plain, {}) is None


@pytest.mark.parametrize(
    ("apply", "words"),
    [
        (
            {
                "preview": "x",
                "steps": [{"cmdlet": "Set-ExchangeServer", "params": {"Identity": "{Nope}"}}],
                "verify_checks": ["host-settings"],
            },
            "uses {Nope}",
        ),
        (
            {
                "preview": "{Nope}",
                "steps": [{"cmdlet": "Set-ExchangeServer", "params": {"Identity": "EX01"}}],
                "verify_checks": ["host-settings"],
            },
            "preview uses {Nope}",
        ),
        (
            {
                "preview": "x",
                "steps": [
                    {"cmdlet": "Set-ExchangeServer", "each": ["Server"], "params": {"Identity": "EX01"}}
                ],
                "verify_checks": ["host-settings"],
            },
            "each names Server",
        ),
    ],
)
def test_the_model_refuses_an_apply_that_names_what_nothing_declares(
    apply: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        Remediation.model_validate(
            {
                "id": "x",
                "summary": "x",
                "changes": True,
                "risk": "low",
                "commands": ["x"],
                "verify": [],
                "apply": apply,
            }
        )


def test_the_loader_refuses_an_unknown_verify_check(tmp_path: Any) -> None:
    import shutil

    from knowledge.loader import DATA_DIR

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "remediations" / "owa_cross_site_proxy.yaml"
    doc = yaml.safe_load(path.read_text())
    entry = next(r for r in doc["remediations"] if r["id"] == "set-ecp-internalurl-https")
    entry["apply"]["verify_checks"] = ["no-such-check"]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    with pytest.raises(
        KnowledgeError, match=re.escape("apply.verify_checks[0]: unknown check id 'no-such-check'")
    ):
        load_knowledge_from(data)


_DELETE = {
    "Mailbox": "{Requester}",
    "Folder": "Sharing",
    "ItemClass": "IPM.ExternalSharingSubscription",
    "Sharer": "{Sharer}",
    "DeleteType": "SoftDelete",
}


def test_the_subscription_removal_is_one_ews_delete_on_the_requesters_side() -> None:
    remediation = KB.remediations["remove-stale-sharing-subscription"]
    facts: dict[str, Any] = {
        "requester": "carol@contoso.com",
        "sharing.subscription_sharer": "erin@contoso.com",
        "requester.location": "onprem",
    }
    plan = plan_fix(remediation, facts)
    assert plan is not None and plan.ready and plan.side == "onprem" and plan.rollback == []
    [step] = plan.steps
    assert step.key == "ews:DeleteItem" and step.params["Mailbox"] == "carol@contoso.com"
    assert step.params["Sharer"] == "erin@contoso.com" and step.params["DeleteType"] == "SoftDelete"
    assert (
        "IPM.ExternalSharingSubscription" in step.text()
        and "carol@contoso.com:\\root\\Sharing" in step.text()
    )
    # Each remediation says what the users will see.
    assert "loses erin@contoso.com's shared calendar" in plan.preview and "unchanged" in plan.preview
    assert "organisation-wide default" in plan.preview
    grant = plan_fix(
        KB.remediations["grant-explicit-calendar-permission"], {**facts, "target": "erin@contoso.com"}
    )
    assert grant is not None and "keeps the shared calendar" in grant.preview and "explicit" in grant.preview
    assert plan_fix(remediation, {**facts, "requester.location": "online"}).side == "online"  # type: ignore[union-attr]
    # Stored and read back (an approved plan), it is the same plan.
    again = type(plan).from_dict(plan.as_dict())
    assert again.fingerprint() == plan.fingerprint() and again.steps[0].key == "ews:DeleteItem"


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ({"ews": "DeleteItem", "params": {**_DELETE, "Folder": "Inbox"}}, "must name Folder: Sharing"),
        ({"ews": "DeleteItem", "params": {**_DELETE, "ItemClass": "IPM.Note"}}, "must name"),
        ({"ews": "DeleteItem", "params": {**_DELETE, "DeleteType": "HardDelete"}}, "must name"),
        ({"ews": "DeleteItem", "params": {**_DELETE, "ItemId": "x"}}, "takes exactly the parameters"),
        ({"ews": "DeleteItem", "params": {k: v for k, v in _DELETE.items() if k != "Folder"}}, "exactly the"),
        ({"ews": "DeleteItem", "cmdlet": "Remove-Item", "params": _DELETE}, "exactly one of"),
        ({"ews": "DeleteItem", "params": _DELETE, "capture": {"X": "Y"}}, "neither each nor capture"),
        ({"ews": "DeleteFolder", "params": _DELETE}, "DeleteItem"),
    ],
)
def test_the_model_keeps_an_ews_step_to_its_one_operation(step: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        Remediation.model_validate(
            {
                "id": "x",
                "summary": "x",
                "changes": True,
                "risk": "medium",
                "params": [
                    {"name": "Requester", "type": "smtp", "fact": "requester", "description": "x"},
                    {
                        "name": "Sharer",
                        "type": "smtp",
                        "fact": "sharing.subscription_sharer",
                        "description": "x",
                    },
                ],
                "commands": ["x"],
                "verify": [],
                "apply": {"preview": "x", "steps": [step], "verify_checks": ["sharing-subscriptions"]},
            }
        )


def test_the_organisation_relationship_is_changed_on_the_side_whose_relationship_it_is() -> None:
    remediation = KB.remediations["enable-orgrel-freebusy"]
    facts: dict[str, Any] = {"orgrel.name": "O365 to On-premises - 1", "orgrel.freebusy_level": "None"}
    assert plan_fix(remediation, {**facts, "orgrel.side": "online"}).side == "online"  # type: ignore[union-attr]
    assert plan_fix(remediation, {**facts, "orgrel.side": "onprem"}).side == "onprem"  # type: ignore[union-attr]
