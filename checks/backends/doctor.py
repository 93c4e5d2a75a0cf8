"""`triage doctor`: is a deployment's live configuration usable? One row per thing that can be wrong.

For every configured backend: DNS, TCP reach, TLS (trust and name) or HTTP message encryption, the
authentication mechanism negotiated; then what the account may do: the cmdlets the Exchange endpoint grants
against the checks' allow-list (`Get-Command` in the restricted endpoint), a host template on every WinRM host,
EWS impersonation of a test mailbox, the Graph token and its application permissions, the Exchange Online
management host. Nothing here writes anything; every failure is a row with the problem and the fix.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pypsrp.powershell import PowerShell, RunspacePool

from checks.backends.ews import EwsMailboxes, EwsSettings
from checks.backends.exo_host import ExoHost
from checks.backends.graph import GraphMailboxes, GraphSettings
from checks.backends.kerberos import AuthProblem, explain
from checks.backends.psrp import PsrpSettings, _Connection, plain, translate
from checks.backends.winrm_host import WinrmHost, WinrmSettings
from checks.errors import BackendError
from checks.impl.events import EVENT_IDS, PROVIDERS
from checks.safety import EXCHANGE_CMDLETS, EXCHANGE_ONLINE_CMDLETS
from checks.wiring import BackendSettings

__all__ = ["GRAPH_PERMISSIONS", "DoctorRow", "run_doctor"]

Status = Literal["ok", "problem"]
GRAPH_PERMISSIONS = ("Calendars.ReadBasic.All", "Calendars.Read")  # either is enough for free/busy
_TIMEOUT = 10.0


@dataclass(frozen=True)
class DoctorRow:
    backend: str
    check: str
    status: Status
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def _ok(backend: str, check: str, detail: str) -> DoctorRow:
    return DoctorRow(backend, check, "ok", detail)


def _problem(backend: str, check: str, detail: str, fix: str) -> DoctorRow:
    return DoctorRow(backend, check, "problem", detail[:400], fix)


def _from_error(backend: str, check: str, error: BaseException, fix: str) -> DoctorRow:
    problem: AuthProblem | None = explain(error)
    if problem is not None:
        return _problem(backend, check, problem.cause, problem.fix)
    return _problem(backend, check, str(error).splitlines()[0] if str(error) else type(error).__name__, fix)


async def _network(backend: str, url: str, ca_file: str | None, verify: bool, auth: str) -> list[DoctorRow]:
    """DNS, TCP and TLS (or message encryption) rows for one endpoint; stops at the first that fails."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), _TIMEOUT)
    except (OSError, TimeoutError) as error:
        return [
            _problem(
                backend,
                "dns",
                f"{host} does not resolve ({error}).",
                f"add {host} to DNS (or use the server's FQDN); Kerberos needs the real host name anyway.",
            )
        ]
    address = str(infos[0][4][0])
    rows = [_ok(backend, "dns", f"{host} is {address}")]
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), _TIMEOUT)
        writer.close()
    except (OSError, TimeoutError) as error:
        return [
            *rows,
            _problem(
                backend,
                "tcp",
                f"{host}:{port} cannot be reached ({type(error).__name__}: {error}).",
                f"open TCP {port} from this host to {host} (firewall), and check the listener is up "
                "(WinRM: winrm quickconfig; Exchange: the IIS site's binding).",
            ),
        ]
    rows.append(_ok(backend, "tcp", f"{host}:{port} accepts connections"))
    if not https:
        if auth in ("basic", "ssl"):
            rows.append(
                _problem(
                    backend,
                    "tls",
                    "Basic over plain HTTP would send the password in the clear.",
                    "use HTTPS, or Kerberos/Negotiate/NTLM (messages encrypted over HTTP).",
                )
            )
        else:
            rows.append(_ok(backend, "tls", "plain HTTP: every message is encrypted by Kerberos/NTLM"))
        return rows
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if not verify:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=context, server_hostname=host), _TIMEOUT
        )
        writer.close()
    except ssl.SSLCertVerificationError as error:
        return [
            *rows,
            _problem(
                backend,
                "tls",
                f"the certificate of {host} is not accepted: {error.verify_message or error}.",
                f"trust the CA that issued it (ca_file), or bind a certificate whose names include {host}.",
            ),
        ]
    except (OSError, TimeoutError, ssl.SSLError) as error:
        return [*rows, _problem(backend, "tls", f"the TLS handshake with {host} failed: {error}.", "check the HTTPS binding and its certificate.")]  # fmt: skip
    rows.append(_ok(backend, "tls", f"the certificate of {host} is trusted and names it"))
    return rows


def _negotiated(pool: RunspacePool, auth: str) -> str:
    auth_handler = getattr(getattr(pool.connection.transport, "session", None), "auth", None)
    for context in getattr(auth_handler, "contexts", {}).values():
        protocol = getattr(context, "negotiated_protocol", None)
        if protocol:
            return str(protocol)
    return auth


def _exchange_probe(settings: PsrpSettings) -> tuple[str, list[str]]:
    """(the mechanism negotiated, the cmdlets Get-Command lists) over one runspace pool."""
    connection = _Connection(settings)
    try:
        pool = connection._open()
        mechanism = _negotiated(pool, settings.auth)
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Command")
        names = []
        for row in ps.invoke():
            value = plain(row)
            names.append(str(value.get("Name", "")) if isinstance(value, dict) else str(value))
        return mechanism, names
    finally:
        connection.close()


async def _exchange(settings: PsrpSettings, executor: ThreadPoolExecutor, label: str) -> list[DoctorRow]:
    scheme = "https" if settings.ssl else "http"
    port = f":{settings.port}" if settings.port else ""
    url = f"{scheme}://{settings.server}{port}/{settings.path}"
    rows = await _network(label, url, settings.ca_file, settings.verify_tls, settings.auth)
    if any(r.status == "problem" for r in rows):
        return rows
    loop = asyncio.get_running_loop()
    try:
        mechanism, granted = await loop.run_in_executor(executor, _exchange_probe, settings)
    except Exception as error:
        translated = translate(settings, error)
        return [
            *rows,
            _from_error(
                label, "auth", error, _auth_fix(translated, settings.auth, settings.service_principal)
            ),
        ]
    rows.append(_ok(label, "auth", f"signed in with {mechanism} (SPN {settings.service_principal})"))
    allowed = EXCHANGE_ONLINE_CMDLETS if settings.online else EXCHANGE_CMDLETS
    have = {name.lower() for name in granted}
    missing = sorted(c for c in allowed if c.lower() not in have)
    if missing:
        rows.append(
            _problem(
                label,
                "cmdlets",
                f"the account's roles do not grant {len(missing)} cmdlet(s) the checks run: {', '.join(missing)}.",
                "add the account to a role group holding View-Only Configuration and View-Only Recipients "
                "(docs/deploying.md), then sign in again.",
            )
        )
    else:
        rows.append(_ok(label, "cmdlets", f"all {len(allowed)} cmdlets of the allow-list are granted"))
    return rows


def _auth_fix(error: BackendError, auth: str, spn: str) -> str:
    return (
        f"check the account and its secret; the endpoint must accept {auth} "
        f"(the SPN asked for is {spn}). {error}"
    )[:400]


_TEMPLATE_FIXES = {
    "win-events": "add the account to the host's Event Log Readers group (the Application log over a network logon).",
}


def _probe_templates() -> list[tuple[str, dict[str, Any]]]:
    """Host templates the checks run, with harmless arguments: the clock, and the last hour of the log."""
    now = datetime.datetime.now(datetime.UTC)
    window = {
        "log": "Application",
        "providers": PROVIDERS,
        "ids": EVENT_IDS,
        "since": (now - datetime.timedelta(hours=1)).isoformat(),
        "until": now.isoformat(),
        "max": 1,
    }
    return [("clock", {}), ("win-events", window)]


async def _winrm(
    settings: WinrmSettings, servers: list[str], executor: ThreadPoolExecutor, label: str
) -> list[DoctorRow]:
    rows: list[DoctorRow] = []
    for server in servers:
        backend = f"{label} {server}"
        url = settings.url(server)
        network = await _network(backend, url, settings.ca_file, settings.verify_tls, settings.transport)
        rows += network
        if any(r.status == "problem" for r in network):
            continue
        host = WinrmHost(settings, executor)
        limit = settings.read_timeout + _TIMEOUT
        try:
            try:
                answer = await asyncio.wait_for(host.run(server, "hostname", {}), limit)
                mechanism = host.transport(server) or settings.transport
            except Exception as error:
                rows.append(
                    _from_error(
                        backend,
                        "auth",
                        error,
                        "check the account, its secret and that it is in the host's Remote Management Users group.",
                    )
                )
                continue
            rows.append(
                _ok(backend, "auth", f"signed in with {mechanism} (SPN {settings.service_principal(server)})")
            )
            failed: list[tuple[str, BaseException]] = []
            for template, args in _probe_templates():
                try:
                    await asyncio.wait_for(host.run(server, template, args), limit)
                except Exception as error:
                    failed.append((template, error))
        finally:
            await host.close()
        fqdn = answer.get("fqdn") if isinstance(answer, dict) else None
        if failed:
            template, reason = failed[0]
            said = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
            rows.append(
                _problem(
                    backend,
                    "templates",
                    f"the {template} template failed: {said}",
                    _TEMPLATE_FIXES.get(
                        template, "check that powershell.exe runs for the account on the host."
                    ),
                )
            )
        elif fqdn:
            ran = ", ".join(["hostname", *(t for t, _a in _probe_templates())])
            rows.append(_ok(backend, "templates", f"the read-only host templates run ({ran}; {fqdn})"))
        else:
            rows.append(
                _problem(
                    backend,
                    "templates",
                    "the hostname template printed nothing usable.",
                    "check that powershell.exe runs for the account on the host.",
                )
            )
    return rows


async def _ews(settings: EwsSettings, mailbox: str | None, executor: ThreadPoolExecutor) -> list[DoctorRow]:
    label = "ews"
    rows = await _network(label, settings.endpoint, settings.ca_file, True, settings.auth)
    if any(r.status == "problem" for r in rows):
        return rows
    if not mailbox:
        rows.append(
            _problem(
                label,
                "impersonation",
                "no test mailbox given, so impersonation was not tried.",
                "run triage doctor --mailbox user@domain (any on-premises mailbox).",
            )
        )
        return rows
    try:
        await EwsMailboxes(settings, executor).calendar_permissions(mailbox)
    except Exception as error:
        rows.append(
            _from_error(
                label,
                "impersonation",
                error,
                "grant the account ApplicationImpersonation (New-ManagementRoleAssignment -Role ApplicationImpersonation -User <account>), or use access: delegate with folder rights.",
            )
        )
        return rows
    rows.append(_ok(label, "impersonation", f"read {mailbox}'s calendar permissions as that mailbox"))
    return rows


def _roles(token: str) -> list[str]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return []
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return [str(r) for r in roles] if isinstance(roles, list) else []


async def _graph(settings: GraphSettings, executor: ThreadPoolExecutor) -> list[DoctorRow]:
    label = "graph"
    rows = await _network(f"{label} token endpoint", settings.authority, settings.ca_file, True, "oauth")
    rows += await _network(label, settings.graph_url, settings.ca_file, True, "oauth")
    if any(r.status == "problem" for r in rows):
        return rows
    client = GraphMailboxes(settings, executor)
    try:
        token = await client._token()
    except Exception as error:
        return [*rows, _from_error(label, "token", error, "check tenant_id, client_id and the client secret (not expired) of the app registration.")]  # fmt: skip
    rows.append(_ok(label, "token", "an app-only token for Microsoft Graph"))
    roles = _roles(token)
    if any(p in roles for p in GRAPH_PERMISSIONS):
        rows.append(_ok(label, "permissions", f"the token carries {', '.join(sorted(roles))}"))
    else:
        rows.append(
            _problem(
                label,
                "permissions",
                f"the token carries no calendar permission (roles: {', '.join(roles) or 'none'}).",
                "add the application permission Calendars.ReadBasic.All to the app and grant admin consent.",
            )
        )
    return rows


async def _exchange_online(settings: BackendSettings, executor: ThreadPoolExecutor) -> list[DoctorRow]:
    exo, winrm = settings.exo_host, settings.exo_host_winrm
    if exo is None or winrm is None:
        return []
    label = f"exchange online via {exo.host}"
    rows = await _winrm(winrm, [exo.host], executor, "winrm")
    if any(r.status == "problem" for r in rows):
        return rows
    host = WinrmHost(winrm, executor)
    try:
        await ExoHost(exo, host).run("Get-OrganizationConfig")
    except Exception as error:
        rows.append(
            _from_error(
                label,
                "exo",
                error,
                "on the management host: install ExchangeOnlineManagement and the app's certificate in CurrentUser\\My of the account.",
            )
        )
    else:
        rows.append(
            _ok(
                label, "exo", f"Connect-ExchangeOnline to {exo.organization} works with the app's certificate"
            )
        )
    finally:
        await host.close()
    return rows


async def _servers(settings: BackendSettings, executor: ThreadPoolExecutor) -> list[str]:
    """The WinRM hosts to try: the configured ones, else the Exchange servers the endpoint lists."""
    if settings.winrm is None:
        return []
    if settings.winrm.endpoints:
        return list(settings.winrm.endpoints)
    if settings.exchange is None:
        return []

    def names() -> list[str]:
        connection = _Connection(settings.exchange)  # type: ignore[arg-type]
        try:
            ps = PowerShell(connection._open())
            ps.add_cmdlet("Get-ExchangeServer")
            return [str(plain(r).get("Name")) for r in ps.invoke() if isinstance(plain(r), dict)]
        finally:
            connection.close()

    try:
        return await asyncio.get_running_loop().run_in_executor(executor, names)
    except Exception:  # the Exchange rows already say why
        return []


async def run_doctor(settings: BackendSettings, *, mailbox: str | None = None) -> list[DoctorRow]:
    rows: list[DoctorRow] = []
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="doctor") as executor:
        steps: list[Callable[[], Awaitable[list[DoctorRow]]]] = []
        if settings.exchange is not None:
            exchange = settings.exchange
            steps.append(lambda: _exchange(exchange, executor, "exchange"))
        if settings.winrm is not None:
            winrm = settings.winrm

            async def hosts() -> list[DoctorRow]:
                return await _winrm(winrm, await _servers(settings, executor), executor, "winrm")

            steps.append(hosts)
        if settings.ews is not None:
            ews = settings.ews
            steps.append(lambda: _ews(ews, mailbox, executor))
        if settings.graph is not None:
            graph = settings.graph
            steps.append(lambda: _graph(graph, executor))
        steps.append(lambda: _exchange_online(settings, executor))
        for step in steps:
            try:
                rows += await step()
            except Exception as error:  # a probe that breaks is a row too, never a traceback
                rows.append(
                    _problem(
                        "doctor",
                        "internal",
                        f"{type(error).__name__}: {error}",
                        "report this with the configuration (without secrets).",
                    )
                )
    return rows


def as_json(rows: list[DoctorRow]) -> list[dict[str, Any]]:
    return [row.as_json() for row in rows]
