"""Fixtures for the PSRP and WinRM simulator tests: running labs and real clients pointed at them."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pypsrp.powershell import RunspacePool
from pypsrp.wsman import WSMan
from winrm.protocol import Protocol

from lab.runtime import AsyncRunningLab, RunningLab, start_lab


@pytest.fixture(autouse=True)
def _quiet_clients() -> Iterator[None]:
    # pypsrp and requests warn about things that do not matter on loopback (e.g. no CBT for EC keys).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _lab(name: str) -> Iterator[RunningLab]:
    lab = start_lab(name)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def healthy_lab() -> Iterator[RunningLab]:
    yield from _lab("healthy")


@pytest.fixture(scope="session")
def fedcert_lab() -> Iterator[RunningLab]:
    yield from _lab("seed-000-federation-cert")


@pytest.fixture(scope="session")
def owa403_lab() -> Iterator[RunningLab]:
    yield from _lab("seed-002-owa-vdir-403")


@pytest.fixture
def lab(healthy_lab: RunningLab) -> Iterator[RunningLab]:
    """The healthy lab with no faults left behind by the test."""
    healthy_lab.faults.clear()
    yield healthy_lab
    healthy_lab.faults.clear()


def psrp_wsman(
    lab: RunningLab | AsyncRunningLab,
    *,
    password: str | None = None,
    online: bool = False,
    auth: str = "ntlm",
    **options: Any,
) -> WSMan:
    """A pypsrp connection configured as the product's Exchange backend would be (HTTPS, lab CA)."""
    url = urlsplit(lab.endpoints["psrp_online" if online else "psrp"])
    creds = lab.endpoints["credentials"]
    return WSMan(
        url.hostname,
        port=url.port,
        path=url.path.lstrip("/"),
        ssl=True,
        auth=auth,
        username=creds["username"],
        password=creds["password"] if password is None else password,
        cert_validation=lab.endpoints["ca_cert"],
        **options,
    )


def exchange_pool(lab: RunningLab | AsyncRunningLab, **options: Any) -> RunspacePool:
    return RunspacePool(psrp_wsman(lab, **options), configuration_name="Microsoft.Exchange")


def winrm_protocol(
    lab: RunningLab, server: str = "EX01", *, password: str | None = None, **options: Any
) -> Protocol:
    """A pywinrm protocol for one server's WinRM listener, over HTTPS with the lab CA."""
    creds = lab.endpoints["credentials"]
    settings: dict[str, Any] = {"operation_timeout_sec": 5, "read_timeout_sec": 10} | options
    return Protocol(
        lab.endpoints["winrm_servers"][server],
        transport="ntlm",
        username=creds["username"],
        password=creds["password"] if password is None else password,
        ca_trust_path=lab.endpoints["ca_cert"],
        **settings,
    )
