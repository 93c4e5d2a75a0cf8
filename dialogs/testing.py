"""Test equipment for the conversation: a check runner that answers from given results, and a recorder
that plays the host (collects what the conversation emits, answers escalations)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from checks.api import CheckRequest, CheckResult, Progress, ProgressEvent
from dialogs.api import Card, Outbound

__all__ = ["FakeCheckRunner", "Recorder"]


class FakeCheckRunner:
    """A `checks.api.CheckRunner` that returns the given results (an `ok` with no facts for any other id).

    `fail_with` makes every run raise it, to exercise a runner that breaks its promise never to raise."""

    def __init__(
        self, results: Iterable[CheckResult] = (), *, fail_with: BaseException | None = None
    ) -> None:
        self.results = {r.id: r for r in results}
        self.fail_with = fail_with
        self.requests: list[CheckRequest] = []

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        out = []
        for check_id in request.check_ids:
            await progress(ProgressEvent("started", check_id, check_id))
            result = self.results.get(check_id) or CheckResult(check_id, "ok", "Nothing wrong found.")
            await progress(ProgressEvent("finished", check_id, check_id, result))
            out.append(result)
        return out


@dataclass
class Recorder:
    """An `Emit` that records every outbound; `escalate_to` is where escalations "go" (None: no channel)."""

    escalate_to: str | None = "Exchange › Escalations"
    sent: list[Outbound] = field(default_factory=list)

    async def __call__(self, outbound: Outbound) -> str | None:
        self.sent.append(outbound)
        return self.escalate_to if outbound.kind in ("escalation", "escalation_target") else None

    def clear(self) -> None:
        self.sent.clear()

    def texts(self) -> list[str]:
        return [o.text for o in self.sent if o.kind == "text"]

    def cards(self) -> list[Card]:
        return [o.card for o in self.sent if o.kind in ("card", "escalation") and o.card is not None]

    def kinds(self) -> list[str]:
        return [o.kind for o in self.sent]
