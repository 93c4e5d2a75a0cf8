"""Mailbox privacy: the checks that read a person's mailbox run only for the pair the asker named (typed, or
in the error text they pasted), and only after the host has recorded the read in its audit log (and found
the pair inside the allowed mailboxes).

A check reads mailboxes when it needs the requester or the target (`needs` in `checks.yaml`: the topology
lookup, sharing subscriptions, calendar permissions, the free/busy probe). Before such checks run, the
conversation emits an `audit` outbound naming the asker's mailboxes and the checks; the host answers None
when the read is recorded and allowed, or the reason it is not (the checks are then skipped with it). An
address the asker did not give (one a check found) is never looked at: those checks are skipped too.
"""

from __future__ import annotations

from checks.api import CheckRequest, CheckResult, Progress
from dialogs.api import Outbound
from dialogs.turn import Turn
from knowledge.jsonvalue import JsonValue

__all__ = ["MAILBOX_FACTS", "mailbox_checks", "run_checks_privately"]

MAILBOX_FACTS = ("requester", "target")

UNNAMED = (
    "I only look into mailboxes you name, and {addresses} came from elsewhere: type the requester's and the "
    "target's addresses to check them."
)


def mailbox_checks(turn: Turn, check_ids: tuple[str, ...]) -> list[str]:
    """The checks among `check_ids` that read the requester's or the target's mailbox."""
    kb = turn.kb
    return [c for c in check_ids if c in kb.checks and set(kb.checks[c].needs) & set(MAILBOX_FACTS)]


async def run_checks_privately(turn: Turn, request: CheckRequest, progress: Progress) -> list[CheckResult]:
    """`request` through the runner, its mailbox reads first named, recorded and allowed (else skipped)."""
    reading = mailbox_checks(turn, request.check_ids)
    refused: list[CheckResult] = []
    if reading:
        reason = await _mailbox_read_refused(turn, reading)
        if reason:
            refused = [CheckResult(c, "skipped", reason) for c in reading]
            request = CheckRequest(
                tuple(c for c in request.check_ids if c not in reading), request.facts, request.pasted
            )
    ran = await turn.services.runner.run(request, progress) if request.check_ids else []
    return [*ran, *refused]


async def _mailbox_read_refused(turn: Turn, checks: list[str]) -> str:
    facts = turn.facts()
    given = _values(turn.state.said) | _values(turn.state.pasted)
    named = {f: str(facts[f]) for f in MAILBOX_FACTS if facts.get(f)}
    unnamed = [v for v in named.values() if v.lower() not in given]
    if unnamed:
        return UNNAMED.format(addresses=" and ".join(unnamed))
    mailboxes: list[JsonValue] = [str(v) for v in named.values()]
    read: list[JsonValue] = list(checks)
    answer = await turn.emit(
        Outbound(kind="audit", audit={"kind": "mailbox-read", "mailboxes": mailboxes, "checks": read})
    )
    return answer or ""


def _values(facts: dict[str, object]) -> set[str]:
    """Every string the asker gave (typed, or read from their paste), lower-cased."""
    found: set[str] = set()
    for value in facts.values():
        items = value if isinstance(value, list) else [value]
        found.update(item.lower() for item in items if isinstance(item, str))
    return found
