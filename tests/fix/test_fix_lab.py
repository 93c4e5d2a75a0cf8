"""`triage fix` end to end against the lab: the real clients, the write account, the lab taking the change."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from checks.backends.psrp import PsrpExchange, PsrpSettings
from checks.backends.psrp_write import PsrpWriter
from checks.errors import CommandFailed
from lab.runtime import start_lab
from triage.cli import main

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = [sys.executable, "-c", "import sys; from triage.cli import main; sys.exit(main())"]

# scenario -> (remediation applied, the checks that must pass after it)
FIXABLE = {
    "seed-000-federation-cert": ("copy-federation-certificate", {"federation-certificates", "freebusy-probe"}),
    "seed-001-sharing-subscription": ("grant-explicit-calendar-permission", {"calendar-permissions", "freebusy-probe"}),
    "seed-002-owa-internalurl-http": ("set-owa-internalurl-https", {"virtual-directories", "https-probe"}),
    "seed-002-owa-vdir-403": ("require-ssl-on-owa-vdir", {"https-probe"}),
    "ecp-internalurl-not-https": ("set-ecp-internalurl-https", {"virtual-directories"}),
    "orgrel-freebusy-disabled": ("enable-orgrel-freebusy", {"organization-relationships", "freebusy-probe"}),
    "ioc-target-domain-missing": ("add-ioc-target-domain", {"intra-org-connectors", "freebusy-probe"}),
    "internet-web-proxy-missing": ("set-internet-web-proxy", {"host-settings", "freebusy-probe"}),
    "default-calendar-permission-none": ("set-default-calendar-permission", {"calendar-permissions", "freebusy-probe"}),
    "availability-address-space-mismatch": ("recreate-availability-address-space", {"availability-address-space", "freebusy-probe"}),
}  # fmt: skip


def _fix(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["fix", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bot's store, which `triage fix` writes its audit records to (as `triage audit` reads them)."""
    monkeypatch.setenv("TRIAGE_STATE_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def _audit(state: Path) -> list[dict[str, Any]]:
    """The audit log's records, oldest first."""
    import asyncio

    from bot.audit import AuditLog
    from bot.storage import SqliteStore

    async def read() -> list[dict[str, Any]]:
        store = await SqliteStore.open(state / "state.sqlite3")
        try:
            return [r.as_dict() for r in reversed(await AuditLog(store).read(limit=1000))]
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize("scenario", sorted(FIXABLE))
def test_fix_applies_the_remediation_and_the_checks_then_pass(
    scenario: str, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _fix(capsys, "--scenario", scenario, "--yes")
    remediation, checks = FIXABLE[scenario]
    assert report["plan"]["remediation"] == remediation
    assert report["outcome"] == "fixed" and code == 0, report
    assert all(step["status"] == "done" for step in report["applied"])
    verified = {c["id"]: c["status"] for c in report["verification"]["checks"]}
    assert verified == dict.fromkeys(checks, "ok")
    records = _audit(state_dir)
    kinds = [r["kind"] for r in records]
    assert kinds[:2] == ["fix-proposed", "fix-approved"] and kinds[-1] == "fix-verified"
    assert kinds.count("fix-step.done") == len(report["applied"])
    # One fix id on every record, the one the report names for `triage audit --fix`.
    assert {r["detail"]["fix"] for r in records} == {report["audit"].removeprefix("triage audit --fix ")}
    assert records[-1]["detail"]["fixed"] is True and records[0]["detail"]["remediation"] == remediation


def test_the_one_time_password_is_never_written_or_printed(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _fix(capsys, "--scenario", "seed-000-federation-cert", "--yes")
    assert code == 0
    text = json.dumps(_audit(state_dir)) + json.dumps(report)
    assert "<one-time password>" in text
    assert "Password=" not in text and "FileData=" not in text


def test_without_confirmation_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # not a terminal: no one to ask  # noqa: SIM115
    code, report = _fix(capsys, "--scenario", "orgrel-freebusy-disabled")
    assert code == 2 and report["outcome"] == "refused" and "not confirmed" in report["reason"]
    assert report["preview"][0]["status"] == "previewed"  # Exchange was asked with -WhatIf
    assert "applied" not in report
    assert [r["kind"] for r in _audit(tmp_path / "var")] == ["fix-proposed", "fix-declined"]
    # `triage audit --fix ID` (the id the report names) shows this fix's records, newest first.
    assert main(report["audit"].split()[1:]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" | ")[1] for line in lines] == ["fix-declined", "fix-proposed"]
    assert "(command line)" in lines[0] and "remediation=enable-orgrel-freebusy" in lines[1]
    assert main(["audit", "--fix", "0" * 24]) == 0
    assert capsys.readouterr().out.strip() == "(the audit log is empty)"


def test_a_write_that_fails_halfway_says_what_ran_what_did_not_and_how_to_undo_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "proxy-write-fails.yaml"
    scenario.write_text(
        "extends: internet-web-proxy-missing\nname: proxy-write-fails\ndescription: the second server's write fails\n"
        # two -WhatIf previews and the first write go through; the second write's connection is reset
        "faults:\n  - {service: psrp, operation: Set-ExchangeServer, kind: reset, after: 3, count: 1}\n"
    )
    code, report = _fix(capsys, "--scenario", str(scenario), "--yes")
    assert code == 1 and report["outcome"] == "not fixed"
    assert [s["status"] for s in report["applied"]] == ["done", "failed"]
    assert "EX01" in report["applied"][0]["step"] and "EX02" in report["applied"][1]["step"]
    assert report["applied"][1]["detail"]  # what failed, in words
    assert "verification" not in report
    assert any("InternetWebProxy $null" in line for line in report["rollback"])


def test_the_read_only_account_cannot_write_the_lab_answers_as_a_restricted_endpoint() -> None:
    lab = start_lab("seed-002-owa-internalurl-http")
    try:
        ep = lab.endpoints
        url = urlsplit(ep["psrp"])
        common = {
            "server": url.hostname or "",
            "port": url.port,
            "path": "PowerShell",
            "auth": "ntlm",
            "ca_file": ep["ca_cert"],
        }
        read_only = PsrpSettings(
            **common, username=ep["credentials"]["username"], password=ep["credentials"]["password"]
        )
        writer = PsrpSettings(**common, username=ep["writer"]["username"], password=ep["writer"]["password"])
        allowed = {"Set-OwaVirtualDirectory": {"Identity", "InternalUrl"}}
        params = {"Identity": "EX03\\owa (Default Web Site)", "InternalUrl": "https://ex03.contoso.com/owa"}

        async def attempt(settings: PsrpSettings) -> Any:
            with ThreadPoolExecutor(1) as pool:
                port = PsrpWriter(settings, pool, allowed)
                try:
                    return await port.run("Set-OwaVirtualDirectory", params)
                finally:
                    await port.close()

        import asyncio

        with pytest.raises(CommandFailed, match="is not recognized"):
            asyncio.run(attempt(read_only))
        ex03 = lab.ctx.scenario.server("EX03")
        assert ex03 is not None and ex03.virtual_directories.owa.internal_url == "http://ex03.contoso.com/owa"
        assert asyncio.run(attempt(writer)) == []

        async def read_back() -> Any:
            with ThreadPoolExecutor(1) as pool:
                port = PsrpExchange(read_only, pool)
                try:
                    return await port.run(
                        "Get-OwaVirtualDirectory", {"Server": "EX03", "ADPropertiesOnly": True}
                    )
                finally:
                    await port.close()

        [row] = asyncio.run(read_back())
        assert str(row["InternalUrl"]).startswith("https://ex03.contoso.com/owa")
    finally:
        lab.close()


def _live_config(endpoints: dict[str, Any], enabled: list[str]) -> dict[str, Any]:
    psrp = urlsplit(endpoints["psrp"])
    creds, ca = endpoints["credentials"], endpoints["ca_cert"]
    return {
        "exchange": {"server": psrp.hostname, "port": psrp.port, "path": "PowerShell", "ssl": True, "auth": "ntlm",
                     "username": creds["username"], "password_env": "FIX_TEST_READ", "ca_file": ca},
        "winrm": {"endpoints": endpoints["winrm_servers"], "transport": "ntlm", "username": creds["username"],
                  "password_env": "FIX_TEST_READ", "ca_file": ca, "operation_timeout": 2, "read_timeout": 3},
        "ews": {"endpoint": endpoints["ews"], "auth": "basic", "username": creds["username"], "password_env": "FIX_TEST_READ", "ca_file": ca},
        "graph": {"tenant_id": creds["tenant_id"], "client_id": creds["client_id"], "client_secret_env": "FIX_TEST_SECRET",
                  "authority": endpoints["token"], "graph_url": endpoints["graph"], "ca_file": ca},
        "probe": {"ca_file": ca, "hosts": endpoints["vdir_hosts"], "timeout": 3},
        "write": {"username": endpoints["writer"]["username"], "password_env": "FIX_TEST_WRITE", "enabled_remediations": enabled},
    }  # fmt: skip


@pytest.mark.cli
def test_fix_against_a_lab_started_with_lab_up_through_a_live_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    process = subprocess.Popen(
        [*TRIAGE, "lab", "up", "--scenario", "default-calendar-permission-none"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        monkeypatch.setenv("FIX_TEST_READ", endpoints["credentials"]["password"])
        monkeypatch.setenv("FIX_TEST_SECRET", endpoints["credentials"]["client_secret"])
        monkeypatch.setenv("FIX_TEST_WRITE", endpoints["writer"]["password"])
        pair = [
            "--requester",
            "alice@contoso.com",
            "--target",
            "bjorn@contoso.com",
        ]
        config = tmp_path / "live.yaml"

        config.write_text(yaml.safe_dump(_live_config(endpoints, enabled=[])))
        code, report = _fix(capsys, "--backend", "live", "--config", str(config), *pair, "--yes")
        assert code == 2 and "not enabled" in report["reason"]

        config.write_text(
            yaml.safe_dump(_live_config(endpoints, enabled=["set-default-calendar-permission"]))
        )
        code, report = _fix(capsys, "--backend", "live", "--config", str(config), *pair, "--yes")
        assert code == 0 and report["outcome"] == "fixed", report

        # Any client reading the lab afterwards sees the change: a fresh diagnosis finds nothing to fix.
        assert main(["diagnose", "--backend", "live", "--config", str(config), "--requester", "alice@contoso.com",
                     "--target", "bjorn@contoso.com", "--json"]) == 0  # fmt: skip
        after = json.loads(capsys.readouterr().out)
        assert "default-calendar-permission-none" not in [c["id"] for c in after["causes"]]
        assert {c["id"]: c["status"] for c in after["checks"]}["freebusy-probe"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_the_write_host_template_runs_only_in_the_write_accounts_shell() -> None:
    import asyncio

    from checks.backends.winrm_host import WinrmSettings
    from checks.backends.winrm_write import WinrmWriter

    lab = start_lab("seed-002-owa-vdir-403")
    try:
        ep = lab.endpoints
        common = {
            "endpoints": dict(ep["winrm_servers"]),
            "transport": "ntlm",
            "ca_file": ep["ca_cert"],
            "operation_timeout": 2,
            "read_timeout": 3,
        }
        read_only = WinrmSettings(
            **common, username=ep["credentials"]["username"], password=ep["credentials"]["password"]
        )
        writer = WinrmSettings(**common, username=ep["writer"]["username"], password=ep["writer"]["password"])
        allowed = {"template:iis-require-ssl": {"Server", "Site", "Path"}}
        params = {"Server": "EX03", "Site": "Default Web Site", "Path": "owa"}

        async def attempt(settings: WinrmSettings) -> Any:
            with ThreadPoolExecutor(1) as pool:
                port = WinrmWriter(settings, pool, allowed)
                try:
                    return await port.run("template:iis-require-ssl", params)
                finally:
                    await port.close()

        with pytest.raises(CommandFailed, match="Unknown exchange-triage template"):
            asyncio.run(attempt(read_only))
        ex03 = lab.ctx.scenario.server("EX03")
        assert ex03 is not None and ex03.virtual_directories.owa.require_ssl is False
        assert asyncio.run(attempt(writer)) == [{"path": "owa", "ssl_flags": "Ssl", "require_ssl": True}]
        ex03 = lab.ctx.scenario.server("EX03")
        assert ex03 is not None and ex03.virtual_directories.owa.answer_status == 200
    finally:
        lab.close()
