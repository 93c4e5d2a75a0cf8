"""Backend settings -> the ports of one triage: open each configured backend, close them all after."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from checks.backends.ews import EwsMailboxes, EwsSettings
from checks.backends.exo_host import ExoHost, ExoHostSettings
from checks.backends.graph import GraphMailboxes, GraphSettings
from checks.backends.https_probe import HttpsProbe, ProbeSettings
from checks.backends.kerberos import KerberosLogin
from checks.backends.psrp import PsrpExchange, PsrpSettings
from checks.backends.session_pool import DEFAULT_SESSIONS, SessionPools
from checks.backends.winrm_host import WinrmHost, WinrmSettings
from checks.config import LiveConfig
from checks.ports import ExchangePort, Ports, PortsFactory

__all__ = ["BackendSettings", "from_config", "kerberos_login", "krb5_conf_for", "ports_factory"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendSettings:
    exchange: PsrpSettings | None = None
    exchange_online: PsrpSettings | None = None  # a PSRP endpoint for the online view (lab)
    exo_host: ExoHostSettings | None = None  # or the management host (live)
    exo_host_winrm: WinrmSettings | None = None
    winrm: WinrmSettings | None = None
    ews: EwsSettings | None = None
    ews_online: EwsSettings | None = None
    graph: GraphSettings | None = None
    probe: ProbeSettings | None = field(default_factory=ProbeSettings)
    threads: int = 48
    sessions: int = (
        DEFAULT_SESSIONS  # runspace pools (and WinRM shells) per endpoint and account, all triages
    )


def ports_factory(settings: BackendSettings, pools: SessionPools | None = None) -> PortsFactory:
    """Each triage gets its own threads; remote PowerShell runspace pools and WinRM shells come from `pools`
    (made here, once, when not given), shared by every triage of this factory and bounded per endpoint and
    account (`settings.sessions`)."""
    shared = pools if pools is not None else SessionPools(settings.sessions)

    @asynccontextmanager
    async def open_ports() -> AsyncIterator[Ports]:
        executor = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="triage-backend")
        try:
            async with AsyncExitStack() as stack:
                yield await _open(settings, executor, stack, shared)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    return open_ports


async def _open(
    settings: BackendSettings, executor: ThreadPoolExecutor, stack: AsyncExitStack, pools: SessionPools
) -> Ports:
    exchange = exchange_online = None
    if settings.exchange is not None:
        exchange = PsrpExchange(settings.exchange, executor, pools)
        stack.push_async_callback(exchange.close)
    if settings.exchange_online is not None:
        exchange_online = PsrpExchange(settings.exchange_online, executor, pools)
        stack.push_async_callback(exchange_online.close)
    host = None
    if settings.winrm is not None:
        host = WinrmHost(settings.winrm, executor, pools)
        stack.push_async_callback(host.close)
    exo: ExchangePort | None = exchange_online
    if settings.exo_host is not None and settings.exo_host_winrm is not None:
        management = WinrmHost(settings.exo_host_winrm, executor, pools)
        stack.push_async_callback(management.close)
        exo = ExoHost(settings.exo_host, management)
    onprem = EwsMailboxes(settings.ews, executor) if settings.ews is not None else None
    cloud = None
    if settings.graph is not None:
        hidden = EwsMailboxes(settings.ews_online, executor) if settings.ews_online is not None else None
        cloud = GraphMailboxes(settings.graph, executor, hidden_items=hidden)
        await cloud.open()
        stack.push_async_callback(cloud.close)
    # Remote PowerShell sessions open side by side now; one that fails is reported by the checks.
    await asyncio.gather(*(p.open() for p in (exchange, exchange_online) if p is not None))
    probe = HttpsProbe(settings.probe) if settings.probe is not None else None
    # The Graph client also reads the directory (an application's certificates).
    return Ports(exchange, exo, host, onprem, cloud, probe, directory=cloud)


def from_config(config: LiveConfig) -> BackendSettings:
    """Live settings; reads each secret from the environment or its file now (ConfigError if missing)."""
    exchange = winrm = ews = graph = ews_online = exo = exo_winrm = None
    login = kerberos_login(config)
    if (e := config.exchange) is not None:
        password = e.password("exchange")
        exchange = PsrpSettings(
            server=e.server, port=e.port, path=e.path, ssl=e.ssl, auth=e.auth, username=e.username,
            password=password, ca_file=e.ca_file, verify_tls=e.verify_tls, connections=e.connections,
            operation_timeout=e.operation_timeout, read_timeout=e.read_timeout, spn=e.spn,
            kerberos=login or _login_from(e.username, password),
        )  # fmt: skip
    if (w := config.winrm) is not None:
        winrm = _winrm(w, "winrm", login)
    if (s := config.ews) is not None:
        ews = EwsSettings(
            endpoint=s.endpoint, auth=s.auth, username=s.username, password=s.password("ews"), version=s.version,
            access=s.access, ca_file=s.ca_file, timeout=s.timeout,
        )  # fmt: skip
    if (g := config.graph) is not None:
        secret = g.client_secret("graph")
        graph = GraphSettings(
            tenant_id=g.tenant_id, client_id=g.client_id, client_secret=secret, authority=g.authority,
            graph_url=g.graph_url, ca_file=g.ca_file, timeout=g.timeout,
        )  # fmt: skip
        if g.exchange_online_ews:
            ews_online = EwsSettings(
                endpoint=g.exchange_online_ews, auth="oauth", client_id=g.client_id, client_secret=secret,
                tenant_id=g.tenant_id, authority=g.authority, ca_file=g.ca_file, name="Exchange Online EWS",
            )  # fmt: skip
    if (o := config.exchange_online) is not None:
        exo = ExoHostSettings(o.management_host, o.organization, o.app_id, o.certificate_thumbprint)
        exo_winrm = _winrm(o.winrm, "exchange_online.winrm", login)
    probe = ProbeSettings(
        ca_file=config.probe.ca_file, timeout=config.probe.timeout, hosts=dict(config.probe.hosts)
    )
    return BackendSettings(
        exchange=exchange, exo_host=exo, exo_host_winrm=exo_winrm, winrm=winrm, ews=ews, ews_online=ews_online,
        graph=graph, probe=probe, sessions=config.limits.sessions,
    )  # fmt: skip


def kerberos_login(config: LiveConfig) -> KerberosLogin | None:
    """The `kerberos:` section's identity (its secret read now), or None."""
    k = config.kerberos
    if k is None:
        return None
    krb5_conf = k.krb5_conf or (krb5_conf_for(k.principal.rpartition("@")[2], k.kdcs) if k.kdcs else None)
    return KerberosLogin(k.principal, k.password("kerberos"), k.keytab, krb5_conf)


def krb5_conf_for(realm: str, kdcs: list[str]) -> str:
    """A krb5.conf for one realm and its KDCs (written once per process, beside nothing else)."""
    lines = "".join(f"  kdc = {kdc}\n" for kdc in kdcs)
    text = (
        f"[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"
        " dns_canonicalize_hostname = false\n rdns = false\n"
        f"[realms]\n {realm} = {{\n{lines} }}\n"
        f"[domain_realm]\n .{realm.lower()} = {realm}\n {realm.lower()} = {realm}\n"
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"exchange-triage-krb5-{digest}.conf"
    if not path.exists():
        descriptor, temporary = tempfile.mkstemp(prefix="exchange-triage-krb5-", suffix=".conf")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    return str(path)


def _login_from(username: str, password: str) -> KerberosLogin | None:
    """A user@REALM username with a password is a Kerberos identity too (DOMAIN\\user is NTLM's)."""
    if "@" in username and password:
        user, _, realm = username.partition("@")
        return KerberosLogin(f"{user}@{realm.upper()}", password)
    return None


def _winrm(w: object, where: str, login: KerberosLogin | None) -> WinrmSettings:
    from checks.config import WinrmSection

    assert isinstance(w, WinrmSection)
    password = w.password(where)
    return WinrmSettings(
        endpoints=dict(w.endpoints), url_template=w.url_template, transport=w.transport, username=w.username,
        password=password, ca_file=w.ca_file, verify_tls=w.verify_tls,
        operation_timeout=w.operation_timeout, read_timeout=w.read_timeout, spn=w.spn,
        kerberos=login or _login_from(w.username, password),
    )  # fmt: skip
