"""An approval of one fix plan: who asked, what exactly (the plan's fingerprint), until when, and who decided.

Pure rules over plain data, so the Teams flow, the command line and the tests share them: a decision is
refused when the person is not an approver, approves their own request where that is not allowed, comes
after the approval expired, comes again after a decision (a replayed or double-pressed button), or names a
plan other than the one stored (a tampered card, or facts that changed since it was proposed). The store
that keeps approvals writes a decision with compare-and-set, so of two approvers pressing at once one wins.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

__all__ = ["DEFAULT_TTL_SECONDS", "Approval", "ApprovalRefused", "decide", "propose"]

DEFAULT_TTL_SECONDS = 3600
Status = Literal["pending", "approved", "rejected", "fixed", "not-fixed", "failed"]


class ApprovalRefused(Exception):
    """A decision that may not be taken; the message says why, in words for the person who pressed."""


@dataclass(frozen=True)
class Approval:
    id: str
    remediation: str
    cause: str
    fingerprint: str
    requester: str  # Entra object id of who asked for the fix
    requester_name: str
    conversation: str
    created_at: float
    expires_at: float
    plan: Mapping[str, Any] = field(default_factory=dict)  # FixPlan.as_dict(): what the card shows
    status: Status = "pending"
    decided_by: str = ""
    decided_by_name: str = ""
    decided_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan"] = dict(self.plan)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Approval:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


def propose(
    *,
    remediation: str,
    cause: str,
    fingerprint: str,
    plan: Mapping[str, Any],
    requester: str,
    requester_name: str,
    conversation: str,
    now: float,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
) -> Approval:
    return Approval(
        id=secrets.token_hex(12), remediation=remediation, cause=cause, fingerprint=fingerprint,
        requester=requester, requester_name=requester_name, conversation=conversation, created_at=now,
        expires_at=now + ttl_seconds, plan=dict(plan),
    )  # fmt: skip


def decide(
    approval: Approval,
    *,
    approve: bool,
    actor: str,
    actor_name: str,
    actor_is_approver: bool,
    fingerprint: str,
    now: float,
    requester_may_approve: bool = False,
) -> Approval:
    """The approval with the decision taken, or ApprovalRefused saying why it may not be."""
    if not actor_is_approver:
        raise ApprovalRefused("Only an approver can decide on a fix, and you are not one.")
    if approval.status != "pending":
        raise ApprovalRefused(
            f"This fix was already decided ({approval.status} by {approval.decided_by_name or 'someone'})."
        )
    if approval.expired(now):
        raise ApprovalRefused("This approval expired: ask for the fix again to see the current plan.")
    if fingerprint != approval.fingerprint:
        raise ApprovalRefused(
            "The plan changed since it was proposed: nothing was applied. Ask for the fix again."
        )
    if approve and actor.lower() == approval.requester.lower() and not requester_may_approve:
        raise ApprovalRefused("You asked for this fix: another approver has to approve it.")
    return replace(
        approval, status="approved" if approve else "rejected", decided_by=actor, decided_by_name=actor_name,
        decided_at=now,
    )  # fmt: skip
