"""Run a whole lab: every simulator for one scenario on loopback, under a fresh CA and credentials.

`start_lab` runs them on their own event loop in a daemon thread (the clients are blocking
libraries); `start_lab_async` runs them in the caller's loop. Both give `endpoints`: the URLs, the CA
file, the credentials and the mailboxes a client needs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from lab.context import LabContext, LabKerberos, new_credentials, realm_of
from lab.entra import token
from lab.ews import server as ews
from lab.faults import FaultController
from lab.graph import server as graph
from lab.iis import vdirs
from lab.pki import create_pki
from lab.psrp import server as psrp
from lab.scenario.load import Scenario, load_scenario
from lab.serve import StartedSite, assert_loopback, start_site
from lab.wsman import server as wsman

__all__ = ["PLAIN_HTTP", "SIMULATORS", "AsyncRunningLab", "RunningLab", "start_lab", "start_lab_async"]

# name -> (app factory, path of the endpoint under the site's base URL); ports follow this order.
SIMULATORS: dict[str, tuple[Callable[[LabContext], web.Application], str]] = {
    "psrp": (psrp.build_app, psrp.PATH),
    "winrm": (wsman.build_app, wsman.PATH),
    "ews": (ews.build_app, "/EWS/Exchange.asmx"),
    "graph": (graph.build_app, "/v1.0"),
    "token": (token.build_app, ""),
    "vdirs": (vdirs.build_app, ""),
    # Plain HTTP, as Exchange serves http://SERVER/PowerShell and WinRM listens on 5985: Negotiate/Kerberos
    # with message encryption (Basic never).
    "psrp_http": (psrp.build_app, psrp.PATH),
    "winrm_http": (wsman.build_app, wsman.PATH),
}
PLAIN_HTTP = frozenset({"psrp_http", "winrm_http"})
_START_TIMEOUT = 15.0


def _context(
    scenario: Scenario | str | Path, kerberos: LabKerberos | None, password: str | None
) -> LabContext:
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return LabContext(
        scenario=loaded,
        faults=FaultController(list(loaded.faults)),
        credentials=new_credentials(loaded, password),
        tls=create_pki(server.fqdn for server in loaded.organization.servers),
        kerberos=kerberos,
    )


async def _start_sites(ctx: LabContext, host: str, port_base: int | None) -> dict[str, StartedSite]:
    sites: dict[str, StartedSite] = {}
    try:
        for offset, (name, (build_app, _path)) in enumerate(SIMULATORS.items()):
            port = port_base + offset if port_base else 0
            tls = None if name in PLAIN_HTTP else ctx.tls.server_ssl_context()
            sites[name] = await start_site(build_app(ctx), host=host, port=port, ssl_context=tls)
    except BaseException:
        for site in sites.values():
            await site.stop()
        raise
    return sites


def _endpoints(ctx: LabContext, sites: dict[str, StartedSite]) -> dict[str, Any]:
    urls = {name: sites[name].base_url + path for name, (_factory, path) in SIMULATORS.items()}
    credentials = ctx.credentials
    return {
        "scenario": ctx.scenario.name,
        **urls,
        "psrp_online": sites["psrp"].base_url + psrp.ONLINE_PATH,
        "winrm_servers": {s.name: f"{urls['winrm']}/{s.name}" for s in ctx.scenario.organization.servers},
        "winrm_http_servers": {
            s.name: f"{urls['winrm_http']}/{s.name}" for s in ctx.scenario.organization.servers
        },
        # Every server's IIS (lab.iis.vdirs) answers on one loopback address: dial it, verify the FQDN.
        "vdir_hosts": {
            s.fqdn: f"{sites['vdirs'].host}:{sites['vdirs'].port}" for s in ctx.scenario.organization.servers
        },
        "ca_cert": str(ctx.tls.ca_cert_path),
        "credentials": {
            "username": credentials.username,
            "password": credentials.password,
            "tenant_id": credentials.tenant_id,
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            # the Kerberos principal of the same account (user@REALM)
            "principal": f"{credentials.user}@{ctx.kerberos.realm if ctx.kerberos else realm_of(ctx.scenario)}",
        },
        # The account holding the write roles, for applying approved remediations (never the read-only one).
        "writer": {"username": credentials.writer_username, "password": credentials.writer_password},
        # The Exchange Online organisation the management host connects to (Connect-ExchangeOnline -Organization).
        "exchange_online_tenant": ctx.scenario.exchange_online.tenant,
        "kerberos": {"realm": ctx.kerberos.realm} if ctx.kerberos else None,
        "mailboxes": [
            {"address": m.address, "display_name": m.display_name, "location": m.location}
            for m in ctx.scenario.mailboxes
        ],
    }


@dataclass
class RunningLab:
    """A lab served from a background thread; close it (or use it as a context manager)."""

    ctx: LabContext
    endpoints: dict[str, Any]
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _sites: dict[str, StartedSite] = field(repr=False)

    @property
    def faults(self) -> FaultController:
        return self.ctx.faults

    def app(self, name: str) -> web.Application:
        """One simulator's application (tests look at its state, e.g. the open WinRM shells)."""
        return self._sites[name].runner.app

    def close(self) -> None:
        if self._thread.is_alive():
            stopping: Future[None] = asyncio.run_coroutine_threadsafe(_stop(self._sites), self._loop)
            stopping.result(_START_TIMEOUT)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_START_TIMEOUT)
            self._loop.close()
        self.ctx.tls.cleanup()

    def __enter__(self) -> RunningLab:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass
class AsyncRunningLab:
    """A lab served in the caller's event loop."""

    ctx: LabContext
    endpoints: dict[str, Any]
    _sites: dict[str, StartedSite] = field(repr=False)

    @property
    def faults(self) -> FaultController:
        return self.ctx.faults

    async def aclose(self) -> None:
        await _stop(self._sites)
        self.ctx.tls.cleanup()

    async def __aenter__(self) -> AsyncRunningLab:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _stop(sites: dict[str, StartedSite]) -> None:
    for site in sites.values():
        await site.stop()


def start_lab(
    scenario: Scenario | str | Path,
    *,
    host: str = "127.0.0.1",
    port_base: int | None = None,
    kerberos: LabKerberos | None = None,
    password: str | None = None,
) -> RunningLab:
    """Serve every simulator for `scenario` (a model, a bundled name or a file path) on loopback.

    With `kerberos` the WinRM and PowerShell listeners also accept Kerberos in that realm (its keytab);
    `password` is the service account's (the realm's) instead of a fresh one.
    """
    assert_loopback(host)
    ctx = _context(scenario, kerberos, password)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="lab", daemon=True)
    thread.start()
    try:
        sites = asyncio.run_coroutine_threadsafe(_start_sites(ctx, host, port_base), loop).result(
            _START_TIMEOUT
        )
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT)
        loop.close()
        ctx.tls.cleanup()
        raise
    return RunningLab(ctx, _endpoints(ctx, sites), loop, thread, sites)


async def start_lab_async(
    scenario: Scenario | str | Path,
    *,
    host: str = "127.0.0.1",
    port_base: int | None = None,
    kerberos: LabKerberos | None = None,
    password: str | None = None,
) -> AsyncRunningLab:
    assert_loopback(host)
    ctx = _context(scenario, kerberos, password)
    try:
        sites = await _start_sites(ctx, host, port_base)
    except BaseException:
        ctx.tls.cleanup()
        raise
    return AsyncRunningLab(ctx, _endpoints(ctx, sites), sites)
