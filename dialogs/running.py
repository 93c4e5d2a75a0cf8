"""Running the checks with live progress, and concluding: the result card and the runbook link."""

from __future__ import annotations

import logging
import uuid

from checks.api import CheckRequest, CheckResult, ProgressEvent
from dialogs.api import Outbound
from dialogs.findings import find, results_of
from dialogs.privacy import run_checks_privately
from dialogs.result_card import ProgressRow, check_title, progress_card, result_card
from dialogs.runbook import build_runbook
from dialogs.state import Conclusion, concluded, dump, running
from dialogs.turn import Turn
from knowledge.conditions import Facts
from knowledge.loader import KnowledgeBase
from knowledge.walk import path

__all__ = ["conclude", "plan_checks", "rerun_checks", "run_checks"]

log = logging.getLogger(__name__)


def plan_checks(kb: KnowledgeBase, facts: Facts) -> tuple[list[str], list[CheckResult]]:
    """The checks for this triage: the symptom's, then those of every cause it can have. A check whose
    inputs are unknown (no requester for a single-user symptom) is reported as skipped, not run."""
    symptom = kb.symptoms.get(str(facts.get("symptom")))
    wanted = list(symptom.checks) if symptom else []
    for cause in kb.causes.values():
        if symptom is None or symptom.id in cause.symptoms:
            wanted += cause.checks
    runnable: list[str] = []
    unmet: list[CheckResult] = []
    for check_id in dict.fromkeys(c for c in wanted if c in kb.checks):
        missing = [n for n in kb.checks[check_id].needs if facts.get(n) in (None, "", [])]
        if missing:
            unmet.append(
                CheckResult(
                    check_id, "skipped", f"Needs {', '.join(missing)}, which this triage does not have."
                )
            )
        else:
            runnable.append(check_id)
    return runnable, unmet


async def run_checks(turn: Turn) -> None:
    """Run the checks in this turn, updating one progress card in place as each finishes."""
    state, kb = turn.state, turn.kb
    facts = turn.facts()
    planned, unmet = plan_checks(kb, facts)
    lookup = state.lookup
    kept = (
        [lookup.result]
        if lookup and lookup.result.status != "error" and lookup.target == facts.get("target")
        else []
    )
    planned = [c for c in planned if c not in {r.id for r in kept}]
    running(state, fresh=True)
    order = [*(r.id for r in kept), *planned, *(r.id for r in unmet)]
    ran = await _run_with_progress(turn, planned, [*kept, *unmet], order, f"progress-{state.id}")
    state.results = [*kept, *ran, *unmet]


async def rerun_checks(turn: Turn, check_ids: list[str]) -> None:
    """Run `check_ids` again (on command output pasted since), replacing their results; the others stay."""
    state = turn.state
    before = results_of(state)
    running(state, fresh=False)
    key = f"progress-{state.id}-{len(state.command_output)}"
    others = [r for r in before if r.id not in check_ids]
    order = [r.id for r in before]
    # A second look (after command output was pasted, or a fix): nothing from the shared organisation cache.
    ran = {r.id: r for r in await _run_with_progress(turn, check_ids, others, order, key, fresh=True)}
    state.results = [ran.get(r.id, r) for r in before]


async def _run_with_progress(
    turn: Turn, planned: list[str], shown: list[CheckResult], order: list[str], key: str, fresh: bool = False
) -> list[CheckResult]:
    """`planned` through the runner (with any pasted command output), one progress card updated in place;
    `shown` are results listed on the card as they are, every row in `order`."""
    state, kb = turn.state, turn.kb
    # Stored before the checks start: if the process dies now, the next message re-runs them.
    await turn.emit(Outbound(kind="checkpoint", state=dump(state)))
    await turn.typing()
    known = {r.id: (r.status, check_title(kb, r.id), r.summary) for r in shown}
    rows: dict[str, ProgressRow] = {c: known.get(c) or ("pending", check_title(kb, c), "") for c in order}
    await turn.send(progress_card(list(rows.values()), finished=False), key)

    async def on_progress(event: ProgressEvent) -> None:
        # Checks start together; the card changes only when one finishes (each update is a Teams API call).
        if event.kind == "waiting":
            # Every remote session is busy with other triages: the running checks say they wait for one.
            changed = False
            for check_id, (status, title, summary) in rows.items():
                if status == "running" and summary != event.title:
                    rows[check_id] = (status, title, event.title)
                    changed = True
            if changed:
                await turn.send(progress_card(list(rows.values()), finished=False), key)
            return
        if event.kind == "started":
            rows[event.check_id] = ("running", check_title(kb, event.check_id), "")
            return
        result = event.result
        status, summary = (result.status, result.summary) if result else ("error", "No result.")
        rows[event.check_id] = (status, check_title(kb, event.check_id), summary)
        await turn.send(progress_card(list(rows.values()), finished=False), key)

    request = CheckRequest(tuple(planned), turn.facts(), tuple(state.command_output), fresh=fresh)
    returned = await run_checks_privately(turn, request, on_progress) if planned else []
    by_id = {r.id: r for r in returned}
    ran = [by_id.get(c) or CheckResult(c, "error", "The check did not report back.") for c in planned]
    for result in ran:
        rows[result.id] = (result.status, check_title(kb, result.id), result.summary)
    await turn.send(progress_card(list(rows.values()), finished=True), key)
    return ran


def _heading(turn: Turn) -> str:
    last = path(turn.kb, turn.facts())[-1]
    return last.prompt if last.kind == "conclusion" and last.prompt else "Here is what I found."


async def _publish(turn: Turn, runbook: dict[str, object] | None) -> str:
    if runbook is None:
        return ""
    try:
        return await turn.services.publish_runbook(runbook)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("could not publish the runbook [%s] for triage %s", reference, turn.state.id)
        await turn.say(
            f"I could not publish the remediation page (reference {reference}); the commands are on the card."
        )
        return ""


async def show_result(turn: Turn, escalated_to: str = "") -> None:
    """Send (or update in place) the result card from what the state holds."""
    conclusion = turn.state.conclusion
    findings = find(turn.kb, turn.state)
    card = result_card(
        turn.kb,
        findings,
        heading_text=_heading(turn),
        runbook_url=(conclusion.runbook_url if conclusion else "") or None,
        escalated_to=escalated_to,
        fix=turn.state.fix,
        fixable=turn.services.fixable,
    )
    await turn.send(card, f"result-{turn.state.id}")


async def conclude(turn: Turn) -> None:
    state = turn.state
    findings = find(turn.kb, state)
    best = findings.best
    url = await _publish(turn, build_runbook(turn.kb, state, findings))
    concluded(
        state,
        Conclusion(
            cause=best.id if best and findings.confident else None,
            title=best.title if best else "",
            confidence=best.confidence if best else 0.0,
            runbook_url=url,
        ),
    )
    await show_result(turn)
