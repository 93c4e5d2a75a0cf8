"""`triage doctor` against the lab with a live configuration naming it: the healthy lab, an account without a
role, a server without its SPN, an untrusted certificate; and against `triage lab up --kerberos`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.auth.kdc import RunningKdc
from lab.auth.realm import lab_kerberos, start_realm
from lab.faults import FaultSpec
from lab.runtime import RunningLab, start_lab
from lab.scenario.load import load_scenario
from tests.kerberos.live_config import (
    PASSWORD_ENV,
    SECRET_ENV,
    endpoints_config,
    kerberos_config,
    write_config,
)
from triage.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "lab" / "scenarios" / "deployment"
EVERY_CHECK = {
    "dns",
    "tcp",
    "tls",
    "auth",
    "cmdlets",
    "templates",
    "impersonation",
    "token",
    "permissions",
    "exo",
}


def doctor(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["doctor", "--config", str(config), "--json", "--mailbox", "bjorn@contoso.com", *extra])
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return code, rows


def problems(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["status"] != "ok"]


@pytest.fixture
def lab_env(monkeypatch: pytest.MonkeyPatch, kdc: RunningKdc) -> pytest.MonkeyPatch:
    # A configuration's krb5_conf repoints the process; the session's realm is put back afterwards.
    monkeypatch.setenv("KRB5_CONFIG", os.environ["KRB5_CONFIG"])
    monkeypatch.setenv("KRB5CCNAME", os.environ["KRB5CCNAME"])
    return monkeypatch


def _secrets(monkeypatch: pytest.MonkeyPatch, lab: RunningLab) -> None:
    monkeypatch.setenv(PASSWORD_ENV, lab.endpoints["credentials"]["password"])
    monkeypatch.setenv(SECRET_ENV, lab.endpoints["credentials"]["client_secret"])


def test_the_healthy_lab_is_all_ok(
    klab: RunningLab, tmp_path: Path, capsys: pytest.CaptureFixture[str], lab_env: pytest.MonkeyPatch
) -> None:
    _secrets(lab_env, klab)
    code, rows = doctor(capsys, write_config(tmp_path / "live.yaml", kerberos_config(klab)))
    assert problems(rows) == []
    assert code == 0
    assert {r["check"] for r in rows} == EVERY_CHECK
    auth = [r["detail"] for r in rows if r["check"] == "auth"]
    assert auth and all("kerberos" in detail for detail in auth)
    hosts = {r["backend"] for r in rows if r["check"] == "templates"}
    assert {"winrm EX01", "winrm EX02", "winrm EX03", "winrm EX04"} <= hosts
    assert "signed in with kerberos (SPN HTTP/ex01.contoso.com)" in auth


def test_a_missing_role_names_the_cmdlets_and_the_role(
    kdc: RunningKdc, tmp_path: Path, capsys: pytest.CaptureFixture[str], lab_env: pytest.MonkeyPatch
) -> None:
    scenario = load_scenario(SCENARIOS / "exchange-role-missing.yaml")
    with start_lab(scenario, kerberos=lab_kerberos(kdc), password=kdc.password) as lab:
        _secrets(lab_env, lab)
        code, rows = doctor(capsys, write_config(tmp_path / "live.yaml", kerberos_config(lab)))
    assert code == 1
    [row] = problems(rows)
    assert (row["backend"], row["check"]) == ("exchange", "cmdlets")
    for cmdlet in (
        "Get-AuthConfig",
        "Get-ExchangeCertificate",
        "Get-FederationTrust",
        "Get-OrganizationRelationship",
    ):
        assert cmdlet in row["detail"]
    assert "View-Only Configuration" in row["fix"]


def test_a_server_without_its_spn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lab_env: pytest.MonkeyPatch
) -> None:
    scenario = load_scenario(SCENARIOS / "kerberos-spn-missing.yaml")
    with (
        start_realm(scenario) as realm,
        start_lab(scenario, kerberos=lab_kerberos(realm), password=realm.password) as lab,
    ):
        _secrets(lab_env, lab)
        lab_env.setenv("KRB5CCNAME", "MEMORY:spn-missing")
        config = kerberos_config(lab, kerberos={"krb5_conf": str(realm.krb5_conf)})
        code, rows = doctor(capsys, write_config(tmp_path / "live.yaml", config))
    assert code == 1
    failed = {(r["backend"], r["check"]): r for r in problems(rows)}
    assert set(failed) == {("exchange", "auth"), ("winrm EX01", "auth"), ("winrm MGMT01", "auth")}, failed
    exchange = failed[("exchange", "auth")]
    assert "knows no account with the server's SPN" in exchange["detail"]
    assert "setspn" in exchange["fix"]
    assert any(
        r["backend"] == "winrm EX02" and r["check"] == "templates" and r["status"] == "ok" for r in rows
    )


def test_an_untrusted_certificate_is_a_tls_problem(
    klab: RunningLab, tmp_path: Path, capsys: pytest.CaptureFixture[str], lab_env: pytest.MonkeyPatch
) -> None:
    _secrets(lab_env, klab)
    config = kerberos_config(klab, exchange=None, winrm=None, exchange_online=None, graph=None)
    del config["ews"]["ca_file"]
    code, rows = doctor(capsys, write_config(tmp_path / "live.yaml", config))
    assert code == 1
    [row] = problems(rows)
    assert (row["check"], row["status"]) == ("tls", "problem")
    assert "not accepted" in row["detail"] and "trust the CA" in row["fix"]


def test_text_output_and_a_bad_config(
    klab: RunningLab, tmp_path: Path, capsys: pytest.CaptureFixture[str], lab_env: pytest.MonkeyPatch
) -> None:
    _secrets(lab_env, klab)
    config = kerberos_config(klab, winrm=None, ews=None, graph=None, exchange_online=None)
    config["exchange"]["spn"] = "HTTP/nowhere.contoso.com"
    code = main(["doctor", "--config", str(write_config(tmp_path / "live.yaml", config))])
    out = capsys.readouterr().out
    assert code == 1
    assert "PROBLEM  exchange  auth" in out and "fix" in out and "Traceback" not in out
    bad = write_config(tmp_path / "bad.yaml", {"exchange": {"server": "ex01", "ssl": False, "auth": "basic"}})
    assert main(["doctor", "--config", str(bad)]) == 2
    assert "basic" in capsys.readouterr().err


def test_against_triage_lab_up(tmp_path: Path, kdc: RunningKdc) -> None:
    """`triage lab up --kerberos` in one process, `triage doctor` on a configuration naming it in another."""
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "lab", "up", "--scenario", "healthy", "--kerberos"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        tenant = load_scenario("healthy").exchange_online.tenant
        config = endpoints_config(
            endpoints, tenant, kerberos={"krb5_conf": endpoints["kerberos"]["krb5_conf"]}
        )
        env = {
            **os.environ,
            PASSWORD_ENV: endpoints["credentials"]["password"],
            SECRET_ENV: endpoints["credentials"]["client_secret"],
        }
        env.pop("KRB5_CONFIG", None)
        env.pop("KRB5CCNAME", None)
        done = subprocess.run(
            [sys.executable, "-m", "triage", "doctor", "--config", str(write_config(tmp_path / "up.yaml", config)), "--json", "--mailbox", "bjorn@contoso.com"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        rows = json.loads(done.stdout)
        assert problems(rows) == [], done.stderr
        assert done.returncode == 0
        assert endpoints["kerberos"]["realm"] == "CONTOSO.COM"
    finally:
        process.terminate()
        process.wait(10)


def test_a_template_that_fails_on_a_host_is_named(
    klab: RunningLab, tmp_path: Path, capsys: pytest.CaptureFixture[str], lab_env: pytest.MonkeyPatch
) -> None:
    _secrets(lab_env, klab)
    klab.faults.add(FaultSpec(service="winrm", operation="win-events", kind="throttle"))
    config = kerberos_config(klab, exchange=None, ews=None, graph=None, exchange_online=None)
    config["winrm"]["endpoints"] = {"EX02": klab.endpoints["winrm_http_servers"]["EX02"]}
    code, rows = doctor(capsys, write_config(tmp_path / "live.yaml", config))
    assert code == 1
    [row] = problems(rows)
    assert (row["backend"], row["check"]) == ("winrm EX02", "templates")
    assert "the win-events template failed" in row["detail"] and "Event Log Readers" in row["fix"]
