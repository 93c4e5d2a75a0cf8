"""The real clients (pypsrp, pywinrm, exchangelib, msal + aiohttp, ssl) against the lab, and its fault knobs.

A fault on one operation makes the check that needs it an `error` with a sentence a helpdesk agent can act
on, while the checks on other backends complete.
"""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks.api import CheckResult
from checks.backends.winrm_host import WinrmHost
from knowledge.loader import KnowledgeBase
from lab.faults import FaultKind, FaultSpec, Service
from lab.runtime import RunningLab, start_lab
from lab.wsman.server import SERVER_KEY
from tests.checks.conftest import run_on_lab
from triage.backends import from_lab_endpoints, run_checks_once

pytestmark = pytest.mark.lab

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
ONPREM_PAIR = {"requester": "carol@contoso.com", "target": "bjorn@contoso.com"}
BYSTANDERS = ("topology", "host-settings", "calendar-permissions", "freebusy-probe")

# service, operation, kind, the check that needs it, the pair, words its summary must hold
FAULTS: list[tuple[Service, str | None, FaultKind, str, dict[str, str], str]] = [
    ("psrp", "Get-SharingPolicy", "unauthorized", "sharing-policy", PAIR, "refused the service account"),
    ("psrp", "Get-SharingPolicy", "throttle", "sharing-policy", PAIR, "is busy"),
    ("psrp", "Get-SharingPolicy", "reset", "sharing-policy", PAIR, "Could not reach Exchange PowerShell"),
    ("psrp", "Get-SharingPolicy", "timeout", "sharing-policy", PAIR, "did not answer in time"),
    ("winrm", "win-events", "unauthorized", "event-logs", PAIR, "refused the service account"),
    ("winrm", "win-events", "reset", "event-logs", PAIR, "Could not reach Windows remote management"),
    ("winrm", "win-events", "throttle", "event-logs", PAIR, "is busy"),
    ("ews", "GetFolder", "unauthorized", "calendar-permissions", PAIR, "refused the service account"),
    ("ews", "GetFolder", "throttle", "calendar-permissions", PAIR, "is busy"),
    ("ews", "GetUserAvailability", "timeout", "freebusy-probe", ONPREM_PAIR, "did not answer in time"),
    ("graph", "getSchedule", "unauthorized", "freebusy-probe", PAIR, "refused the app's token"),
    ("graph", "getSchedule", "throttle", "freebusy-probe", PAIR, "is throttling the app"),
    ("graph", "getSchedule", "reset", "freebusy-probe", PAIR, "Could not reach Microsoft Graph"),
    ("token", None, "unauthorized", "freebusy-probe", PAIR, "Entra refused the app's client credentials"),
]


@pytest.mark.parametrize(
    ("service", "operation", "kind", "check_id", "pair", "words"),
    FAULTS,
    ids=[f"{f[0]}-{f[2]}" for f in FAULTS],
)
async def test_a_fault_is_the_affected_checks_error_and_the_others_complete(
    lab: RunningLab,
    kb: KnowledgeBase,
    service: Service,
    operation: str | None,
    kind: FaultKind,
    check_id: str,
    pair: dict[str, str],
    words: str,
) -> None:
    lab.faults.add(FaultSpec(service=service, operation=operation, kind=kind, back_off_ms=1000))
    results = await run_on_lab(lab, kb, pair, check_id, *[b for b in BYSTANDERS if b != check_id])
    affected = results[check_id]
    assert affected.status == "error", affected.summary
    assert words in affected.summary, affected.summary
    assert affected.remedy, "an error carries the command the admin can run instead"
    others = {i: r.status for i, r in results.items() if i != check_id}
    assert "error" not in others.values(), {i: results[i].summary for i in others}


async def test_latency_slows_the_checks_down_but_they_pass(lab: RunningLab, kb: KnowledgeBase) -> None:
    lab.faults.add(FaultSpec(service="psrp", kind="latency", latency_ms=150))
    results = await run_on_lab(lab, kb, PAIR, "topology", "federation-certificates")
    assert {r.status for r in results.values()} == {"ok"}
    assert results["federation-certificates"].duration_ms >= 300  # servers, then their certificates


async def test_one_utf8_shell_per_server_is_reused_for_every_template(
    lab: RunningLab, kb: KnowledgeBase
) -> None:
    shells = lab.app("winrm")[SERVER_KEY].shells
    seen: list[tuple[str, int]] = []
    original = lab.app("winrm")[SERVER_KEY]._create

    async def recording(request: Any, call: Any, server: Any) -> Any:
        answer = await original(request, call, server)
        seen.append((server.name, int(call.options.get("WINRS_CODEPAGE", "437"))))
        return answer

    lab.app("winrm")[SERVER_KEY]._create = recording  # type: ignore[method-assign]
    try:
        results = await run_on_lab(lab, kb, PAIR, "host-settings", "event-logs", "virtual-directories")
    finally:
        del lab.app("winrm")[SERVER_KEY]._create
    assert {r.status for r in results.values()} <= {"ok", "warn"}
    # Four servers, about a dozen templates each: one shell apiece, in UTF-8, all closed afterwards.
    assert sorted(seen) == [("EX01", 65001), ("EX02", 65001), ("EX03", 65001), ("EX04", 65001)]
    assert shells == {}


async def test_non_ascii_text_survives_the_host_port() -> None:
    lab = start_lab("seed-000-federation-cert")
    try:
        settings = from_lab_endpoints(dict(lab.endpoints), lab.ctx.scenario.exchange_online.tenant)
        assert settings.winrm is not None
        with ThreadPoolExecutor(4) as executor:
            host = WinrmHost(settings.winrm, executor)
            since = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)).isoformat()
            args = {
                "log": "Application",
                "providers": ["MSExchange Availability"],
                "ids": [4002],
                "since": since,
                "max": 5,
            }
            events = await host.run("EX01", "win-events", args)
            await host.close()
    finally:
        lab.close()
    assert len(events) == 2
    assert "Mailbox list = <Bjørn Ødegård>SMTP:bjorn@contoso.com" in events[0]["message"]


async def test_the_hidden_subscription_and_the_real_free_busy_error(kb: KnowledgeBase) -> None:
    results, facts = await run_checks_once("lab", facts={}, kb=kb, scenario="seed-001-sharing-subscription")
    by_id: dict[str, CheckResult] = {r.id: r for r in results}
    assert by_id["sharing-subscriptions"].facts["sharing.subscription_sharer"] == facts["target"]
    assert by_id["freebusy-probe"].facts["freebusy.error_code"] == "ErrorProxyRequestProcessingFailed"
    assert by_id["freebusy-probe"].facts["freebusy.protocol"] == "ews"
    assert "forcibly closed" in str(by_id["freebusy-probe"].facts["freebusy.error_message"])


def _live_config(lab: RunningLab, tmp_path: Path) -> Path:
    """A live configuration file whose endpoints happen to be the lab's loopback ones."""
    ep = lab.endpoints
    creds = ep["credentials"]
    psrp = ep["psrp"].split("/")
    host, port = psrp[2].split(":")
    ca = ep["ca_cert"]
    login = {"username": creds["username"], "password_env": "TRIAGE_LAB_PASSWORD", "ca_file": ca}
    config = {
        "exchange": {"server": host, "port": int(port), "path": "PowerShell", "auth": "ntlm", **login},
        "winrm": {"endpoints": ep["winrm_servers"], "transport": "ntlm", **login, "operation_timeout": 2, "read_timeout": 3},
        "ews": {"endpoint": ep["ews"], "auth": "basic", **login},
        "graph": {
            "tenant_id": creds["tenant_id"], "client_id": creds["client_id"], "client_secret_env": "TRIAGE_LAB_SECRET",
            "authority": ep["token"], "graph_url": ep["graph"], "ca_file": ca, "exchange_online_ews": ep["ews"],
        },
        "exchange_online": {
            "management_host": "MGMT01", "organization": lab.ctx.scenario.exchange_online.tenant,
            "app_id": creds["client_id"], "certificate_thumbprint": "A" * 40,
            "winrm": {"endpoints": {"MGMT01": ep["winrm"]}, "transport": "ntlm", **login},
        },
        "probe": {"ca_file": ca, "hosts": ep["vdir_hosts"], "timeout": 3},
        "limits": {"check_seconds": 10, "triage_seconds": 20},
    }  # fmt: skip
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_the_live_backend_from_a_config_file(
    lab: RunningLab, kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_LAB_PASSWORD", lab.endpoints["credentials"]["password"])
    monkeypatch.setenv("TRIAGE_LAB_SECRET", lab.endpoints["credentials"]["client_secret"])
    results, _ = await run_checks_once("live", facts=PAIR, kb=kb, config=_live_config(lab, tmp_path))
    statuses = {r.id: r.status for r in results}
    assert set(statuses.values()) == {"ok"}, {r.id: r.summary for r in results if r.status != "ok"}
    exo = next(r for r in results if r.id == "exchange-online-settings")
    assert exo.facts["exo.ews_enabled"] is True


async def test_a_session_that_cannot_open_fails_every_exchange_check_at_once(
    lab: RunningLab, kb: KnowledgeBase
) -> None:
    lab.faults.add(FaultSpec(service="psrp", operation="RunspacePool", kind="unauthorized"))
    results = await run_on_lab(lab, kb, PAIR)
    # At once: each check says the account was refused (none waited into a time limit), from one try.
    refused = {
        i for i, r in results.items() if r.status == "error" and "refused the service account" in r.summary
    }
    assert {"topology", "federation-trust", "oauth-configuration", "virtual-directories"} <= refused
    assert all(r.remedy for i, r in results.items() if i in refused)
    # Each connection tried once at the start of the triage; nothing retried per check or per batch.
    opened = [t for t in lab.faults.taken if t[:2] == ("psrp", "RunspacePool")]
    assert 1 <= len(opened) <= 4
