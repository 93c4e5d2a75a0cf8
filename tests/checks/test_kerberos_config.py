"""The live configuration's Kerberos settings: Basic only over HTTPS, SPNs as Windows derives them, the
principal's form."""

from __future__ import annotations

import pytest

from checks.backends.psrp import PsrpSettings
from checks.backends.winrm_host import WinrmSettings
from checks.config import ConfigError, parse_config
from checks.wiring import from_config


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {"exchange": {"server": "ex01.contoso.com", "ssl": False, "auth": "basic"}},
            "exchange: auth: basic sends the password in the clear",
        ),
        (
            {"winrm": {"url_template": "http://{server}.contoso.com:5985/wsman", "transport": "basic"}},
            "needs HTTPS",
        ),
        ({"exchange": {"server": "ex01", "spn": "ex01.contoso.com"}}, "exchange.spn"),
        ({"kerberos": {"principal": "triage-svc@contoso.com"}}, "kerberos.principal"),
        (
            {"kerberos": {"principal": "a@CONTOSO.COM", "kdcs": ["dc01"], "krb5_conf": "/etc/krb5.conf"}},
            "either krb5_conf or kdcs",
        ),
        ({"kerberos": {"principal": "a@CONTOSO.COM", "kdcs": ["dc01 ; rm"]}}, "is not a host name"),
    ],
    ids=[
        "basic-over-http",
        "winrm-basic-over-http",
        "spn-without-service",
        "realm-not-in-capitals",
        "kdcs-and-conf",
        "bad-kdc",
    ],
)
def test_bad_kerberos_settings_are_named(data: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(data, "live.yaml")
    assert words in str(refused.value)


def test_spns_are_derived_as_windows_asks_for_them() -> None:
    assert PsrpSettings(server="EX01.contoso.com").service_principal == "HTTP/ex01.contoso.com"
    assert (
        PsrpSettings(server="ex01", spn="HTTP/mail.contoso.com").service_principal == "HTTP/mail.contoso.com"
    )
    winrm = WinrmSettings(url_template="http://{server}.contoso.com:5985/wsman")
    assert winrm.service_principal("EX02") == "WSMAN/ex02.contoso.com"
    pinned = WinrmSettings(endpoints={"EX03": "http://10.0.0.3:5985/wsman"}, spn="WSMAN/{server}.contoso.com")
    assert pinned.service_principal("EX03") == "WSMAN/EX03.contoso.com"


def test_a_upn_with_a_password_is_a_kerberos_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_PW", "secret")
    config = parse_config(
        {
            "exchange": {
                "server": "ex01.contoso.com",
                "username": "triage-svc@contoso.com",
                "password_env": "TRIAGE_PW",
            },
            "winrm": {"username": "CONTOSO\\triage-svc", "password_env": "TRIAGE_PW", "transport": "ntlm"},
        }
    )
    settings = from_config(config)
    assert settings.exchange is not None and settings.exchange.kerberos is not None
    assert settings.exchange.kerberos.principal == "triage-svc@CONTOSO.COM"
    assert settings.winrm is not None and settings.winrm.kerberos is None  # DOMAIN\user is NTLM's form
    assert "secret" not in repr(settings.exchange)
