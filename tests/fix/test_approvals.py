"""The rules of an approval: who may decide, once, in time, on exactly the plan proposed."""

from __future__ import annotations

import pytest

from checks.approvals import Approval, ApprovalRefused, decide, lapse, propose

NOW = 1_800_000_000.0


def _approval() -> Approval:
    return propose(
        remediation="set-owa-internalurl-https", cause="owa-internalurl-not-https", fingerprint="f" * 64,
        plan={"steps": []}, requester="req-1", requester_name="Hanna Helpdesk", conversation="c-1", now=NOW,
    )  # fmt: skip


def _decide(approval: Approval, **overrides: object) -> Approval:
    given: dict[str, object] = {"approve": True, "actor": "adm-1", "actor_name": "Ari Admin",
                                "actor_is_approver": True, "fingerprint": "f" * 64, "now": NOW + 60}  # fmt: skip
    given.update(overrides)
    return decide(approval, **given)  # type: ignore[arg-type]


def test_an_approver_approves_within_the_hour() -> None:
    decided = _decide(_approval())
    assert decided.status == "approved" and decided.decided_by == "adm-1" and decided.decided_at == NOW + 60


def test_a_rejection_is_recorded_the_same_way() -> None:
    assert _decide(_approval(), approve=False).status == "rejected"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"actor_is_approver": False}, "not one"),
        ({"now": NOW + 3600}, "expired"),
        ({"fingerprint": "e" * 64}, "plan changed"),
        ({"actor": "REQ-1"}, "another approver"),
    ],
)
def test_refusals(overrides: dict[str, object], words: str) -> None:
    with pytest.raises(ApprovalRefused, match=words):
        _decide(_approval(), **overrides)


def test_a_decided_approval_cannot_be_decided_again_a_replay_or_a_second_approver() -> None:
    decided = _decide(_approval())
    with pytest.raises(ApprovalRefused, match="already decided \\(approved by Ari Admin\\)"):
        _decide(decided, actor="adm-2")


def test_the_requester_may_approve_where_the_configuration_allows_it() -> None:
    assert _decide(_approval(), actor="req-1", requester_may_approve=True).status == "approved"


def test_an_approval_round_trips_as_plain_json() -> None:
    import json

    approval = _approval()
    assert Approval.from_dict(json.loads(json.dumps(approval.as_dict()))) == approval
    assert len(approval.id) >= 20  # not guessable


def test_a_lapsed_approval_is_marked_expired_once_and_refused_after() -> None:
    approval = _approval()
    assert lapse(approval, now=NOW + 60) is approval  # still in time: unchanged
    lapsed = lapse(approval, now=NOW + 3600)
    assert lapsed.status == "expired" and lapsed.decided_at == NOW + 3600
    assert lapse(lapsed, now=NOW + 7200) is lapsed
    with pytest.raises(ApprovalRefused, match="This approval expired"):
        _decide(lapsed, now=NOW + 60)  # even with a clock that went back
