"""The write allow-list: only what the remediation's own steps name, with values of the right kind."""

from __future__ import annotations

from typing import Any

import pytest

from checks.errors import Refused
from checks.writes import WRITE_CMDLETS, WRITE_TEMPLATES, guard_write, plan_cmdlets, plan_problems
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
                else WRITE_CMDLETS.get(step.cmdlet or "")
            )
            assert known is not None, (remediation.id, step.cmdlet or step.template)
            assert set(step.params) <= set(known), (remediation.id, step.cmdlet or step.template)


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
