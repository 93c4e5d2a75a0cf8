"""The live backends' contract against the lab over Kerberos with a real KDC, over HTTP with encryption,
and the Kerberos failures a deployment meets, each named with its fix."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from pathlib import Path

import pytest
from pypsrp.exceptions import WinRMTransportError

from checks.backends.kerberos import KerberosLogin, KerberosProblem, explain
from checks.backends.psrp import PsrpSettings, translate
from knowledge.loader import KnowledgeBase, load_knowledge
from lab.auth.kdc import RunningKdc, write_krb5_conf
from lab.runtime import RunningLab
from lab.scenario.load import Scenario
from tests.kerberos.conftest import lab_with
from tests.kerberos.live_config import PASSWORD_ENV, SECRET_ENV, kerberos_config, write_config
from tests.kerberos.test_clients import exchange_servers, psrp_auth, winrm_auth
from triage.backends import run_checks_once

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
EXCHANGE_CHECKS = ("topology", "federation-trust", "oauth-configuration", "virtual-directories")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture
def secrets_env(klab: RunningLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, klab.endpoints["credentials"]["password"])
    monkeypatch.setenv(SECRET_ENV, klab.endpoints["credentials"]["client_secret"])


async def test_every_check_passes_over_kerberos_with_encryption(
    klab: RunningLab, kb: KnowledgeBase, tmp_path: Path, secrets_env: None
) -> None:
    psrp, winrm = psrp_auth(klab), winrm_auth(klab)
    psrp_before, winrm_before = len(psrp.negotiated), len(winrm.negotiated)
    sealed_before = psrp.encrypted_messages + winrm.encrypted_messages
    config = write_config(tmp_path / "live.yaml", kerberos_config(klab))
    results, _ = await run_checks_once("live", facts=PAIR, kb=kb, config=config)
    assert {r.status for r in results} == {"ok"}, {r.id: r.summary for r in results if r.status != "ok"}
    assert set(psrp.negotiated[psrp_before:]) == {"kerberos"}
    assert set(winrm.negotiated[winrm_before:]) == {"kerberos"}
    assert psrp.encrypted_messages + winrm.encrypted_messages - sealed_before > 20


async def test_negotiate_and_a_keytab(
    klab: RunningLab, kdc: RunningKdc, kb: KnowledgeBase, tmp_path: Path, secrets_env: None
) -> None:
    keytab = kdc.keytab(tmp_path / "svc.keytab", kdc.service_principal)
    config = kerberos_config(
        klab,
        kerberos={"keytab": str(keytab), "password_env": None},
        exchange={"auth": "negotiate"},
        winrm={"transport": "negotiate"},
    )
    config["kerberos"].pop("password_env")
    results, _ = await run_checks_once(
        "live", facts=PAIR, kb=kb, config=write_config(tmp_path / "k.yaml", config)
    )
    assert {r.status for r in results} == {"ok"}, {r.id: r.summary for r in results if r.status != "ok"}


async def _exchange_error(kb: KnowledgeBase, tmp_path: Path, config: dict[str, object]) -> str:
    results, _ = await run_checks_once(
        "live", facts=PAIR, kb=kb, config=write_config(tmp_path / "c.yaml", config)
    )
    topology = next(r for r in results if r.id == "topology")
    assert topology.status == "error", topology.summary
    assert "Traceback" not in topology.summary
    return topology.summary


async def test_an_unknown_spn_is_named(
    klab: RunningLab, kb: KnowledgeBase, tmp_path: Path, secrets_env: None
) -> None:
    summary = await _exchange_error(
        kb, tmp_path, kerberos_config(klab, exchange={"spn": "HTTP/mail.contoso.com"})
    )
    assert "knows no account with the server's SPN" in summary and "setspn" in summary


async def test_a_wrong_realm_is_named(
    klab: RunningLab, kb: KnowledgeBase, tmp_path: Path, secrets_env: None
) -> None:
    config = kerberos_config(
        klab, kerberos={"principal": "triage-svc@CONTOSO.LOCAL"}, winrm=None, exchange_online=None
    )
    summary = await _exchange_error(kb, tmp_path, config)
    assert "realm is not one krb5.conf knows" in summary


async def test_no_route_to_the_kdc_is_named(
    klab: RunningLab,
    kdc: RunningKdc,
    kb: KnowledgeBase,
    tmp_path: Path,
    secrets_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The login points the process at the configured krb5.conf; the session's is put back afterwards.
    monkeypatch.setenv("KRB5_CONFIG", os.environ["KRB5_CONFIG"])
    monkeypatch.setenv("KRB5CCNAME", "MEMORY:no-route")
    dead = tmp_path / "krb5.conf"
    write_krb5_conf(dead, kdc.realm, "127.0.0.1:9", ["contoso.com"])  # nothing listens on port 9
    # a principal with no ticket in the cache yet, so one must be asked for
    kerberos = {"principal": "other-svc@CONTOSO.COM", "krb5_conf": str(dead)}
    config = kerberos_config(klab, kerberos=kerberos, winrm=None, exchange_online=None)
    summary = await _exchange_error(kb, tmp_path, config)
    assert "no domain controller (KDC) answered" in summary


def test_an_expired_password_is_named(kdc: RunningKdc) -> None:
    kdc.add_principal("expired-svc@CONTOSO.COM", "Old-pass-1", "-pwexpire", '"2020-01-01 00:00:00"')
    with pytest.raises(KerberosProblem) as raised:
        KerberosLogin("expired-svc@CONTOSO.COM", "Old-pass-1").ensure()
    assert raised.value.problem.kind == "expired-password"


def test_a_stale_keytab_is_named(kdc: RunningKdc, tmp_path: Path) -> None:
    kdc.add_principal("rotated-svc@CONTOSO.COM", "First-pass-1")
    keytab = kdc.keytab(tmp_path / "rotated.keytab", "rotated-svc@CONTOSO.COM")
    kdc.kadmin("cpw -pw Second-pass-2 rotated-svc@CONTOSO.COM")
    with pytest.raises(KerberosProblem) as raised:
        KerberosLogin("rotated-svc@CONTOSO.COM", keytab=str(keytab)).ensure()
    assert raised.value.problem.kind == "stale-keytab"
    assert "export a new keytab" in raised.value.problem.fix


def _mit_message(code: int) -> str:
    """MIT Kerberos's own text for an error code (krb5_get_error_message)."""
    lib = ctypes.CDLL(ctypes.util.find_library("krb5") or "libkrb5.so.3")
    context = ctypes.c_void_p()
    assert lib.krb5_init_context(ctypes.byref(context)) == 0
    lib.krb5_get_error_message.restype = ctypes.c_char_p
    lib.krb5_get_error_message.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    message: bytes = lib.krb5_get_error_message(context, code)
    return message.decode()


def test_clock_skew_is_named_from_the_libraries_own_message() -> None:
    # A skewed clock cannot be had on loopback: KRB5KRB_AP_ERR_SKEW as MIT Kerberos words it, as pyspnego wraps it.
    text = _mit_message(-1765328347)
    error = RuntimeError(f"Major (851968): Unspecified GSS failure.  Minor (2529638949): {text}")
    problem = explain(error)
    assert problem is not None and problem.kind == "clock-skew"
    assert "synchronise the clock" in translate(PsrpSettings(server="ex01.contoso.com"), error).args[-1]


async def test_ntlm_refused_by_policy_is_named(
    kdc: RunningKdc,
    healthy_scenario: Scenario,
    kb: KnowledgeBase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with lab_with(kdc, healthy_scenario, ntlm=False) as lab:
        monkeypatch.setenv(PASSWORD_ENV, lab.endpoints["credentials"]["password"])
        monkeypatch.setenv(SECRET_ENV, lab.endpoints["credentials"]["client_secret"])
        config = kerberos_config(
            lab, exchange={"auth": "ntlm", "username": lab.endpoints["credentials"]["username"], "password_env": PASSWORD_ENV},
            winrm=None, exchange_online=None,
        )  # fmt: skip
        summary = await _exchange_error(kb, tmp_path, config)
    assert "refused the service account over NTLM" in summary and "auth: kerberos" in summary


def test_encryption_required_is_named(klab: RunningLab) -> None:
    # What the lab (as Windows with AllowUnencrypted=false) answers a client that does not encrypt over HTTP.
    creds = klab.endpoints["credentials"]
    with pytest.raises(WinRMTransportError) as refused:
        exchange_servers(klab, auth="ntlm", username=creds["username"], encryption="never")
    error = translate(PsrpSettings(server="ex01.contoso.com", ssl=False, auth="ntlm"), refused.value)
    assert "refuses unencrypted messages over HTTP" in str(error) and "HTTPS" in str(error)


async def test_the_kdcs_in_the_configuration_instead_of_a_krb5_conf(
    klab: RunningLab,
    kdc: RunningKdc,
    kb: KnowledgeBase,
    tmp_path: Path,
    secrets_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KRB5_CONFIG", os.environ["KRB5_CONFIG"])
    monkeypatch.setenv("KRB5CCNAME", os.environ["KRB5CCNAME"])
    config = kerberos_config(klab, kerberos={"kdcs": [kdc.address]}, ews=None, graph=None)
    results, _ = await run_checks_once(
        "live", facts=PAIR, kb=kb, config=write_config(tmp_path / "k.yaml", config)
    )
    exchange = [r for r in results if r.id in EXCHANGE_CHECKS]
    assert exchange and {r.status for r in exchange} == {"ok"}, {r.id: r.summary for r in exchange}
    written = await asyncio.to_thread(Path(os.environ["KRB5_CONFIG"]).read_text, encoding="utf-8")
    assert written.count(f"kdc = {kdc.address}") == 1
