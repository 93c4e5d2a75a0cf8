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


def test_the_stale_subscription_is_removed_over_ews_and_free_busy_then_works(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _fix(
        capsys, "--scenario", "seed-001-sharing-subscription", "--remediation", "remove-stale-sharing-subscription",
        "--yes",
    )  # fmt: skip
    assert report["outcome"] == "fixed" and code == 0, report
    assert (
        report["plan"]["remediation"] == "remove-stale-sharing-subscription"
        and report["plan"]["rollback"] == []
    )
    [step] = report["applied"]
    assert (
        step["status"] == "done"
        and "EWS DeleteItem (SoftDelete)" in step["step"]
        and "Deleted=True" in step["detail"]
    )
    assert (
        report["preview"][0]["status"] == "previewed"
        and "nothing was deleted" in report["preview"][0]["detail"]
    )
    verified = {c["id"]: (c["status"], c["summary"]) for c in report["verification"]["checks"]}
    assert (
        verified["sharing-subscriptions"][0] == "ok"
        and "holds no hidden sharing" in verified["sharing-subscriptions"][1]
    )
    assert (
        verified["freebusy-probe"][0] == "ok"
        and "returns erin@contoso.com's free/busy" in verified["freebusy-probe"][1]
    )
    kinds = [r["kind"] for r in _audit(state_dir)]
    assert kinds == ["fix-proposed", "fix-approved", "fix-step.start", "fix-step.done", "fix-verified"]


def test_the_ews_delete_runs_only_from_the_write_account_and_only_as_listed() -> None:
    import asyncio

    from checks.backends.ews import EwsSettings
    from checks.backends.ews_write import EwsWriter
    from checks.errors import Refused

    lab = start_lab("seed-001-sharing-subscription")
    try:
        ep = lab.endpoints
        common = {"endpoint": ep["ews"], "auth": "basic", "ca_file": ep["ca_cert"], "timeout": 5}
        read_only = EwsSettings(
            **common, username=ep["credentials"]["username"], password=ep["credentials"]["password"]
        )
        writer = EwsSettings(**common, username=ep["writer"]["username"], password=ep["writer"]["password"])
        delete = {
            "Mailbox": "carol@contoso.com", "Folder": "Sharing", "ItemClass": "IPM.ExternalSharingSubscription",
            "Sharer": "erin@contoso.com", "DeleteType": "SoftDelete",
        }  # fmt: skip
        allowed = {"ews:DeleteItem": set(delete)}

        async def attempt(settings: EwsSettings, params: dict[str, Any], key: str = "ews:DeleteItem") -> Any:
            with ThreadPoolExecutor(1) as pool:
                port = EwsWriter(settings, pool, allowed)
                try:
                    return await port.run(key, params)
                finally:
                    await port.close()

        def held() -> list[str]:
            carol = lab.ctx.scenario.mailbox("carol@contoso.com")
            assert carol is not None
            return [s.sharer_identity for s in carol.sharing_subscriptions]

        # Another folder, another class, a hard delete, another operation: refused before a request is sent
        # (the lab is never asked, not even with the write account).
        for params, key in [
            (delete | {"Folder": "Inbox"}, "ews:DeleteItem"),
            (delete | {"ItemClass": "IPM.Note"}, "ews:DeleteItem"),
            (delete | {"DeleteType": "HardDelete"}, "ews:DeleteItem"),
            (delete, "ews:DeleteFolder"),
        ]:
            with pytest.raises(Refused):
                asyncio.run(attempt(writer, params, key))
        assert held() == ["erin@contoso.com"]
        # The read-only account may read the item but not delete it: the lab denies its DeleteItem.
        with pytest.raises(CommandFailed, match="denied access"):
            asyncio.run(attempt(read_only, delete))
        assert held() == ["erin@contoso.com"]
        # A subscription from someone else: nothing of theirs to delete.
        with pytest.raises(CommandFailed, match="nothing to delete"):
            asyncio.run(attempt(writer, delete | {"Sharer": "frank@contoso.com"}))
        # -WhatIf finds it and deletes nothing; then the write account deletes it.
        assert asyncio.run(attempt(writer, delete | {"WhatIf": True}))[0]["Deleted"] is False
        assert held() == ["erin@contoso.com"]
        assert asyncio.run(attempt(writer, delete))[0]["Deleted"] is True
        assert held() == []
    finally:
        lab.close()


def test_a_cloud_side_fix_runs_in_exchange_online_through_the_management_host(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _fix(capsys, "--scenario", "exo-orgrel-freebusy-disabled", "--yes")
    assert report["outcome"] == "fixed" and code == 0, report
    assert report["plan"]["remediation"] == "enable-orgrel-freebusy" and report["plan"]["side"] == "online"
    [step] = report["applied"]
    assert step["status"] == "done" and "O365 to On-premises" in step["step"]
    assert report["preview"][0]["status"] == "previewed"  # -WhatIf, in Exchange Online
    verified = {c["id"]: c["status"] for c in report["verification"]["checks"]}
    assert verified == {"organization-relationships": "ok", "freebusy-probe": "ok"}


def test_exchange_online_writes_run_only_as_the_write_account_and_only_as_listed() -> None:
    import asyncio

    from checks.backends.exo_write import ExoWriter, ExoWriteSettings
    from checks.backends.winrm_host import WinrmSettings
    from checks.errors import Refused
    from triage.writers import lab_writers

    lab = start_lab("exo-orgrel-freebusy-disabled")
    try:
        ep = lab.endpoints
        writer = lab_writers(dict(ep))["online"]
        assert isinstance(writer, ExoWriteSettings)
        read_only = ExoWriteSettings(
            writer.exo,
            WinrmSettings(
                endpoints=dict(writer.winrm.endpoints), transport="ntlm", username=ep["credentials"]["username"],
                password=ep["credentials"]["password"], ca_file=ep["ca_cert"], operation_timeout=2, read_timeout=3,
            ),
        )  # fmt: skip
        name = "O365 to On-premises - 50829e3a-6afe-4684-9602-6beb0382a45a"
        enable = {
            "Identity": name,
            "Enabled": True,
            "FreeBusyAccessEnabled": True,
            "FreeBusyAccessLevel": "LimitedDetails",
        }
        allowed = {
            "Set-OrganizationRelationship": set(enable),
            "Set-IntraOrganizationConnector": {"Identity", "TargetAddressDomains"},
            "Set-ExchangeServer": {"Identity", "InternetWebProxy"},
        }

        async def attempt(settings: ExoWriteSettings, cmdlet: str, params: dict[str, Any]) -> Any:
            with ThreadPoolExecutor(1) as pool:
                port = ExoWriter(settings, pool, allowed)
                try:
                    return await port.run(cmdlet, params)
                finally:
                    await port.close()

        def cloud() -> Any:
            return next(
                r for r in lab.ctx.scenario.exchange_online.organization_relationships if r.name == name
            )

        # Off the remediation's list, or a value a JSON splat cannot carry: refused in the process.
        with pytest.raises(Refused, match="not a write this remediation"):
            asyncio.run(attempt(writer, "Remove-OrganizationRelationship", {"Identity": name}))
        hashtable = {"Identity": "HybridIOC", "TargetAddressDomains": {"Add": "contoso.com"}}
        with pytest.raises(Refused, match="cannot be sent to Exchange Online"):
            asyncio.run(attempt(writer, "Set-IntraOrganizationConnector", hashtable))
        # On the remediation's list but not on the host template's own write list: the host refuses it.
        with pytest.raises(CommandFailed, match="not on the write list: Set-ExchangeServer"):
            asyncio.run(attempt(writer, "Set-ExchangeServer", {"Identity": "EX01", "InternetWebProxy": None}))
        # The read-only account's shell knows no write template.
        with pytest.raises(CommandFailed, match="Unknown exchange-triage template"):
            asyncio.run(attempt(read_only, "Set-OrganizationRelationship", enable))
        assert cloud().free_busy_access_enabled is False
        # -WhatIf changes nothing; the write account with the write app changes Exchange Online's relationship.
        asyncio.run(attempt(writer, "Set-OrganizationRelationship", enable | {"WhatIf": True}))
        assert cloud().free_busy_access_enabled is False
        asyncio.run(attempt(writer, "Set-OrganizationRelationship", enable))
        assert cloud().free_busy_access_enabled is True and cloud().free_busy_access_level == "LimitedDetails"
        on_premises = lab.ctx.scenario.organization.organization_relationships
        assert all(r.name != name for r in on_premises)  # nothing on-premises was touched
    finally:
        lab.close()
