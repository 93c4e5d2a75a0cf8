"""`triage lab list` and `triage lab up`, as a user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from triage.cli import main

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = [sys.executable, "-c", "import sys; from triage.cli import main; sys.exit(main())"]


def test_list_json_describes_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {row["name"]: row for row in rows}
    assert len(rows) == 20
    assert set(rows[0]) == {"name", "description", "failing_pair", "working_pair", "expected_causes"}
    seed = by_name["seed-000-federation-cert"]
    assert seed["failing_pair"] == {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
    assert seed["working_pair"] == {"requester": "alice@contoso.com", "target": "carol@contoso.com"}
    assert seed["expected_causes"] == ["federation-cert-missing-on-site"]
    assert by_name["healthy"]["failing_pair"] is None and by_name["healthy"]["expected_causes"] == []


def test_list_prints_one_line_per_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20
    assert any(line.startswith("seed-001-sharing-subscription ") and "subscription" in line for line in lines)


def test_up_with_an_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "up", "--scenario", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("triage: error: no-such-scenario: unknown scenario") and err.count("\n") == 1


def test_up_with_a_broken_file_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "extends: healthy\nname: bad\ndescription: x\nmailboxes:\n  - {address: bjorn@contoso.com, database: DB9}\n"
    )
    assert main(["lab", "up", "--scenario", str(path)]) == 2
    assert "mailboxes[2].database: unknown database 'DB9'" in capsys.readouterr().err


def test_up_rejects_a_privileged_port_base(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "up", "--scenario", "healthy", "--port-base", "80"]) == 2
    assert "--port-base" in capsys.readouterr().err


def test_up_prints_endpoints_and_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(
        [*TRIAGE, "lab", "up", "--scenario", "seed-000-federation-cert"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        assert Path(endpoints["ca_cert"]).is_file()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    assert endpoints["scenario"] == "seed-000-federation-cert"
    for name in ("psrp", "winrm", "ews", "graph", "token"):
        assert endpoints[name].startswith("https://127.0.0.1:")
    assert endpoints["psrp"].endswith("/PowerShell") and endpoints["ews"].endswith("/EWS/Exchange.asmx")
    assert set(endpoints["credentials"]) == {
        "username",
        "password",
        "tenant_id",
        "client_id",
        "client_secret",
        "principal",
    }
    assert {
        "address": "bjorn@contoso.com",
        "display_name": "Bjørn Ødegård",
        "location": "onprem",
    } in endpoints["mailboxes"]
    assert not Path(endpoints["ca_cert"]).exists()  # the lab's private key material is gone after shutdown
    assert process.stdout.read() == "" and process.stderr is not None and process.stderr.read() == ""
