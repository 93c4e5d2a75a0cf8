"""The approval card and the result card's fix section: valid Adaptive Cards in every state of a fix, with the
buttons that state allows, and never a secret."""

from __future__ import annotations

from typing import Any

import pytest

from dialogs.fix_card import FIX_APPROVE, FIX_REJECT, FIX_ROLLBACK, approval_card, fix_block, fix_buttons
from tests.dialogs.harness import actions_of, card_problems, card_text

RECORD: dict[str, Any] = {
    "id": "0a1b2c3d4e5f60718293a4b5",
    "triage": "t1",
    "remediation": "enable-orgrel-freebusy",
    "summary": "Enable the organisation relationship and its free/busy sharing at LimitedDetails.",
    "cause": "orgrel-freebusy-disabled",
    "cause_title": "Free/busy is switched off on the organisation relationship",
    "risk": "low",
    "requester_name": "Ada Lovelace",
    "steps": ["Set-OrganizationRelationship -Identity 'On-premises to O365' -FreeBusyAccessEnabled:$true"],
    "preview": [
        {"step": "Set-OrganizationRelationship ...", "status": "previewed", "detail": "Exchange accepted it"}
    ],
    "preview_text": "Enable it (now: free/busy enabled False, level None).",
    "rollback": ["Set-OrganizationRelationship -Identity 'On-premises to O365' -FreeBusyAccessLevel 'None'"],
    "servers": [],
    "mailboxes": ["alice@contoso.com", "bjorn@contoso.com"],
    "expires": "2026-12-06 05:00 UTC",
    "fingerprint": "f" * 64,
    "where": "Exchange › Escalations",
    "applied": [],
    "checks": [],
}
DONE_STEP = [
    {"step": "Set-OrganizationRelationship ...", "status": "done", "detail": "Name=On-premises to O365"}
]

STATES: dict[str, dict[str, Any]] = {
    "pending": {},
    "approved": {"decided_by_name": "Grace Hopper"},
    "rejected": {"decided_by_name": "Grace Hopper"},
    "fixed": {"decided_by_name": "Grace Hopper", "applied": DONE_STEP,
              "checks": [{"id": "freebusy-probe", "status": "ok", "summary": "Free/busy returned."}]},
    "failed": {"applied": [{"step": "Set-...", "status": "failed", "detail": "The connection was reset."}]},
    "rolled-back": {"applied": DONE_STEP},
}  # fmt: skip


def _titles(elements: list[dict[str, Any]]) -> list[str]:
    return [str(a.get("title")) for a in elements]


@pytest.mark.parametrize("status", sorted(STATES))
def test_the_approval_card_is_valid_in_every_state_and_offers_what_the_state_allows(status: str) -> None:
    record = {**RECORD, **STATES[status], "status": status}
    card = approval_card(record)
    assert card_problems(card) == []
    shown = card_text(card)
    assert "Ada Lovelace" in shown and "low" in shown and RECORD["steps"][0] in shown
    assert f"triage audit --fix {RECORD['id']}" in shown
    actions = [a.get("data", {}).get("action") for a in actions_of(card)]
    expected = {
        "pending": [FIX_APPROVE, FIX_REJECT],
        "fixed": [FIX_ROLLBACK],
    }.get(status, [])
    assert actions == expected


def test_approve_names_the_fix_and_the_plan_it_approves() -> None:
    card = approval_card({**RECORD, "status": "pending"})
    data = next(a["data"] for a in actions_of(card) if a["title"] == "Approve")
    assert data == {"action": FIX_APPROVE, "fix": RECORD["id"], "fingerprint": RECORD["fingerprint"]}


def test_the_result_card_says_fixed_with_the_checks_run_again() -> None:
    record = {**RECORD, **STATES["fixed"], "status": "fixed"}
    shown = card_text({"type": "AdaptiveCard", "version": "1.5", "body": fix_block(record)})
    assert "Fixed" in shown and "Free/busy returned." in shown and "approved by Grace Hopper" in shown
    assert _titles(fix_buttons(None, False, frozenset(), record)) == ["Roll back"]


def test_no_fix_it_while_one_waits_or_after_it_ran() -> None:
    for status in ("pending", "approved", "applied", "fixed", "rolled-back"):
        record = {**RECORD, **STATES.get(status, {}), "status": status}
        assert "Fix it" not in _titles(fix_buttons(None, True, frozenset({"x"}), record))


def test_a_fix_with_many_long_steps_keeps_both_cards_under_the_teams_limit() -> None:
    from dialogs.card_budget import size
    from dialogs.result_card import CARD_BYTES

    long_row = {
        "step": "Set-ExchangeServer -Identity 'EX01' " + "x" * 900,
        "status": "done",
        "detail": "y" * 900,
    }
    record = {
        **RECORD,
        "status": "fixed",
        "steps": [long_row["step"]] * 40,
        "preview": [long_row] * 40,
        "rollback": [long_row["step"]] * 40,
        "applied": [long_row] * 40,
        "checks": [{"id": "freebusy-probe", "status": "ok", "summary": "z" * 900}] * 40,
    }
    approval = approval_card(record)
    assert size(approval) < CARD_BYTES and card_problems(approval) == []
    shown = card_text(approval)
    assert "… and 28 more steps." in shown
    block = {"type": "AdaptiveCard", "version": "1.5", "body": fix_block(record)}
    assert size(block) < CARD_BYTES // 2
