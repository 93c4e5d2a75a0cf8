"""The conversation's side of a fix: the host reports each change of the fix asked for from the result card
(`fix-update`, with the fix's record, see `dialogs.fix_card`); the conversation keeps it, re-runs the cause's
checks after a change was applied (bypassing any cache) and shows the result card again, in place."""

from __future__ import annotations

from dialogs.fix_card import fix_line
from dialogs.running import conclude, rerun_checks, show_result
from dialogs.turn import Turn

__all__ = ["take_fix_update"]


async def take_fix_update(turn: Turn) -> None:
    record = turn.inbound.value.get("fix")
    if not isinstance(record, dict):
        return
    state = turn.state
    if record.get("triage") != state.id or state.phase != "done":
        # The triage moved on since the fix was asked for: say what happened, leave this one alone.
        await turn.say(fix_line(record))
        return
    if record.get("status") == "applied":
        cause = turn.kb.causes.get(str(record.get("cause") or ""))
        named = record.get("verify_checks")
        verify = [c for c in named if isinstance(c, str)] if isinstance(named, list) else []
        wanted = [
            c for c in dict.fromkeys([*(cause.checks if cause else []), *verify]) if c in turn.kb.checks
        ]
        await turn.say("The change was applied. Checking again, without any cached answers.")
        await rerun_checks(turn, wanted)
        by_id = {r.id: r for r in state.results or []}
        checks = [by_id[c] for c in wanted if c in by_id]
        fixed = all(c in by_id and by_id[c].status == "ok" for c in verify) and bool(verify)
        record = {
            **record,
            "status": "fixed" if fixed else "not-fixed",
            "checks": [{"id": r.id, "status": r.status, "summary": r.summary} for r in checks],
        }
        state.fix = record
        await conclude(turn)
        return
    state.fix = record
    await show_result(turn)
