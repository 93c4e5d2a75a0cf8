"""`triage diagnose` (the knowledge base from the command line) and the `triage run` registration."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from knowledge.assessment import Assessment
from knowledge.diagnosis import diagnose
from knowledge.helpdesk import advise
from knowledge.loader import KnowledgeBase, KnowledgeError, load_knowledge
from knowledge.reader.command_output import read_command_output, without_command_output
from knowledge.reader.error_text import PasteTooLarge
from knowledge.unknowns import Unknown, recognised, unknown
from knowledge.validators import ValueProblem, check_smtp
from triage.main_job import register_run

__all__ = ["pair_facts", "register"]


def register(subparsers: Any) -> None:
    diagnose_parser = subparsers.add_parser(
        "diagnose",
        help="read an error and rank the likely causes",
        description="Read a pasted error (event log entry, OWA error, Test-* output) and rank the likely causes.",
    )
    diagnose_parser.add_argument(
        "--error-file",
        metavar="PATH|-",
        help="file with the pasted error text, and/or the output of the commands the checks offer "
        "(read as check evidence: without a backend the checks run on it alone); - for stdin",
    )
    diagnose_parser.add_argument(
        "--symptom", metavar="ID", help="symptom id (see knowledge/data/symptoms.yaml)"
    )
    diagnose_parser.add_argument("--scope", choices=("all", "site", "pair"), help="who is affected")
    diagnose_parser.add_argument("--requester", metavar="SMTP", help="the user who cannot see free/busy")
    diagnose_parser.add_argument("--target", metavar="SMTP", help="the user whose free/busy cannot be seen")
    diagnose_parser.add_argument("--json", action="store_true", help="print one JSON object")
    diagnose_parser.add_argument(
        "--verbose", action="store_true", help="also list the facts read (after the causes and questions)"
    )
    diagnose_parser.add_argument(
        "--scenario",
        metavar="NAME|PATH",
        help="run the backend checks against this lab scenario (started here)",
    )
    diagnose_parser.add_argument(
        "--backend", choices=("lab", "live"), help="where the checks run: the lab (with --scenario) or live"
    )
    diagnose_parser.add_argument("--config", metavar="FILE", help="live backend configuration (YAML)")
    diagnose_parser.set_defaults(func=run_diagnose)

    register_run(subparsers)


def _usage(message: str) -> Exception:
    from triage.usage import UsageError

    return UsageError(message)


def _read_text(source: str | None) -> str | None:
    if source is None:
        return None
    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise _usage(f"cannot read --error-file {source}: {exc.strerror}") from None
    return data.decode("utf-8", errors="replace")


def _conversation_facts(args: argparse.Namespace, kb: KnowledgeBase) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if args.symptom is not None:
        if args.symptom not in kb.symptoms:
            known = ", ".join(sorted(kb.symptoms))
            raise _usage(f"unknown --symptom {args.symptom!r}; choose one of: {known}")
        facts["symptom"] = args.symptom
    if args.scope is not None:
        facts["scope"] = args.scope
    return facts | pair_facts(args)


def pair_facts(args: argparse.Namespace) -> dict[str, Any]:
    """--requester and --target, each validated as an address (a usage error names the option)."""
    facts: dict[str, Any] = {}
    for name in ("requester", "target"):
        value = getattr(args, name)
        if value is not None:
            try:
                facts[name] = check_smtp(value)
            except ValueProblem as exc:
                raise _usage(f"--{name}: {exc}") from None
    return facts


def run_diagnose(args: argparse.Namespace) -> int:
    kb = _knowledge()
    conversation = _conversation_facts(args, kb)
    text = _read_text(args.error_file)
    try:
        pasted = read_command_output(text) if text else []
        # Command listings are the checks' evidence; the error-text reader reads the rest.
        error_text = without_command_output(text) if pasted and text else text
    except PasteTooLarge as exc:
        raise _usage(str(exc)) from None
    checks = _run_checks(args, kb, conversation, pasted)
    try:
        if checks is None:
            result = diagnose(kb, text=error_text, conversation=conversation)
        else:
            results, conversation = checks
            result = diagnose(kb, text=error_text, conversation=conversation, results=results)
    except PasteTooLarge as exc:
        raise _usage(str(exc)) from None
    if args.json:
        out = result.as_dict()
        honest = unknown(kb, result)
        out["recognised"] = [r.as_dict() for r in recognised(kb, result.facts)]
        out["unknown"] = honest.as_dict() if honest else None
        out["advice"] = advise(kb, result, could_not_look=_could_not_look(checks)).as_dict()
        if checks is not None:
            out["checks"] = [_check_json(r) for r in checks[0]]
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(render_report(result, verbose=args.verbose, kb=kb))
        found = advise(kb, result, could_not_look=_could_not_look(checks))
        print("\nWhat to do now: " + " ".join(p for p in (found.text, found.how) if p))
        if checks is not None:
            print("\nChecks:")
            print("\n".join(f"  [{r.status}] {r.id}: {r.summary}" for r in checks[0]))
    return 0


def _run_checks(
    args: argparse.Namespace, kb: KnowledgeBase, conversation: dict[str, Any], pasted: list[dict[str, Any]]
) -> tuple[list[Any], dict[str, Any]] | None:
    """The backend checks, when --scenario or --backend live asks for them or the file holds the output of
    their commands (None otherwise)."""
    backend: Literal["lab", "live", "pasted"] | None = args.backend or ("lab" if args.scenario else None)
    if backend is None:
        if args.config:
            raise _usage("--config needs --backend live")
        if not pasted:
            return None
        backend = "pasted"
    if backend == "lab" and not args.scenario:
        raise _usage("--backend lab needs --scenario NAME|PATH")
    if backend == "live" and not args.config:
        raise _usage("--backend live needs --config FILE")
    import asyncio

    from checks.config import ConfigError
    from triage.backends import run_checks_once

    try:
        return asyncio.run(
            run_checks_once(
                backend, facts=conversation, kb=kb, scenario=args.scenario, config=args.config, pasted=pasted
            )
        )
    except (ConfigError, ValueError) as exc:  # a bad config file or scenario (ScenarioError)
        raise _usage(str(exc)) from None


def _could_not_look(checks: tuple[list[Any], dict[str, Any]] | None) -> bool:
    """Whether a check could not look and left read-only commands to run and paste back."""
    return checks is not None and any(r.status in ("error", "skipped") and r.remedy for r in checks[0])


def _check_json(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = result.as_dict()
    return {key: data[key] for key in ("id", "status", "summary", "evidence", "duration_ms")}


def _knowledge() -> KnowledgeBase:
    try:
        return load_knowledge()
    except KnowledgeError as exc:
        raise _usage(str(exc)) from None


def _unknown_lines(honest: Unknown) -> list[str]:
    """No confident cause: what was recognised and what it means, the checks that would tell more, escalation;
    or, when nothing was recognised, what to paste and the exact command."""
    lines: list[str] = []
    if honest.recognised:
        lines.append("No cause fits with confidence, but I recognised:")
        lines.extend(f"  - {line}" for line in honest.summary)
        if honest.checks:
            lines.append(f"Checks that would tell more: {', '.join(honest.checks)}")
        lines.append("Escalate to the Exchange team with these facts if the checks do not settle it.")
    elif honest.ask is not None:
        lines.append(honest.ask.text)
        lines.extend(f"  PS> {command}" for command in honest.ask.commands)
    elif not honest.lead:
        lines.append("No cause matches what I know yet.")
    if honest.lead:
        lines.append(f"The best lead so far: {honest.lead}.")
    return lines


def render_report(result: Assessment, verbose: bool = False, kb: KnowledgeBase | None = None) -> str:
    """The ranked causes first (or, with none confident, what was recognised and what would tell more), then
    the questions still open; the facts read only when `verbose`."""
    lines: list[str] = []
    honest = unknown(kb or load_knowledge(), result)
    if honest is not None:
        lines.extend(_unknown_lines(honest))
        if result.inference.causes:
            lines.append("")
    for rank, cause in enumerate(result.inference.causes[:5], start=1):
        lines.append(f"{rank}. {cause.title} [{cause.id}] confidence {cause.confidence:.0%}")
        lines.extend(f"     - {sentence}" for sentence in cause.evidence)
        if cause.checks:
            lines.append(f"     checks that would confirm it: {', '.join(cause.checks)}")
        if rank == 1:
            for remediation in cause.remediations:
                lines.append(f"     remediation: {remediation.summary}")
                lines.extend(f"       PS> {command}" for command in remediation.commands)
    if result.questions:
        lines.append("")
        lines.append("Still to ask:")
        lines.extend(f"  - {q.prompt}" for q in result.questions)
    shown = _shown_facts(result.facts) if verbose else {}
    if shown:
        lines.append("")
        lines.append("What I read:")
        lines.extend(f"  {name}: {_flat(value)}" for name, value in shown.items())
    return "\n".join(lines)


# Bookkeeping, not findings: whether something was pasted, the raw test rows, the long messages.
_UNSHOWN = frozenset({"pasted", "exception.messages"})


def _shown_facts(facts: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in facts.items()
        if name not in _UNSHOWN and not name.startswith("test.") and value not in (None, "", [], {})
    }


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
