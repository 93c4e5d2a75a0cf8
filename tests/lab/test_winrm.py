"""pywinrm against the lab's WinRM hosts: one reused UTF-8 shell, every template, errors and faults."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from lab.faults import FaultSpec
from lab.runtime import RunningLab
from lab.wsman.server import SERVER_KEY
from tests.lab.conftest import winrm_protocol

FEDERATION = "3226500C943B6235AEB493A307F084710FD1D5D0"
AUTH = "CB875168889265EF7B0BD124DB43D388AB2EF6B1"
TLS12_SERVER = (
    "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server"
)


def template(template_id: str, args: dict[str, Any]) -> str:
    """A script shaped like the product's: header line, base64 JSON arguments, fixed body."""
    literal = base64.b64encode(json.dumps(args).encode("utf-8")).decode("ascii")
    return (
        f"# exchange-triage: {template_id}\n"
        f"$TriageArgs = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{literal}')) | ConvertFrom-Json\n"
        "Get-Something @TriageArgs | ConvertTo-Json -Depth 5 -Compress\n"
    )


def run(protocol: Protocol, shell_id: str, script: str) -> tuple[bytes, bytes, int]:
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    command_id = protocol.run_command(
        shell_id, "powershell", ["-NoProfile", "-NonInteractive", "-EncodedCommand", encoded]
    )
    try:
        out: bytes
        err: bytes
        out, err, code = protocol.get_command_output(shell_id, command_id)
    finally:
        protocol.cleanup_command(shell_id, command_id)
    return out, err, code


def answer(protocol: Protocol, shell_id: str, template_id: str, **args: Any) -> Any:
    out, err, code = run(protocol, shell_id, template(template_id, args))
    assert (code, err) == (0, b"")
    return json.loads(out.decode("utf-8"))


def test_one_utf8_shell_answers_every_template(fedcert_lab: RunningLab) -> None:
    protocol = winrm_protocol(fedcert_lab, "EX03")
    shell_id = protocol.open_shell(codepage=65001)
    try:
        hostname = answer(protocol, shell_id, "hostname")
        certs = answer(protocol, shell_id, "cert-store", thumbprints=[FEDERATION, AUTH, "ab" * 20])
        registry = answer(
            protocol, shell_id, "registry-values", path=TLS12_SERVER, names=["Enabled", "Missing"]
        )
        sites = answer(protocol, shell_id, "iis-ssl", site="Default Web Site", paths=["owa", "EWS"])
    finally:
        protocol.close_shell(shell_id)
    assert hostname == {"fqdn": "ex03.contoso.com"}
    assert [c["thumbprint"] for c in certs] == [AUTH]  # the seed's federation certificate is missing here
    assert certs[0]["subject"] == "CN=Microsoft Exchange Server Auth Certificate"
    assert certs[0]["has_private_key"] is True
    assert registry == {"Enabled": 1, "Missing": None}
    assert [(s["path"], s["require_ssl"], s["ssl_flags"]) for s in sites] == [
        ("owa", True, "Ssl"),
        ("EWS", True, "Ssl"),
    ]


def test_several_commands_share_one_shell_on_the_server(lab: RunningLab) -> None:
    shells = lab.app("winrm")[SERVER_KEY].shells
    protocol = winrm_protocol(lab, "EX02")
    shell_id = protocol.open_shell(codepage=65001)
    try:
        fqdns = [answer(protocol, shell_id, "hostname")["fqdn"] for _ in range(3)]
        assert list(shells) == [shell_id]
        assert shells[shell_id].codepage == 65001
        assert shells[shell_id].commands == {}  # each command cleaned up, the shell kept
    finally:
        protocol.close_shell(shell_id)
    assert fqdns == ["ex02.contoso.com"] * 3
    assert shells == {}


def test_event_messages_keep_non_ascii_names_over_utf8_only(fedcert_lab: RunningLab) -> None:
    args = {
        "log": "Application",
        "providers": ["MSExchange Availability"],
        "ids": [4002],
        "since": "2000-01-01T00:00:00Z",
        "max": 1,
    }
    protocol = winrm_protocol(fedcert_lab, "EX01")
    utf8 = protocol.open_shell(codepage=65001)
    legacy = protocol.open_shell(codepage=437)
    try:
        (event,) = answer(protocol, utf8, "win-events", **args)
        out, _, _ = run(protocol, legacy, template("win-events", args))
    finally:
        protocol.close_shell(utf8)
        protocol.close_shell(legacy)
    assert "<Bjørn Ødegård>SMTP:bjorn@contoso.com" in event["message"]
    assert (event["id"], event["provider"], event["level"]) == (4002, "MSExchange Availability", "Error")
    assert "Bj?rn ?degård" in out.decode("cp437")  # the default console code page has no ø or Ø


def test_win_events_filter_by_time_and_count(fedcert_lab: RunningLab) -> None:
    protocol = winrm_protocol(fedcert_lab, "EX01")
    shell_id = protocol.open_shell(codepage=65001)
    recent_since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    base = {"log": "Application", "providers": [], "ids": []}
    try:
        everything = answer(protocol, shell_id, "win-events", since="2000-01-01T00:00:00Z", max=10, **base)
        last_hour = answer(protocol, shell_id, "win-events", since=recent_since, max=10, **base)
        newest = answer(protocol, shell_id, "win-events", since="2000-01-01T00:00:00Z", max=1, **base)
        other_id = answer(
            protocol,
            shell_id,
            "win-events",
            since="2000-01-01T00:00:00Z",
            max=10,
            log="Application",
            providers=[],
            ids=[42],
        )
    finally:
        protocol.close_shell(shell_id)
    assert len(everything) == 2 and everything[0]["time_created"] > everything[1]["time_created"]
    assert len(last_hour) == 1 and newest == [everything[0]]
    assert other_id == []


def test_iis_ssl_reports_a_vdir_that_refuses_ssl(owa403_lab: RunningLab) -> None:
    protocol = winrm_protocol(owa403_lab, "EX03")
    shell_id = protocol.open_shell(codepage=65001)
    try:
        (owa,) = answer(protocol, shell_id, "iis-ssl", site="Default Web Site", paths=["owa"])
    finally:
        protocol.close_shell(shell_id)
    assert owa == {"path": "owa", "ssl_flags": "None", "require_ssl": False}


def test_unknown_template_writes_a_powershell_error(lab: RunningLab) -> None:
    protocol = winrm_protocol(lab)
    shell_id = protocol.open_shell(codepage=65001)
    try:
        out, err, code = run(protocol, shell_id, template("format-disk", {}))
    finally:
        protocol.close_shell(shell_id)
    assert (out, code) == (b"", 1)
    assert err.startswith(b"#< CLIXML")
    assert b"Unknown exchange-triage template 'format-disk'" in err


def test_closed_shell_is_a_wsman_fault(lab: RunningLab) -> None:
    protocol = winrm_protocol(lab)
    shell_id = protocol.open_shell(codepage=65001)
    protocol.close_shell(shell_id)
    with pytest.raises(WSManFaultError, match="shell was not found"):
        run(protocol, shell_id, template("hostname", {}))


def test_wrong_password_is_rejected(lab: RunningLab) -> None:
    with pytest.raises(InvalidCredentialsError):
        winrm_protocol(lab, password="not-the-password").open_shell(codepage=65001)


def test_unauthorized_fault_on_one_template(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="winrm", operation="cert-store", kind="unauthorized", count=1))
    protocol = winrm_protocol(lab)
    shell_id = protocol.open_shell(codepage=65001)
    try:
        assert answer(protocol, shell_id, "hostname") == {"fqdn": "ex01.contoso.com"}
        # NTLM authenticates again after the 401 and the listener refuses that handshake.
        with pytest.raises((InvalidCredentialsError, PermissionError)):
            run(protocol, shell_id, template("cert-store", {"thumbprints": [AUTH]}))
    finally:
        protocol.close_shell(shell_id)


def test_throttle_fault_is_http_503(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="winrm", operation="Shell", kind="throttle", count=1))
    with pytest.raises(WinRMTransportError) as raised:
        winrm_protocol(lab).open_shell(codepage=65001)
    assert raised.value.code == 503


def test_reset_fault_drops_the_connection(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="winrm", operation="hostname", kind="reset", count=1))
    protocol = winrm_protocol(lab)
    shell_id = protocol.open_shell(codepage=65001)
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            run(protocol, shell_id, template("hostname", {}))
    finally:
        protocol.close_shell(shell_id)


def test_timeout_fault_trips_the_client_read_timeout(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="winrm", operation="hostname", kind="timeout", count=1))
    protocol = winrm_protocol(lab, operation_timeout_sec=1, read_timeout_sec=2)
    shell_id = protocol.open_shell(codepage=65001)
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            run(protocol, shell_id, template("hostname", {}))
    finally:
        protocol.close_shell(shell_id)


def test_latency_beyond_operation_timeout_is_long_polled(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="winrm", operation="hostname", kind="latency", latency_ms=1200))
    protocol = winrm_protocol(lab, operation_timeout_sec=1, read_timeout_sec=5)
    shell_id = protocol.open_shell(codepage=65001)
    started = time.monotonic()
    try:
        assert answer(protocol, shell_id, "hostname") == {"fqdn": "ex01.contoso.com"}
    finally:
        protocol.close_shell(shell_id)
    assert time.monotonic() - started >= 1.2


def test_a_host_answers_by_fqdn_too(lab: RunningLab) -> None:
    creds = lab.endpoints["credentials"]
    protocol = Protocol(
        lab.endpoints["winrm"] + "/ex04.contoso.com",
        transport="ntlm",
        username=creds["username"],
        password=creds["password"],
        ca_trust_path=lab.endpoints["ca_cert"],
    )
    shell_id = protocol.open_shell(codepage=65001)
    try:
        assert answer(protocol, shell_id, "hostname") == {"fqdn": "ex04.contoso.com"}
    finally:
        protocol.close_shell(shell_id)
