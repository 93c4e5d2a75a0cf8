"""The result card stays under Teams' message size whatever it shows, and stays a valid Adaptive Card 1.5:
every check down with its commands, long summaries and evidence, many candidates and ruled-out causes, a
remediation for hundreds of servers. What does not fit says how much more there is and where it is."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.api import CheckResult, Evidence
from checks.catalogue import registry
from dialogs.card_budget import clip, fit_lines, size
from dialogs.findings import Findings
from dialogs.remedy_list import merge_remedies
from dialogs.result_card import CARD_BYTES, Budget, _build, progress_card, result_card
from knowledge.assessment import Assessment, FactSource, assess
from knowledge.inference import Inference, RankedCause, RuledOut, infer
from knowledge.loader import load_knowledge
from knowledge.remediation import FilledRemediation
from tests.dialogs.harness import card_problems, card_text

KB = load_knowledge()
LIMIT = 24 * 1024
PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
SERVERS = [f"exchange-mailbox-{i:03d}.branch.contoso.com" for i in range(300)]
DOWN = "No answer within 8 s; the backend may be slow or down."
URL = "https://triage.example/remediation/tok-123"


def serialized(card: dict[str, Any]) -> int:
    """The larger of the two ways a host may send it: ASCII-escaped or UTF-8."""
    return max(len(json.dumps(card)), len(json.dumps(card, ensure_ascii=False).encode()))


def remedy(check_id: str, facts: dict[str, Any]) -> str:
    return registry()[check_id].remedy(facts)


def worst_facts() -> dict[str, Any]:
    """Facts that make one cause certain (a remediation line per server) and most others match or be ruled
    out: every signature at once, and a check fact that rules out each cause it can."""
    facts: dict[str, Any] = {
        **PAIR,
        "signatures": [s.id for s in KB.signatures],
        "scope": "all",
        "fedcert.missing_servers": SERVERS,
        "fedcert.missing_sites": ["Branch"],
        "fedcert.source_server": "EX01",
        "fedcert.thumbprint": "3226500C943B6235AEB493A307F084710FD1D5D0",
    }
    for cause in KB.causes.values():
        for rule_out in cause.rule_outs:
            if rule_out.fact not in facts and rule_out.equals is not None:
                facts[rule_out.fact] = rule_out.equals
    return facts


def worst_results(summary: str, value: str) -> list[CheckResult]:
    facts = worst_facts()
    results = [
        CheckResult(
            "federation-certificates",
            "fail",
            summary,
            tuple(Evidence(f"Certificate {value}", value, server) for server in SERVERS[:60]),
            {
                k: facts[k]
                for k in ("fedcert.missing_servers", "fedcert.missing_sites", "fedcert.source_server")
            },
        )
    ]
    for check_id in KB.checks:
        if check_id != "federation-certificates":
            long_remedy = remedy(check_id, facts) + "\n" + f"# {value}\nGet-Something -Name '{value}'\n" * 3
            results.append(CheckResult(check_id, "error", summary, (), {}, remedy=long_remedy))
    return results


def worst_card(summary: str, value: str) -> dict[str, Any]:
    facts = worst_facts()
    results = worst_results(summary, value)
    # The ranking of these facts alone (no symptom implied): the most causes and rule-outs on one card.
    sources = {fact: FactSource("check", r.id) for r in results for fact in r.facts}
    assessment = Assessment(facts, sources, infer(KB, facts))
    assert assessment.best is not None and assessment.best.id == "federation-cert-missing-on-site"
    assert len(assessment.causes) > 10 and len(assessment.ruled_out) > 10
    assert len(assessment.best.remediations[0].commands) > len(SERVERS)
    findings = Findings(assessment, results)
    return result_card(
        KB, findings, heading_text="Here is what I found. " + value, runbook_url=URL, escalated_to=value
    )


def test_the_worst_case_stays_under_the_limit_and_valid() -> None:
    built = worst_card("The backend answered something unexpected: " + "x" * 3000, "v" * 2000)
    assert serialized(built) < LIMIT
    assert card_problems(built) == []
    shown = card_text(built)
    assert "Likely cause: The federation certificate is missing" in shown
    assert "lines (on the remediation page)." in shown  # 300 servers' import commands
    assert "more observations." in shown and "; and " in shown  # evidence and ruled-out causes cut short
    assert "could not look either: I will list their commands once you paste this." in shown


def test_the_worst_case_in_non_ascii_text_stays_under_the_limit() -> None:
    # Escaped as JSON, each of these characters costs 6 or 12 bytes.
    built = worst_card("Сервер не отвечает 🔥 " * 200, "値が長すぎます🙂" * 300)
    assert serialized(built) < LIMIT
    assert card_problems(built) == []


def _remediation(n: int, value: str) -> FilledRemediation:
    lines = [f"Set-Something -Identity '{value}' -Index {i}" for i in range(300)]
    return FilledRemediation(
        f"fix-{n}",
        value,
        True,
        value,
        lines,
        lines,
        {},
        [value] * 20,
        value,
        [f"https://x.example/{value}"] * 9,
    )


def test_every_field_at_its_longest_is_built_again_smaller_and_still_fits() -> None:
    value = "w" * 5000
    best = RankedCause(
        "federation-cert-missing-on-site",
        value,
        0.99,
        [value] * 11,
        [],
        [],
        [_remediation(i, value) for i in range(5)],
        11,
    )
    others = [RankedCause(f"cause-{i}", value, 0.5, [value], [], [], [], 1) for i in range(30)]
    ruled_out = [RuledOut(f"gone-{i}", value, value) for i in range(40)]
    facts = {**worst_facts(), "fedcert.missing_servers": [value] * 50}
    findings = Findings(
        Assessment(facts, {}, Inference([best, *others], ruled_out)), worst_results(value, value)
    )
    args = (KB, findings, value, URL, value)
    assert serialized(_build(*args, Budget(1.0))) > CARD_BYTES  # the budgets at full scale are not enough
    built = result_card(KB, findings, heading_text=value, runbook_url=URL, escalated_to=value)
    assert serialized(built) < LIMIT
    assert card_problems(built) == []
    assert "… and 2 more remediations (on the remediation page)." in card_text(built)


def _every_check_down(facts: dict[str, Any]) -> list[CheckResult]:
    return [CheckResult(c, "error", DOWN, remedy=remedy(c, facts)) for c in KB.checks]


def test_with_every_check_down_and_short_summaries_every_command_comes_at_once() -> None:
    results = _every_check_down(PAIR)
    findings = Findings(assess(KB, said=dict(PAIR)), results)
    built = result_card(KB, findings, heading_text="Here is what I found.", runbook_url=None)
    assert serialized(built) < LIMIT and card_problems(built) == []
    shown = card_text(built)
    assert "could not look either" not in shown
    for line in merge_remedies(r.remedy for r in results):
        assert line in shown


def test_commands_that_do_not_fit_come_on_the_next_card_once_the_first_checks_have_looked() -> None:
    # Commands long enough (a long object name in each) that every check's cannot fit on one card.
    facts = worst_facts()
    results = [
        CheckResult(c, "error", DOWN, remedy=remedy(c, facts) + f"\nGet-Something -Name '{c}-{'v' * 700}'")
        for c in KB.checks
    ]
    findings = Findings(assess(KB, said=facts), results)
    first = result_card(KB, findings, heading_text="Here is what I found.", runbook_url=URL, escalated_to="x")
    shown = card_text(first)
    assert "could not look either" in shown
    listed = [r for r in results if all(line in shown for line in merge_remedies([r.remedy]))]
    later = [r for r in results if r not in listed]
    assert listed and later
    # The admin pasted the first commands' output: those checks looked, the others still wait.
    looked = [CheckResult(r.id, "ok", "Looked at the pasted output.") if r in listed else r for r in results]
    again = result_card(
        KB,
        Findings(findings.assessment, looked),
        heading_text="Here is what I found.",
        runbook_url=URL,
    )
    next_shown = card_text(again)
    for line in merge_remedies(r.remedy for r in later):
        assert line in next_shown


def test_clip_and_fit_lines_count_escaped_bytes() -> None:
    assert clip("short", 100) == "short"
    cut = clip("🙂" * 50, 100)
    assert cut.endswith("…") and size(cut) <= 100
    lines, left = fit_lines(["a" * 50] * 10, 200)
    assert len(lines) == 3 and left == 7
    assert fit_lines(["b" * 5000], 100, line_budget=120) == (["b" * 112 + "…"], 0)  # at least one line


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    summary=st.text(min_size=0, max_size=4000),
    value=st.text(min_size=1, max_size=3000),
    checks=st.integers(min_value=0, max_value=40),
)
def test_any_text_and_any_number_of_checks_stay_under_the_limit(
    summary: str, value: str, checks: int
) -> None:
    facts = worst_facts()
    results = [
        CheckResult(
            f"check-{i}",
            "error",
            summary,
            (Evidence(value, value, value),),
            {},
            remedy=f"# {value}:\n{value}",
        )
        for i in range(checks)
    ]
    findings = Findings(assess(KB, said=facts), results)
    built = result_card(KB, findings, heading_text=value, runbook_url=URL, escalated_to=value)
    assert serialized(built) < LIMIT


def test_the_progress_card_stays_under_the_limit_with_any_number_of_long_rows() -> None:
    rows = [("error", f"Check {i} " + "t" * 300, "🔥" * 2000) for i in range(60)]
    built = progress_card(rows, finished=False)
    assert serialized(built) < LIMIT and card_problems(built) == []
    assert "… and 40 more checks." in card_text(built)


def test_evidence_rows_are_shown_whole_or_left_out_and_counted_never_cut() -> None:
    servers = [f"EX{i:02d}" for i in range(12)]
    subject = "CN=" + ".".join(["federation-certificate-subject-name"] * 8)  # ~300 characters
    thumbprint = "3226500C943B6235AEB493A307F084710FD1D5D0"
    facts: dict[str, Any] = {
        **PAIR,
        "symptom": "freebusy-cloud-to-onprem",
        "fedcert.missing_servers": servers,
        "fedcert.missing_sites": ["Branch"],
        "fedcert.source_server": "EX99",
        "fedcert.thumbprint": thumbprint,
    }
    rows = tuple(Evidence(f"Certificate {thumbprint}", f"missing ({subject})", s) for s in servers)
    results = [CheckResult("federation-certificates", "fail", "They lack it.", rows, facts)]
    findings = Findings(assess(KB, said=PAIR, results=results), results)
    shown = card_text(result_card(KB, findings, heading_text="Here is what I found.", runbook_url=URL))
    whole = [s for s in servers if f"· {s}: Certificate {thumbprint} = missing ({subject})" in shown]
    assert whole, "at least one row in full"
    assert f"… and {len(servers) - len(whole)} more observations." in shown or len(whole) == len(servers)
    assert "…" not in "".join(
        line for line in shown.splitlines() if line.startswith("Federation certificate on")
    )
