"""pypsrp and pywinrm in their default settings against the lab, as against Windows: Negotiate/Kerberos/NTLM,
message encryption over HTTP, Basic refused unless a scenario turns it on (and then over HTTPS only)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import winrm
from pypsrp.exceptions import AuthenticationError, WinRMTransportError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from checks.backends.kerberos import KerberosLogin
from checks.host_templates import build_script
from lab.auth.kdc import RunningKdc
from lab.auth.windows import WindowsAuth
from lab.psrp.server import SERVER_KEY as PSRP_KEY
from lab.runtime import RunningLab
from lab.scenario.load import Scenario
from lab.wsman.server import SERVER_KEY as WINRM_KEY
from tests.kerberos.conftest import lab_with


def psrp_auth(lab: RunningLab, name: str = "psrp_http") -> WindowsAuth:
    return lab.app(name)[PSRP_KEY].auth


def winrm_auth(lab: RunningLab, name: str = "winrm_http") -> WindowsAuth:
    return lab.app(name)[WINRM_KEY].auth


def exchange_servers(lab: RunningLab, *, auth: str, username: str, **options: Any) -> list[str]:
    """Get-ExchangeServer over pypsrp to the lab's plain-HTTP /PowerShell, otherwise in default settings."""
    url = urlsplit(lab.endpoints["psrp_http"])
    wsman = WSMan(
        url.hostname or "",
        port=url.port,
        path="PowerShell",
        ssl=False,
        auth=auth,
        username=username,
        password=lab.endpoints["credentials"]["password"],
        **options,
    )
    with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ExchangeServer")
        return [str(server.adapted_properties.get("Name", server)) for server in ps.invoke()]


def hostname(lab: RunningLab, transport: str, username: str, url: str | None = None) -> str:
    """The `hostname` template on EX01 through pywinrm's Session, in its default settings."""
    session = winrm.Session(
        url or lab.endpoints["winrm_http_servers"]["EX01"],
        auth=(username, lab.endpoints["credentials"]["password"]),
        transport=transport,
        server_cert_validation="ignore",
    )
    result = session.run_ps(build_script("hostname", {}))
    return result.std_out.decode() + result.std_err.decode()


def test_pypsrp_negotiate_with_a_upn_is_kerberos_encrypted_over_http(klab: RunningLab) -> None:
    auth = psrp_auth(klab)
    before, encrypted = len(auth.negotiated), auth.encrypted_messages
    servers = exchange_servers(klab, auth="negotiate", username=klab.endpoints["credentials"]["principal"])
    assert "EX01" in servers
    assert auth.negotiated[before:] == ["kerberos"]
    assert auth.encrypted_messages - encrypted >= 4  # Create, Command, Receive ... all sealed


def test_pypsrp_negotiate_with_a_domain_account_is_ntlm_inside_spnego(klab: RunningLab) -> None:
    auth = psrp_auth(klab)
    before, encrypted = len(auth.negotiated), auth.encrypted_messages
    assert "EX02" in exchange_servers(
        klab, auth="negotiate", username=klab.endpoints["credentials"]["username"]
    )
    assert auth.negotiated[before:] == ["ntlm"]
    assert auth.encrypted_messages > encrypted


@pytest.mark.parametrize("auth_name", ["ntlm", "kerberos"])
def test_pypsrp_raw_ntlm_and_kerberos(klab: RunningLab, auth_name: str) -> None:
    creds = klab.endpoints["credentials"]
    user = creds["principal"] if auth_name == "kerberos" else creds["username"]
    auth = psrp_auth(klab)
    before = len(auth.negotiated)
    assert "EX03" in exchange_servers(klab, auth=auth_name, username=user)
    assert auth.negotiated[before:] == [auth_name]


def test_pywinrm_ntlm_default_settings_over_http(klab: RunningLab) -> None:
    auth = winrm_auth(klab)
    before, encrypted = len(auth.negotiated), auth.encrypted_messages
    out = hostname(klab, "ntlm", klab.endpoints["credentials"]["username"])
    assert "ex01.contoso.com" in out
    assert auth.negotiated[before:] == ["ntlm"]
    assert auth.encrypted_messages > encrypted


def test_pywinrm_kerberos_default_settings_over_http(klab: RunningLab, kdc: RunningKdc) -> None:
    # pywinrm's Kerberos (pykerberos) takes no password: the ticket comes from the cache, where the
    # product's own login puts it in-process.
    KerberosLogin(kdc.service_principal, kdc.password).ensure()
    auth = winrm_auth(klab)
    before = len(auth.negotiated)
    out = hostname(klab, "kerberos", kdc.service_principal)
    assert "ex01.contoso.com" in out
    assert auth.negotiated[before:] == ["kerberos"]


def test_unencrypted_messages_over_http_are_refused(klab: RunningLab) -> None:
    with pytest.raises(WinRMTransportError) as refused:
        exchange_servers(
            klab, auth="ntlm", username=klab.endpoints["credentials"]["username"], encryption="never"
        )
    assert refused.value.code == 500
    assert "unencrypted traffic is disabled" in str(refused.value.response_text)


def test_basic_is_off_by_default_even_over_https(klab: RunningLab) -> None:
    creds = klab.endpoints["credentials"]
    url = klab.endpoints["winrm_servers"]["EX01"]
    response = requests.post(
        url, auth=(creds["username"], creds["password"]), verify=klab.endpoints["ca_cert"], timeout=10
    )
    assert response.status_code == 401
    assert "Basic" not in response.headers.get("WWW-Authenticate", "")


def test_a_scenario_can_turn_basic_on_for_https_only(kdc: RunningKdc, healthy_scenario: Scenario) -> None:
    with lab_with(kdc, healthy_scenario, basic=True) as lab:
        creds = lab.endpoints["credentials"]
        https = winrm.Session(
            lab.endpoints["winrm_servers"]["EX01"],
            auth=(creds["username"], creds["password"]),
            transport="basic",
            ca_trust_path=lab.endpoints["ca_cert"],
        )
        assert "ex01.contoso.com" in https.run_ps(build_script("hostname", {})).std_out.decode()
        assert winrm_auth(lab, "winrm").negotiated[-1] == "basic"
        plain = requests.post(
            lab.endpoints["winrm_http_servers"]["EX01"],
            auth=(creds["username"], creds["password"]),
            timeout=10,
        )
        assert plain.status_code == 401
        assert "Basic" not in plain.headers.get("WWW-Authenticate", "")


def test_a_scenario_that_refuses_ntlm(kdc: RunningKdc, healthy_scenario: Scenario) -> None:
    with lab_with(kdc, healthy_scenario, ntlm=False) as lab:
        with pytest.raises((AuthenticationError, WinRMTransportError)):
            exchange_servers(lab, auth="ntlm", username=lab.endpoints["credentials"]["username"])
        assert psrp_auth(lab).negotiated == []
        # Kerberos still gets in.
        assert "EX01" in exchange_servers(
            lab, auth="negotiate", username=lab.endpoints["credentials"]["principal"]
        )


def test_default_clients_against_triage_lab_up(kdc: RunningKdc, monkeypatch: pytest.MonkeyPatch) -> None:
    """`triage lab up --kerberos` in its own process; the clients in theirs, pointed at its krb5.conf."""
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "lab", "up", "--scenario", "healthy", "--kerberos"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        monkeypatch.setenv("KRB5_CONFIG", endpoints["kerberos"]["krb5_conf"])
        monkeypatch.setenv("KRB5CCNAME", "MEMORY:lab-up")
        creds = endpoints["credentials"]
        url = urlsplit(endpoints["psrp_http"])
        wsman = WSMan(url.hostname or "", port=url.port, path="PowerShell", ssl=False, auth="negotiate",
                      username=creds["principal"], password=creds["password"])  # fmt: skip
        with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-AcceptedDomain")
            assert any("contoso.com" in str(domain) for domain in ps.invoke())
        for transport, user in (("ntlm", creds["username"]), ("kerberos", creds["principal"])):
            if transport == "kerberos":
                # its own realm (same name, other keys): a cache of its own, keyed by the krb5.conf
                KerberosLogin(
                    creds["principal"], creds["password"], krb5_conf=endpoints["kerberos"]["krb5_conf"]
                ).ensure()
            session = winrm.Session(
                endpoints["winrm_http_servers"]["EX01"], auth=(user, creds["password"]), transport=transport
            )
            assert "ex01.contoso.com" in session.run_ps(build_script("hostname", {})).std_out.decode()
    finally:
        process.terminate()
        process.wait(10)
