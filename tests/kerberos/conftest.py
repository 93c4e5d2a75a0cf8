"""A real MIT KDC for the session: the realm CONTOSO.COM on loopback, and labs whose listeners accept Kerberos.

Without the KDC's programs the tests skip with what to install, except under CI (`CI` set), where they fail:
`make test` must not pass by skipping them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest

from lab.auth.kdc import RunningKdc, kdc_missing
from lab.auth.realm import lab_kerberos, start_realm
from lab.runtime import RunningLab, start_lab
from lab.scenario.load import Scenario, load_scenario


def require_kdc() -> None:
    missing = kdc_missing()
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(missing)
    pytest.skip(missing)


@pytest.fixture(autouse=True)
def _quiet_clients() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="session")
def healthy_scenario() -> Scenario:
    return load_scenario("healthy")


@pytest.fixture(scope="session")
def kdc(healthy_scenario: Scenario) -> Iterator[RunningKdc]:
    """The session's realm; KRB5_CONFIG points every client in this process at it."""
    require_kdc()
    realm = start_realm(healthy_scenario)
    saved = {name: os.environ.get(name) for name in ("KRB5_CONFIG", "KRB5CCNAME")}
    os.environ["KRB5_CONFIG"] = str(realm.krb5_conf)
    os.environ["KRB5CCNAME"] = "MEMORY:triage-tests"
    try:
        yield realm
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        realm.close()


@pytest.fixture(scope="session")
def kerberos_lab(kdc: RunningKdc, healthy_scenario: Scenario) -> Iterator[RunningLab]:
    """The healthy lab, its service account the realm's, its listeners accepting Kerberos."""
    lab = start_lab(healthy_scenario, kerberos=lab_kerberos(kdc), password=kdc.password)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def klab(kerberos_lab: RunningLab) -> Iterator[RunningLab]:
    kerberos_lab.faults.clear()
    yield kerberos_lab
    kerberos_lab.faults.clear()


def lab_with(kdc: RunningKdc, scenario: Scenario, **access: object) -> RunningLab:
    """A lab for `scenario` with its `access` changed (Basic on, NTLM off, ...) in the session's realm."""
    changed = scenario.model_copy(update={"access": scenario.access.model_copy(update=access)})
    return start_lab(changed, kerberos=lab_kerberos(kdc), password=kdc.password)
