"""The write allow-list: only what the remediation's own steps name, with values of the right kind."""

from __future__ import annotations

from typing import Any

import pytest

from checks.errors import Refused
from checks.writes import (
    WRITE_CMDLETS,
    WRITE_EWS,
    WRITE_TEMPLATES,
    check_item_id,
    guard_write,
    plan_cmdlets,
    plan_problems,
)
from knowledge.fix_plan import CAPTURED, plan_fix
from knowledge.jsonvalue import JsonValue
from knowledge.loader import load_knowledge

KB = load_knowledge()
OWA = plan_fix(
    KB.remediations["set-owa-internalurl-https"],
    {
        "owa.site.http_internal_urls": [
            {
                "server": "EX03",
                "internal_url": "http://ex03.contoso.com/owa",
                "suggested_internal_url": "https://ex03.contoso.com/owa",
            }
        ],
    },
)
assert OWA is not None
ALLOWED = plan_cmdlets(OWA)
GOOD = {"Identity": "EX03\\owa (Default Web Site)", "InternalUrl": "https://ex03.contoso.com/owa"}


def test_the_plans_own_step_passes() -> None:
    assert guard_write("Set-OwaVirtualDirectory", GOOD, ALLOWED) == GOOD
    assert guard_write("Set-OwaVirtualDirectory", {**GOOD, "WhatIf": True}, ALLOWED)["WhatIf"] is True


@pytest.mark.parametrize(
    ("cmdlet", "params", "words"),
    [
        (
            "Set-EcpVirtualDirectory",
            GOOD | {"Identity": "EX03\\ecp (Default Web Site)"},
            "not a write this remediation",
        ),
        ("Remove-Mailbox", {"Identity": "alice@contoso.com"}, "not a write this remediation"),
        (
            "Set-OwaVirtualDirectory",
            {**GOOD, "ExternalUrl": "https://mail.contoso.com/owa"},
            "may not be given -ExternalUrl",
        ),
        ("Set-OwaVirtualDirectory", {**GOOD, "InternalUrl": "ftp://ex03.contoso.com/owa"}, "InternalUrl"),
        (
            "Set-OwaVirtualDirectory",
            {**GOOD, "InternalUrl": "https://x.contoso.com/owa'|Stop-Computer|'"},
            "InternalUrl",
        ),
        (
            "Set-OwaVirtualDirectory",
            {**GOOD, "Identity": "EX03\\owa (Default Web Site); Remove-Mailbox x"},
            "virtual directory",
        ),
        ("Set-OwaVirtualDirectory", {**GOOD, "InternalUrl": {CAPTURED: "X"}}, "never filled in"),
        ("Set-OwaVirtualDirectory", {**GOOD, "WhatIf": False}, "WhatIf"),
    ],
)
def test_anything_else_is_refused_before_it_leaves_the_process(
    cmdlet: str, params: dict[str, Any], words: str
) -> None:
    with pytest.raises(Refused, match=words.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        guard_write(cmdlet, params, ALLOWED)


def test_every_step_of_every_applicable_remediation_is_on_the_code_list() -> None:
    for remediation in KB.remediations.values():
        if remediation.apply is None:
            continue
        for step in (*remediation.apply.steps, *remediation.apply.rollback):
            known = (
                WRITE_TEMPLATES.get(step.template or "")
                if step.template
                else WRITE_EWS.get(step.ews or "")
                if step.ews
                else WRITE_CMDLETS.get(step.cmdlet or "")
            )
            name = step.cmdlet or step.template or step.ews
            assert known is not None, (remediation.id, name)
            assert set(step.params) <= set(known), (remediation.id, name)


def test_a_plan_whose_filled_value_the_write_list_refuses_is_named_before_anything_runs() -> None:
    facts: dict[str, JsonValue] = {
        "owa.site.http_internal_urls": [
            {"server": "EX03; Stop-Computer", "suggested_internal_url": "https://ex03.contoso.com/owa"}
        ],
    }
    plan = plan_fix(KB.remediations["set-owa-internalurl-https"], facts)
    assert plan is not None
    problems = plan_problems(plan)
    assert problems and "virtual directory" in problems[0]
    assert plan_problems(OWA) == []  # type: ignore[arg-type]


SUBSCRIPTION = plan_fix(
    KB.remediations["remove-stale-sharing-subscription"],
    {"requester": "carol@contoso.com", "sharing.subscription_sharer": "erin@contoso.com"},
)
assert SUBSCRIPTION is not None
DELETE = {
    "Mailbox": "carol@contoso.com",
    "Folder": "Sharing",
    "ItemClass": "IPM.ExternalSharingSubscription",
    "Sharer": "erin@contoso.com",
    "DeleteType": "SoftDelete",
}


def test_the_subscriptions_own_delete_passes() -> None:
    allowed = plan_cmdlets(SUBSCRIPTION)  # type: ignore[arg-type]
    assert allowed == {"ews:DeleteItem": set(DELETE)}
    assert guard_write("ews:DeleteItem", DELETE, allowed) == DELETE
    assert plan_problems(SUBSCRIPTION) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        (DELETE | {"Folder": "Inbox"}, "Folder: expected one of Sharing"),
        (DELETE | {"Folder": "Calendar"}, "Folder: expected one of Sharing"),
        (DELETE | {"ItemClass": "IPM.Note"}, "ItemClass: expected one of IPM.ExternalSharingSubscription"),
        (DELETE | {"DeleteType": "HardDelete"}, "DeleteType: expected one of SoftDelete"),
        (DELETE | {"Mailbox": "carol@contoso.com; Remove-Mailbox"}, "Mailbox"),
        ({k: v for k, v in DELETE.items() if k != "Folder"}, "needs -Folder"),
        (DELETE | {"ItemId": "AAMkAD"}, "may not be given -ItemId"),
    ],
)
def test_a_delete_item_off_the_list_is_refused(params: dict[str, Any], words: str) -> None:
    with pytest.raises(Refused, match=words):
        guard_write("ews:DeleteItem", params, plan_cmdlets(SUBSCRIPTION))  # type: ignore[arg-type]


def test_a_delete_item_is_not_a_write_another_remediation_may_make() -> None:
    with pytest.raises(Refused, match="not a write this remediation"):
        guard_write("ews:DeleteItem", DELETE, ALLOWED)
    with pytest.raises(Refused, match="not a write this remediation"):
        guard_write("ews:DeleteFolder", DELETE, {"ews:DeleteFolder": set(DELETE)})


@pytest.mark.parametrize("value", ["", "short", "AAMk AD==", "AAMk<x/>AAAA", "A" * 513, 42])
def test_an_item_id_that_is_not_one_is_refused(value: object) -> None:
    from knowledge.validators import ValueProblem

    with pytest.raises(ValueProblem):
        check_item_id(value)
    assert check_item_id("AAMkADc3MWUxMzQ2LTNlZmQtNDg5Yy05NzE3LWY1ZGQ4MTZjNWY3MwBGAAAAAAC9")


def test_the_command_line_prompts_only_powershell_lines() -> None:
    from triage.fix import _prompted

    assert _prompted("Set-OwaVirtualDirectory -Identity 'EX03\\owa (Default Web Site)'").startswith("PS> ")
    assert _prompted("$export = Export-ExchangeCertificate -Server 'EX01'").startswith("PS> ")
    ews = "EWS DeleteItem (SoftDelete) in carol@contoso.com:\\root\\Sharing"
    assert _prompted(ews) == ews
    template = "on EX03: host template iis-require-ssl (site='Default Web Site', path='owa')"
    assert _prompted(template) == template
