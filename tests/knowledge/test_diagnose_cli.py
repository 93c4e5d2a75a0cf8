"""`triage diagnose` and `triage run` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.texts import EXAMPLE, text_path
from triage.cli import main


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        input=stdin.decode("utf-8", errors="replace") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_json_output_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["diagnose", "--error-file", str(text_path("seed-000-event-4002.txt")), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"facts", "causes", "questions"}
    assert out["facts"]["event.id"] == 4002
    first = out["causes"][0]
    assert first["id"] == "federation-cert-missing-on-site"
    assert set(first) >= {"id", "title", "confidence", "evidence", "checks", "cases", "remediations"}
    assert 0 < first["confidence"] <= 1
    assert [c["confidence"] for c in out["causes"]] == sorted(
        (c["confidence"] for c in out["causes"]), reverse=True
    )
    assert "fedcert-missing-non-internet-facing-site" in first["cases"]
    remediation = first["remediations"][0]
    assert set(remediation) >= {"id", "summary", "commands", "docs"}
    assert any(q["node"] == "scope" for q in out["questions"])
    assert out["advice"]["kind"] == "escalate" and out["advice"]["who"] == "exchange-team"


def test_the_report_ends_with_what_a_helpdesk_agent_does_now(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--error-file", str(text_path("seed-000-event-4002.txt"))]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (
        "What to do now: Escalate to the Exchange team: the federation certificate is missing on some servers "
        "in the target's site, and only an Exchange admin can install it (the filled commands are ready for them)."
    )


def test_conversation_flags_answer_their_questions(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["diagnose", "--symptom", "freebusy-cross-forest", "--scope", "pair"]
    args += ["--requester", "alice@contoso.com", "--target", "bob@fabrikam.com", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["facts"]["scope"] == "pair"
    assert {q["node"] for q in out["questions"]} == {"sites", "error-text"}


def test_scope_pair_lifts_the_sharing_subscription_for_seed_001(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["diagnose", "--error-file", str(text_path("seed-001-fiddler.json")), "--scope", "pair", "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["causes"][0]["id"] == "sharing-subscription-without-permission"


def test_nothing_recognised_still_exits_zero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    paste = tmp_path / "paste.txt"
    paste.write_text("the printer on floor 3 is jammed again", encoding="utf-8")
    assert main(["diagnose", "--error-file", str(paste), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["causes"] == []


def test_readable_report_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--error-file", str(text_path("seed-002-event-42.txt"))]) == 0
    report = capsys.readouterr().out
    assert "owa-internalurl-not-https" in report
    assert "owa-target-vdir-not-ssl" in report
    assert "remediation: " in report
    assert "What is going wrong?" not in report


def test_readable_report_puts_causes_first_then_questions_and_no_facts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paste = Path(__file__).parent / "command_pastes" / "seed-000-remedies.txt"
    assert main(["diagnose", "--error-file", str(paste), "--requester", "alice@contoso.com"]) == 0
    report = capsys.readouterr().out
    assert report.startswith("1. ")
    assert report.index("1. ") < report.index("Still to ask:")
    assert "What I read:" not in report
    assert "fedcert.thumbprint" not in report


def test_verbose_report_lists_the_facts_after_the_questions_without_noise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paste = Path(__file__).parent / "command_pastes" / "seed-000-remedies.txt"
    args = ["diagnose", "--error-file", str(paste), "--requester", "alice@contoso.com", "--verbose"]
    assert main(args) == 0
    report = capsys.readouterr().out
    assert report.index("1. ") < report.index("Still to ask:") < report.index("What I read:")
    facts = report[report.index("What I read:") : report.index("\nChecks:")].splitlines()[1:]
    assert "  fedcert.missing_servers: EX03, EX04" in facts
    assert "  requester: alice@contoso.com" in facts
    assert not [line for line in facts if line.startswith("  pasted:")]
    assert all(line.split(": ", 1)[1].strip() for line in facts if line.strip())


def test_the_report_never_shows_empty_values() -> None:
    from knowledge.diagnosis import diagnose
    from knowledge.loader import load_knowledge
    from triage.commands import render_report

    result = diagnose(load_knowledge(), text="Event ID: 4002", conversation={"scope": "pair"})
    result.facts.update({"pasted": True, "target": "", "fedtrust.domains": [], "oauth.issuer": None})
    shown = render_report(result, verbose=True)
    assert "  scope: pair" in shown and "  event.id: 4002" in shown
    for noise in ("pasted:", "target:", "fedtrust.domains:", "oauth.issuer:"):
        assert noise not in shown


@pytest.mark.cli
@pytest.mark.parametrize(
    "args",
    [
        ["diagnose", "--error-file", str(text_path("seed-000-event-4002.txt")), "--json"],
        ["diagnose", "--error-file", str(text_path("seed-000-event-4002.txt")), "--verbose"],
        ["lab", "list"],
    ],
)
def test_a_reader_that_stops_early_ends_quietly(args: list[str]) -> None:
    """`triage ... | head -1`: the pipe is closed before the output is written; no traceback follows."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "triage", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert stderr == ""


@pytest.mark.cli
def test_stdin_is_read_with_a_dash() -> None:
    result = run_cli(
        "diagnose", "--error-file", "-", "--json", stdin=(text_path("seed-002-event-42.txt")).read_bytes()
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["facts"]["event.id"] == 42


@pytest.mark.cli
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--error-file", "/nonexistent/paste.txt"], "cannot read --error-file /nonexistent/paste.txt"),
        (["--requester", "not-an-address"], "--requester: 'not-an-address' is not an email address"),
        (["--symptom", "printer-jam"], "unknown --symptom 'printer-jam'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = run_cli("diagnose", *args)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("triage: error: ")
    assert message in line
    assert result.stdout == ""


@pytest.mark.cli
def test_a_paste_over_one_mebibyte_is_refused_clearly() -> None:
    result = run_cli("diagnose", "--error-file", "-", stdin=b"x" * (1024 * 1024 + 1))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "1 MiB" in line or "too large" in line.lower()


@pytest.mark.cli
def test_undecodable_bytes_are_read_not_fatal() -> None:
    result = run_cli("diagnose", "--error-file", "-", "--json", stdin=b"\xff\xfe Event ID: 4002 \x00\x81")
    assert result.returncode == 0, result.stderr


@pytest.mark.cli
def test_the_bundled_example_is_diagnosed() -> None:
    result = run_cli("diagnose", "--error-file", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    first = next(line for line in result.stdout.splitlines() if line.startswith("1. "))
    assert "[federation-cert-missing-on-site]" in first


@pytest.mark.cli
def test_run_without_node_falls_back_to_the_terminal_chat(tmp_path: Path) -> None:
    """`triage run` needs Node.js for the Teams-like client; without it the same conversation starts in the
    terminal (the Teams-like run itself is tested in tests/triage and tests/e2e)."""
    no_node = tmp_path / "bin"
    no_node.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "triage", "run"],
        input="quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": str(no_node), "TRIAGE_STATE_DIR": str(tmp_path / "var")},
    )
    assert result.returncode == 0, result.stderr
    assert "Node.js (node) is not on PATH" in result.stderr
    assert "starting the terminal chat instead" in result.stderr
    assert "What is going wrong?" in result.stdout
    assert "1) Cloud users cannot see on-premises free/busy" in result.stdout


def test_a_paste_that_implies_the_symptom_answers_that_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--error-file", str(text_path("seed-000-event-4002.txt")), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["facts"]["symptom"] == "freebusy-cloud-to-onprem"
    assert "symptom" not in {q["node"] for q in out["questions"]}


def test_pasted_command_output_is_check_evidence_without_any_backend(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The output of the checks' commands (seed-000's servers) in --error-file: the checks run on it alone."""
    paste = Path(__file__).parent / "command_pastes" / "seed-000-remedies.txt"
    pair = ["--requester", "alice@contoso.com", "--target", "bjorn@contoso.com"]
    assert main(["diagnose", "--error-file", str(paste), *pair, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    checks = {c["id"]: c for c in out["checks"]}
    assert checks["federation-certificates"]["status"] == "fail"
    assert checks["topology"]["status"] == "ok"
    assert checks["oauth-configuration"]["status"] == "skipped"
    assert "pasted output has no output of Get-AuthConfig" in checks["oauth-configuration"]["summary"]
    assert out["causes"][0]["id"] == "federation-cert-missing-on-site"
    assert out["facts"]["fedcert.missing_servers"] == ["EX03", "EX04"]
    # The listings are evidence for the checks, not error text: no error signature fires on them.
    assert "signatures" not in out["facts"]


def test_an_error_paste_without_command_output_runs_no_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--error-file", str(text_path("seed-000-event-4002.txt")), "--json"]) == 0
    assert "checks" not in json.loads(capsys.readouterr().out)


def test_json_says_what_was_recognised_and_what_to_paste_when_nothing_is_confident(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    known = tmp_path / "event.txt"
    known.write_text("Source: MSExchange Availability\nEvent ID: 4002\n", encoding="utf-8")
    assert main(["diagnose", "--error-file", str(known), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in out["recognised"]] == ["event-msexchange-availability-4002"]
    assert out["recognised"][0]["sources"][0].startswith("https://")
    assert out["unknown"]["recognised"][0]["kind"] == "event" and out["unknown"]["ask"] is None
    assert out["unknown"]["escalate"] is True

    unknown_text = tmp_path / "prose.txt"
    unknown_text.write_text("the calendar is empty for some people", encoding="utf-8")
    assert main(["diagnose", "--error-file", str(unknown_text), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recognised"] == [] and out["unknown"]["recognised"] == []
    assert out["unknown"]["ask"]["commands"][0].startswith("Get-WinEvent -FilterHashtable")

    confident = tmp_path / "confident.txt"
    confident.write_text(
        "HCW8017 Hybrid domain contoso.com isn't an accepted domain in the tenant.", encoding="utf-8"
    )
    assert main(["diagnose", "--error-file", str(confident), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unknown"] is None
