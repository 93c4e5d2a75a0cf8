"""The runner: the checks a triage needs, all at once, each within its time limit, never raising.

Every check starts at once over one shared per-triage snapshot of the ports (`checks.memo`), so checks
that need the same cmdlet (most need Get-ExchangeServer) wait for one call instead of queueing behind
each other: the triage takes about as long as its slowest check.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from checks.api import CheckRequest, CheckResult, CheckStatus, Progress, ProgressEvent
from checks.backends.session_pool import SESSION_WAIT
from checks.catalogue import registry
from checks.context import CheckContext, Finding
from checks.errors import BackendError, NotConfigured, Refused
from checks.memo import CallLog, Memo, memoize
from checks.org_cache import DEFAULT_TTL, OrgCache, cache_age_note, cached_ages
from checks.pasted import with_pasted
from checks.ports import Ports, PortsFactory
from checks.registry import CheckDef
from checks.typing_rules import fact_problems
from knowledge.loader import KnowledgeBase, load_knowledge

__all__ = ["Runner"]

log = logging.getLogger(__name__)

_NEEDS_SAID = {"requester": "the requester's address", "target": "the target's address"}


@dataclass(frozen=True)
class Limits:
    check_seconds: float = 30.0
    triage_seconds: float = 90.0


class Runner:
    """`checks.api.CheckRunner` over a factory that opens the ports for each triage."""

    def __init__(
        self,
        open_ports: PortsFactory,
        *,
        kb: KnowledgeBase | None = None,
        check_seconds: float = 30.0,
        triage_seconds: float = 90.0,
        clock: Callable[[], datetime.datetime] | None = None,
        cache_seconds: float = DEFAULT_TTL,
        org_cache: OrgCache | None = None,
    ) -> None:
        self._open_ports = open_ports
        self._kb = kb or load_knowledge()
        self._limits = Limits(check_seconds, triage_seconds)
        # Organisation-wide configuration shared by this runner's triages (0 s: never shared).
        self.org_cache: OrgCache | None = org_cache or (
            OrgCache(cache_seconds) if cache_seconds > 0 else None
        )
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.last_calls = CallLog()

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
        async def waiting(note: str) -> None:
            await _tell(progress, ProgressEvent("waiting", "", note))

        token = SESSION_WAIT.set(waiting)
        try:
            return await self._run(request, progress)
        finally:
            SESSION_WAIT.reset(token)

    async def _run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
        checks = registry()
        started = time.monotonic()
        try:
            async with self._open_ports() as ports:
                return await self._run_over(ports, request, checks, progress)
        except Exception as problem:
            # Opening the backends failed (e.g. a lab that would not start): every check says so, unless
            # pasted output can answer instead.
            if request.pasted:
                return await self._run_over(Ports(), request, checks, progress)
            if not isinstance(problem, BackendError):
                log.exception("opening the backends failed")
                problem = BackendError(
                    "backends",
                    f"The backends could not be opened ({type(problem).__name__}: {str(problem)[:120]}).",
                )
            return [_failed(i, problem, time.monotonic() - started) for i in request.check_ids]

    async def _run_over(
        self, ports: Ports, request: CheckRequest, checks: Mapping[str, CheckDef], progress: Progress
    ) -> list[CheckResult]:
        memo = Memo()
        self.last_calls = memo.log
        # Pasted command output answers for this triage only: nothing it answers is shared.
        cache = None if request.pasted else self.org_cache
        layered = memoize(with_pasted(ports, request.pasted), memo, cache, fresh=request.fresh)
        ctx = CheckContext(facts=dict(request.facts), ports=layered, now=self._clock())
        try:
            return await self._run_all(request, checks, ctx, progress)
        finally:
            await ctx.drain()
            await memo.drain()

    async def _run_all(
        self, request: CheckRequest, checks: Mapping[str, CheckDef], ctx: CheckContext, progress: Progress
    ) -> list[CheckResult]:
        tasks = {
            check_id: asyncio.ensure_future(self._run_one(check_id, checks.get(check_id), ctx, progress))
            for check_id in dict.fromkeys(request.check_ids)
        }
        done, pending = await asyncio.wait(tasks.values(), timeout=self._limits.triage_seconds)
        for task in pending:
            task.cancel()
        results: dict[str, CheckResult] = {}
        for check_id, task in tasks.items():
            if task in done:
                results[check_id] = task.result()
            else:
                summary = f"Stopped: the triage's {self._limits.triage_seconds:.0f} s deadline passed first."
                result = CheckResult(check_id, "error", summary, duration_ms=_ms(self._limits.triage_seconds))
                results[check_id] = _with_remedy(result, checks.get(check_id), ctx.facts)
                await _tell(progress, ProgressEvent("finished", check_id, self._title(check_id), result))
        return [results[check_id] for check_id in dict.fromkeys(request.check_ids)]

    async def _run_one(
        self, check_id: str, check: CheckDef | None, ctx: CheckContext, progress: Progress
    ) -> CheckResult:
        title = self._title(check_id)
        await _tell(progress, ProgressEvent("started", check_id, title))
        started = time.monotonic()
        with cached_ages() as ages:
            result = await self._outcome(check_id, check, ctx)
        note = cache_age_note(ages)
        result = CheckResult(
            id=result.id,
            status=result.status,
            summary=f"{result.summary} ({note})" if note else result.summary,
            evidence=result.evidence,
            facts=result.facts,
            duration_ms=_ms(time.monotonic() - started),
            remedy=result.remedy,
        )
        await _tell(progress, ProgressEvent("finished", check_id, title, result))
        return result

    async def _outcome(self, check_id: str, check: CheckDef | None, ctx: CheckContext) -> CheckResult:
        spec = self._kb.checks.get(check_id)
        if check is None or spec is None:
            return CheckResult(check_id, "error", f"There is no check called {check_id!r}.")
        missing = [n for n in spec.needs if ctx.facts.get(n) in (None, "", [])]
        if missing:
            said = " and ".join(_NEEDS_SAID.get(n, n) for n in missing)
            return CheckResult(check_id, "skipped", f"Not checked yet: it needs {said}.")
        try:
            finding = await asyncio.wait_for(check.run(ctx), timeout=self._limits.check_seconds)
        except TimeoutError:
            summary = f"No answer within {self._limits.check_seconds:.0f} s; the backend may be slow or down."
            return _with_remedy(CheckResult(check_id, "error", summary), check, ctx.facts)
        except BackendError as problem:
            return _with_remedy(_failed(check_id, problem, 0.0), check, ctx.facts)
        except Exception as problem:  # a bug must not take the triage down: it becomes this check's result
            log.exception("check %s raised", check_id)
            summary = f"The check stopped on an unexpected problem ({type(problem).__name__}: {str(problem)[:120]})."
            return _with_remedy(CheckResult(check_id, "error", summary), check, ctx.facts)
        return self._result(check_id, finding)

    def _result(self, check_id: str, finding: Finding) -> CheckResult:
        problems = fact_problems(self._kb, check_id, finding.facts)
        if problems:
            log.error("check %s produced facts outside its declaration: %s", check_id, problems)
            return CheckResult(
                check_id, "error", "The check produced facts it does not declare: " + "; ".join(problems)
            )
        return CheckResult(
            id=check_id,
            status=finding.status,
            summary=finding.summary,
            evidence=tuple(finding.evidence),
            facts=dict(finding.facts),
        )

    def _title(self, check_id: str) -> str:
        spec = self._kb.checks.get(check_id)
        return spec.title if spec else check_id


def _failed(check_id: str, problem: BackendError, seconds: float) -> CheckResult:
    status: CheckStatus = "error"
    if isinstance(problem, NotConfigured) or (isinstance(problem, Refused) and problem.backend == "input"):
        status = "skipped"
    return CheckResult(check_id, status, problem.message, duration_ms=_ms(seconds))


def _with_remedy(result: CheckResult, check: CheckDef | None, facts: Mapping[str, Any]) -> CheckResult:
    if check is None:
        return result
    try:
        remedy = check.remedy(facts)
    except Exception:  # a remedy that cannot be written for these facts is left out, not fatal
        log.exception("remedy of %s failed", check.id)
        remedy = ""
    return CheckResult(
        result.id, result.status, result.summary, result.evidence, result.facts, result.duration_ms, remedy
    )


async def _tell(progress: Progress, event: ProgressEvent) -> None:
    try:
        await progress(event)
    except Exception:  # a progress display that fails must not fail the checks
        log.exception("progress callback failed for %s %s", event.kind, event.check_id)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
