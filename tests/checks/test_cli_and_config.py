"""`triage diagnose --scenario` and `--backend live --config`; the live configuration's validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.config import ConfigError, load_config, parse_config
from checks.wiring import from_config
from triage.cli import main

GOOD = {
    "exchange": {"server": "ex01.contoso.com", "auth": "kerberos"},
    "winrm": {
        "url_template": "https://{server}.contoso.com:5986/wsman",
        "username": "CONTOSO\\triage-svc",
        "password_env": "TRIAGE_TEST_WINRM",
    },
    "ews": {
        "endpoint": "https://mail.contoso.com/EWS/Exchange.asmx",
        "username": "CONTOSO\\triage-svc",
        "password_file": "PLACEHOLDER",
    },
    "graph": {
        "tenant_id": "2216bf9f-b735-4ab6-884a-29c5d3f82db0",
        "client_id": "c1",
        "client_secret_env": "TRIAGE_TEST_GRAPH",
    },
}


@pytest.mark.lab
def test_diagnose_with_a_scenario_adds_the_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "diagnose",
                "--scenario",
                "seed-002-owa-vdir-403",
                "--symptom",
                "owa-ecp-cross-site-proxy",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["causes"][0]["id"] == "owa-target-vdir-not-ssl"
    checks = {c["id"]: c for c in out["checks"]}
    assert set(checks["https-probe"]) == {"id", "status", "summary", "evidence", "duration_ms"}
    assert checks["https-probe"]["status"] == "fail"
    assert {
        "server": "ex03.contoso.com",
        "property": "GET /owa: HTTP status",
        "value": "403",
    }.items() <= next(
        e for e in checks["https-probe"]["evidence"] if e["property"] == "GET /owa: HTTP status"
    ).items()
    assert out["facts"]["owa.target.https_status"] == 403


def test_diagnose_without_a_scenario_runs_no_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--symptom", "owa-ecp-cross-site-proxy", "--json"]) == 0
    assert "checks" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--backend", "live"], "--backend live needs --config FILE"),
        (["--backend", "lab"], "--backend lab needs --scenario"),
        (["--config", "x.yaml"], "--config needs --backend live"),
        (["--scenario", "no-such-scenario"], "no-such-scenario"),
    ],
)
def test_diagnose_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["diagnose", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_live_config_error_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "live.yaml"
    config.write_text("exchange:\n  server: ex01.contoso.com\n  auth: carrier-pigeon\n", encoding="utf-8")
    assert main(["diagnose", "--backend", "live", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "exchange.auth" in err and "live.yaml" in err


def test_secrets_may_not_be_written_in_the_file() -> None:
    with pytest.raises(
        ConfigError, match=r"exchange: 'password' may not be written in the file: use password_env"
    ):
        parse_config({"exchange": {"server": "ex01", "password": "hunter2"}})
    with pytest.raises(ConfigError, match=r"graph: 'client_secret' may not be written"):
        parse_config({"graph": {"tenant_id": "t", "client_id": "c", "client_secret": "s"}})


def test_unknown_keys_and_bad_values_are_named() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"exchange": {"server": "ex01", "port": 70000}, "winrm": {"trnsport": "ntlm"}})
    problems = str(raised.value).splitlines()
    assert any(p.startswith("config: exchange.port:") for p in problems)
    assert any(p.startswith("config: winrm.trnsport:") for p in problems)


def test_secrets_come_from_the_environment_or_a_file_and_are_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "ews.secret"
    secret_file.write_text("file-secret-1\n", encoding="utf-8")
    data = json.loads(json.dumps(GOOD).replace("PLACEHOLDER", str(secret_file).replace("\\", "\\\\")))
    monkeypatch.setenv("TRIAGE_TEST_WINRM", "env-secret-2")
    monkeypatch.setenv("TRIAGE_TEST_GRAPH", "env-secret-3")
    settings = from_config(parse_config(data))
    assert settings.ews is not None and settings.ews.password == "file-secret-1"
    assert settings.winrm is not None and settings.winrm.password == "env-secret-2"
    assert settings.graph is not None and settings.graph.client_secret == "env-secret-3"
    shown = repr(settings)
    assert not any(s in shown for s in ("file-secret-1", "env-secret-2", "env-secret-3"))


def test_a_missing_secret_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGE_TEST_WINRM", raising=False)
    with pytest.raises(
        ConfigError, match=r"winrm.password_env: the environment variable TRIAGE_TEST_WINRM is not set"
    ):
        from_config(parse_config({"winrm": GOOD["winrm"]}))


def test_the_config_file_must_be_yaml(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("exchange: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_the_documented_example_configuration_is_valid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "live-backend.example.yaml"
    config = load_config(example)
    assert config.exchange is not None and config.exchange.auth == "kerberos"
    secret = tmp_path / "winrm.secret"
    secret.write_text("s3", encoding="utf-8")
    monkeypatch.setenv("TRIAGE_EXCHANGE_PASSWORD", "s1")
    monkeypatch.setenv("TRIAGE_GRAPH_SECRET", "s2")
    assert config.winrm is not None
    settings = from_config(
        config.model_copy(update={"winrm": config.winrm.model_copy(update={"password_file": str(secret)})})
    )
    assert settings.ews_online is not None and settings.exo_host is not None
