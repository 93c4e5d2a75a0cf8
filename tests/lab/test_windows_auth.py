"""The lab's Windows authentication without a KDC: what a listener offers, bad tokens and bodies, and the
restricted endpoint's Get-Command (with a role missing)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import requests
from pypsrp.powershell import PowerShell

from checks.safety import EXCHANGE_CMDLETS
from lab.auth.spnego import NTLM, parse_init
from lab.runtime import RunningLab, start_lab
from tests.lab.conftest import exchange_pool

DEPLOYMENT = Path(__file__).resolve().parents[2] / "lab" / "scenarios" / "deployment"


def test_without_a_realm_the_listeners_offer_negotiate_only(lab: RunningLab) -> None:
    for name in ("psrp", "psrp_http"):
        answer = requests.post(lab.endpoints[name], data=b"", verify=lab.endpoints["ca_cert"], timeout=10)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Negotiate"


@pytest.mark.parametrize(
    "header",
    [
        "Negotiate " + base64.b64encode(b"\x60\x03\x06\x01\x00").decode(),  # truncated SPNEGO
        "Negotiate "
        + base64.b64encode(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 8).decode(),  # AUTHENTICATE first
        "Negotiate not-base64!",
        "Kerberos "
        + base64.b64encode(b"\x60\x0b\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02").decode(),  # no realm
        "Basic " + base64.b64encode(b"CONTOSO\\triage-svc:whatever").decode(),  # Basic is off
    ],
    ids=["truncated-spnego", "authenticate-first", "not-base64", "kerberos-without-realm", "basic-off"],
)
def test_a_bad_token_is_a_401_never_a_500(lab: RunningLab, header: str) -> None:
    answer = requests.post(
        lab.endpoints["winrm_http"], data=b"<x/>", headers={"Authorization": header}, timeout=10
    )
    assert answer.status_code == 401


def test_spnego_init_parsing_rejects_what_is_not_spnego() -> None:
    with pytest.raises(ValueError, match=r"DER length"):
        parse_init(b"\x60\x80")
    # A NegTokenInit offering NTLM: mechTypes [NTLM], mechToken b"x"
    oid = b"\x06\x0a" + NTLM
    mech_types = b"\xa0" + bytes((len(oid) + 2,)) + b"\x30" + bytes((len(oid),)) + oid
    token = b"\xa2\x03\x04\x01x"
    body = b"\x30" + bytes((len(mech_types) + len(token),)) + mech_types + token
    init = b"\xa0" + bytes((len(body),)) + body
    spnego = b"\x06\x06\x2b\x06\x01\x05\x05\x02" + init
    parsed = parse_init(b"\x60" + bytes((len(spnego),)) + spnego)
    assert parsed.mechs == (NTLM,) and parsed.token == b"x"


def test_get_command_lists_the_granted_cmdlets(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Command")
        names = {str(o.adapted_properties["Name"]) for o in ps.invoke()}
    assert set(EXCHANGE_CMDLETS) <= names


def test_a_missing_role_hides_its_cmdlets() -> None:
    with start_lab(DEPLOYMENT / "exchange-role-missing.yaml") as lab, exchange_pool(lab) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Command")
        names = {str(o.adapted_properties["Name"]) for o in ps.invoke()}
        assert "Get-AuthConfig" not in names and "Get-ExchangeServer" in names
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-AuthConfig")
        ps.invoke()
        assert ps.had_errors
        assert "is not recognized as the name of a cmdlet" in str(ps.streams.error[0])
