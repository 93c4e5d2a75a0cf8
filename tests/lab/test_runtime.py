"""The lab runtime: every simulator up on loopback, in a thread or in the caller's loop."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pypsrp.powershell import PowerShell

from lab.runtime import SIMULATORS, start_lab, start_lab_async
from tests.lab.conftest import exchange_pool


def _free_port_range(count: int) -> int:
    """The first of `count` consecutive loopback ports that were all free a moment ago."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count >= 65535:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return base
    raise RuntimeError("no range of free loopback ports found")


def test_every_simulator_listens_on_consecutive_loopback_ports() -> None:
    # Another process may take a port between the probe and the start: try a few ranges before failing.
    for attempt in range(5):
        base = _free_port_range(len(SIMULATORS))
        try:
            lab = start_lab("healthy", port_base=base)
            break
        except OSError:
            if attempt == 4:
                raise
    with lab:
        ports = [urlsplit(lab.endpoints[name]).port for name in SIMULATORS]
        hosts = {urlsplit(lab.endpoints[name]).hostname for name in SIMULATORS}
        ca = Path(lab.endpoints["ca_cert"])
        assert ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert ports == list(range(base, base + len(SIMULATORS)))
    assert hosts == {"127.0.0.1"}
    assert not ca.exists()


def test_only_loopback_binds_are_allowed() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        start_lab("healthy", host="0.0.0.0")


async def test_async_lab_serves_in_the_running_loop() -> None:
    lab = await start_lab_async("seed-002-owa-internalurl-http")
    try:

        def owa_url() -> str:
            with exchange_pool(lab) as pool:
                ps = PowerShell(pool).add_cmdlet("Get-OwaVirtualDirectory").add_parameter("Server", "EX03")
                return str(ps.invoke()[0].adapted_properties["InternalUrl"])

        assert await asyncio.to_thread(owa_url) == "http://ex03.contoso.com/owa"
    finally:
        await lab.aclose()
