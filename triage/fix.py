"""`triage fix`: diagnose, show the plan and its preview, apply after confirmation, re-verify, audit.

For admins outside Teams and for tests. Against the lab (`--scenario`) every remediation that declares how
it is applied is enabled (the lab is ours to change); against a real organisation (`--backend live`) only
those the configuration's `write.enabled_remediations` lists, with the `write` account, never the read-only
one. Exit 0 fixed, 1 not fixed (the change failed or did not verify), 2 bad input or refused.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["register"]

# A PowerShell step as the plan words it: `Verb-Noun ...` or `$name = Verb-Noun ...`.
_POWERSHELL = re.compile(r"(?:\$\w{1,40} = )?[A-Z][a-z]{1,20}-[A-Za-z]{1,60}(?:\s|$)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fix",
        help="apply the remediation of a diagnosed cause, after confirmation, and verify it",
        description="Diagnose a pair, show the fix plan and what Exchange says it would do (-WhatIf), apply it "
        "after confirmation (or --yes), re-run the checks and say whether it is fixed.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenario", metavar="NAME|PATH", help="a lab scenario, started here")
    source.add_argument("--backend", choices=("live",), help="a real organisation (with --config)")
    parser.add_argument(
        "--config", metavar="FILE", help="live backend configuration (YAML) with a write: section"
    )
    parser.add_argument(
        "--requester", metavar="SMTP", help="who cannot see free/busy (lab: the failing pair)"
    )
    parser.add_argument(
        "--target", metavar="SMTP", help="whose free/busy cannot be seen (lab: the failing pair)"
    )
    parser.add_argument("--cause", metavar="ID", help="fix this cause instead of the likeliest one")
    parser.add_argument("--remediation", metavar="ID", help="apply this remediation of the cause")
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_fix)


def _usage(message: str) -> Exception:
    from triage.usage import UsageError

    return UsageError(message)


@dataclass
class _Organisation:
    runner: Any
    writers: dict[str, Any]  # side -> PsrpSettings of the write account
    enabled: set[str] | None  # None: every remediation with apply (the lab)
    facts: dict[str, Any]


def run_fix(args: argparse.Namespace) -> int:
    if args.backend == "live" and not args.config:
        raise _usage("--backend live needs --config FILE")
    try:
        return asyncio.run(_fix(args))
    except ValueError as problem:  # a bad config file or scenario, an address that is not one
        raise _usage(str(problem)) from None


@asynccontextmanager
async def _organisation(args: argparse.Namespace, facts: dict[str, Any]) -> AsyncIterator[_Organisation]:
    from triage.backends import build_runner, runner_for_lab
    from triage.writers import lab_writers, live_writers

    if args.scenario:
        from lab.runtime import start_lab

        lab = await asyncio.to_thread(start_lab, args.scenario)
        try:
            pair = lab.ctx.scenario.failing_pair or lab.ctx.scenario.working_pair
            given = {"requester": pair.requester, "target": pair.target, **facts}
            yield _Organisation(runner_for_lab(lab), lab_writers(lab.endpoints), None, given)
        finally:
            await asyncio.to_thread(lab.close)
        return
    from checks.config import load_config

    config = load_config(args.config)
    if config.write is None or config.exchange is None:
        raise ValueError(f"{args.config}: write: (the write account) and exchange: are needed to apply a fix")
    if "requester" not in facts or "target" not in facts:
        raise ValueError("--requester and --target are needed against a live organisation")
    async with build_runner("live", config=config) as runner:
        yield _Organisation(runner, live_writers(config), set(config.write.enabled_remediations), facts)


async def _quiet(_event: Any) -> None:
    return None


async def _check_all(org: _Organisation, kb: Any, *, fresh: bool = False) -> tuple[list[Any], Any]:
    """Every check on the pair; `fresh` (the verification after a change) reads nothing from the shared
    organisation cache."""
    from checks.api import CheckRequest
    from knowledge.assessment import assess

    request = CheckRequest(tuple(kb.checks), dict(org.facts), fresh=fresh)
    results = await org.runner.run(request, _quiet)
    return results, assess(kb, said=org.facts, results=results)


def _choose(kb: Any, assessment: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    causes = assessment.causes
    if args.cause:
        cause = next((c for c in causes if c.id == args.cause), None)
        if cause is None:
            raise _usage(f"--cause {args.cause}: the checks do not point to that cause here")
    elif causes:
        cause = causes[0]
    else:
        raise _usage("the checks found no cause to fix")
    candidates = [
        kb.remediations[f.id] for f in cause.remediations if kb.remediations[f.id].apply is not None
    ]
    if args.remediation:
        chosen = next((r for r in candidates if r.id == args.remediation), None)
        if chosen is None:
            raise _usage(
                f"--remediation {args.remediation}: not a remediation of {cause.id} that can be applied"
            )
    elif candidates:
        chosen = candidates[0]
    else:
        raise _usage(f"{cause.id}: none of its remediations can be applied by the tool; run them by hand")
    return cause, chosen


def _confirmed(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        return False
    answer = input("Apply these changes? Type yes to go on: ")
    return answer.strip().lower() == "yes"


async def _fix(args: argparse.Namespace) -> int:
    from checks.fixing import apply_plan, preview_plan, verification
    from checks.writes import plan_cmdlets, plan_problems
    from knowledge.fix_plan import plan_fix
    from knowledge.loader import load_knowledge
    from triage.audit_log import command_line_audit
    from triage.commands import pair_facts
    from triage.writers import missing_writer, step_writer

    kb = load_knowledge()
    facts = pair_facts(args)
    report: dict[str, Any] = {}
    async with _organisation(args, facts) as org, command_line_audit(getpass.getuser()) as audit:
        _results, assessment = await _check_all(org, kb)
        cause, remediation = _choose(kb, assessment, args)
        plan = plan_fix(remediation, assessment.facts)
        assert plan is not None
        report = {"requester": org.facts.get("requester"), "target": org.facts.get("target"),
                  "cause": {"id": cause.id, "title": cause.title, "confidence": cause.confidence},
                  "plan": plan.as_dict()}  # fmt: skip
        if not plan.ready:
            return await _refuse(
                audit, args, report, f"the facts do not fill {', '.join(plan.missing)}: nothing was changed"
            )
        if problems := plan_problems(plan):
            return await _refuse(
                audit, args, report, f"the write list refuses this plan ({problems[0]}): nothing was changed"
            )
        if org.enabled is not None and remediation.id not in org.enabled:
            return await _refuse(
                audit,
                args,
                report,
                f"{remediation.id} is not enabled (write.enabled_remediations): nothing was changed",
            )
        if why := missing_writer(plan, org.writers):
            return await _refuse(audit, args, report, f"{why}: nothing was changed")
        audit.about(
            remediation=plan.remediation_id,
            cause=cause.id,
            mailboxes=[str(m) for m in (org.facts.get("requester"), org.facts.get("target")) if m],
        )
        report["audit"] = f"triage audit --fix {audit.fix_id}"
        await audit.append(
            "fix-proposed", fingerprint=plan.fingerprint(), steps=[s.text() for s in plan.steps]
        )
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-fix") as executor:
            writer = step_writer(plan, org.writers, executor, plan_cmdlets(plan))
            try:
                preview = await preview_plan(plan, writer)
                report["preview"] = preview.as_dict()
                if not args.json:
                    _print_plan(report, preview)
                if not _confirmed(args):
                    await audit.append("fix-declined")
                    return _refused(
                        args, report, "not confirmed (use --yes, or answer yes): nothing was changed"
                    )
                await audit.append("fix-approved", fingerprint=plan.fingerprint())
                run = await apply_plan(plan, writer, audit)
            finally:
                await writer.close()
        report["applied"] = run.as_dict()
        fixed = False
        if run.completed:
            after, _assessment = await _check_all(org, kb, fresh=True)
            fixed, named = verification(plan, after)
            report["verification"] = {"fixed": fixed, "checks": [_check_row(r) for r in named]}
            await audit.append("fix-verified", fixed=fixed, results={r.id: r.status for r in named})
    report["outcome"] = "fixed" if fixed else "not fixed"
    if not run.completed and run.changed_anything and plan.rollback:
        report["rollback"] = [s.text() for s in plan.rollback]
    _print_outcome(args, report)
    return 0 if fixed else 1


def _check_row(result: Any) -> dict[str, Any]:
    return {"id": result.id, "status": result.status, "summary": result.summary,
            "evidence": [e.as_dict() for e in result.evidence]}  # fmt: skip


async def _refuse(audit: Any, args: argparse.Namespace, report: dict[str, Any], why: str) -> int:
    await audit.append("fix-refused", reason=why)
    return _refused(args, report, why)


def _refused(args: argparse.Namespace, report: dict[str, Any], why: str) -> int:
    report["outcome"] = "refused"
    report["reason"] = why
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"Not applied: {why}", file=sys.stderr)
    return 2


def _prompted(text: str) -> str:
    """A PowerShell line behind `PS>`; a step that is not one (an EWS operation, a host template) as it is."""
    return f"PS> {text}" if _POWERSHELL.match(text) else text


def _print_plan(report: dict[str, Any], preview: Any) -> None:
    cause, plan = report["cause"], report["plan"]
    print(f"Likely cause: {cause['title']} [{cause['id']}] ({cause['confidence']:.0%})")
    print(f"Fix: {plan['summary']} (risk: {plan['risk']})")
    print(f"What changes: {plan['preview']}")
    print("Steps:")
    for step in preview.steps:
        print(f"  {_prompted(step.text)}")
        print(f"      {step.status}: {step.detail}" if step.detail else f"      {step.status}")
    if plan["rollback"]:
        print("Rollback, if needed:")
        for step in plan["rollback"]:
            print(f"  {_prompted(step['text'])}")
    print(f"Then these checks must pass: {', '.join(plan['verify_checks'])}")


def _print_outcome(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for step in report.get("applied", []):
        print(f"[{step['status']}] {step['step']}" + (f" — {step['detail']}" if step["detail"] else ""))
    verification = report.get("verification")
    if verification:
        for check in verification["checks"]:
            print(f"  check {check['id']}: {check['status']} — {check['summary']}")
    print("Fixed." if report["outcome"] == "fixed" else "Not fixed.")
    if report.get("rollback"):
        print("Part of the change ran. To undo it:")
        for line in report["rollback"]:
            print(f"  {_prompted(line)}")
