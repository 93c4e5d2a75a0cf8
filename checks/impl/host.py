"""host-settings: AllowProxyingWithoutSsl, InternetWebProxy and TLS 1.2 on the servers involved."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.errors import BackendError
from checks.impl.server_health import HEALTH_COMMANDS, health_facts, server_health
from checks.paste_commands import ORG, PAIR
from checks.registry import check
from checks.remedies import HostCommand, pasted_remedy
from checks.values import ev
from checks.views import Org, ServerInfo, involved_servers, org

OWA_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchange OWA"
SCHANNEL = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"
DOTNET = (
    "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319",
    "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319",
)
TLS_KEYS: dict[str, list[str]] = {
    SCHANNEL + "Server": ["Enabled", "DisabledByDefault"],
    SCHANNEL + "Client": ["Enabled", "DisabledByDefault"],
    DOTNET[0]: ["SchUseStrongCrypto", "SystemDefaultTlsVersions"],
    DOTNET[1]: ["SchUseStrongCrypto", "SystemDefaultTlsVersions"],
}

IIS = "iis-ssl"
# The same arguments as virtual-directories' call, so the two checks share one answer per server.
IIS_SSL_ARGS = {"site": "Default Web Site", "paths": ["owa", "ecp", "EWS", "Autodiscover"]}

_KEYS = ",".join(f"'{k}'" for k in [*TLS_KEYS, OWA_KEY])
_NAMES = ",".join(
    dict.fromkeys(n for names in [*TLS_KEYS.values(), ["AllowProxyingWithoutSsl"]] for n in names)
)
REGISTRY_COMMAND = HostCommand(
    "registry-values",
    f"Get-ItemProperty -Path {_KEYS} -ErrorAction SilentlyContinue | Format-List PSPath,{_NAMES}",
)
IIS_COMMAND = HostCommand(
    "iis-ssl",
    "Import-Module WebAdministration; 'owa','ecp','EWS','Autodiscover' | ForEach-Object { [pscustomobject]@{ "
    "path = $_; ssl_flags = [string](Get-WebConfigurationProperty -PSPath 'MACHINE/WEBROOT/APPHOST' "
    "-Location \"Default Web Site/$_\" -Filter 'system.webServer/security/access' -Name sslFlags) } } | "
    "Format-List path,ssl_flags",
)
REMEDY = pasted_remedy(ORG, PAIR, [REGISTRY_COMMAND, IIS_COMMAND, *HEALTH_COMMANDS])


def _tls_problems(values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What keeps TLS 1.2 from being used, as 'key\\value = x' lines; [] when it is enabled."""
    problems = []
    for path in (SCHANNEL + "Server", SCHANNEL + "Client"):
        got = values.get(path, {})
        if got.get("Enabled") == 0:
            problems.append(f"{path}\\Enabled = 0")
        if got.get("DisabledByDefault") == 1:
            problems.append(f"{path}\\DisabledByDefault = 1")
    for path in DOTNET:
        got = values.get(path, {})
        for name in ("SchUseStrongCrypto", "SystemDefaultTlsVersions"):
            if got.get(name) != 1:
                problems.append(f"{path}\\{name} = {got.get(name, 'not set')}")
    return problems


async def _registry(ctx: CheckContext, server: ServerInfo, path: str, names: list[str]) -> dict[str, Any]:
    answer = await ctx.host.run(server.name, "registry-values", {"path": path, "names": names})
    return dict(answer) if isinstance(answer, Mapping) else {}


async def _server_settings(
    ctx: CheckContext, server: ServerInfo, proxying: bool
) -> dict[str, dict[str, Any]]:
    paths = dict(TLS_KEYS)
    if proxying:
        paths[OWA_KEY] = ["AllowProxyingWithoutSsl"]
    answers = await asyncio.gather(
        *(_registry(ctx, server, p, n) for p, n in paths.items()),
        ctx.host.run(server.name, "iis-ssl", IIS_SSL_ARGS),
    )
    settings = dict(zip(paths, answers[:-1], strict=True))
    rows = answers[-1] if isinstance(answers[-1], list) else [answers[-1]]
    settings[IIS] = {
        str(r.get("path", "")).lower(): r.get("require_ssl") for r in rows if isinstance(r, dict)
    }
    return settings


def _proxy_facts(organisation: Org, servers: list[ServerInfo]) -> tuple[dict[str, Any], list[Evidence]]:
    configured = sorted({s.internet_web_proxy for s in organisation.mailbox_servers if s.internet_web_proxy})
    servers = [s for s in servers if s.modern]
    facts: dict[str, Any] = {}
    evidence = [ev(s.name, "InternetWebProxy", s.internet_web_proxy) for s in servers]
    if configured:
        # Once one server needs a proxy to reach the Internet, every hybrid server does.
        facts["host.internet_web_proxy"] = configured[0]
        facts["host.internet_web_proxy_missing"] = [s.name for s in servers if not s.internet_web_proxy]
    return facts, evidence


@check("host-settings", remedy=REMEDY)
async def host_settings(ctx: CheckContext) -> Finding:
    organisation, servers = await asyncio.gather(org(ctx), involved_servers(ctx, modern_only=True))
    facts, evidence = _proxy_facts(organisation, servers)
    proxying = {s.name for s in servers if s.site in organisation.internet_facing_sites}
    answers, healths = await asyncio.gather(
        asyncio.gather(
            *(_server_settings(ctx, s, s.name in proxying) for s in servers), return_exceptions=True
        ),
        asyncio.gather(*(server_health(ctx, s) for s in servers)),
    )
    tls_off, allow_without_ssl, unread, offloaded = [], [], [], []
    for server, answer in zip(servers, answers, strict=True):
        if isinstance(answer, BackendError):
            unread.append(server.name)
            evidence.append(ev(server.name, "Registry", "could not read", answer.message))
            continue
        if isinstance(answer, BaseException):
            raise answer
        problems = _tls_problems(answer)
        evidence.extend(ev(server.name, "TLS 1.2", p) for p in problems)
        if problems:
            tls_off.append(server.name)
        if any(answer[IIS].get(p) is False for p in ("ews", "autodiscover")):
            offloaded.append(server.name)
            evidence.append(ev(server.name, "IIS RequireSSL on EWS/Autodiscover", False, "SSL offloading"))
        if OWA_KEY in answer:
            value = answer[OWA_KEY].get("AllowProxyingWithoutSsl")
            evidence.append(ev(server.name, "MSExchange OWA\\AllowProxyingWithoutSsl", value))
            if value == 1:
                allow_without_ssl.append(server.name)
    if unread and len(unread) == len(servers):
        raise next(a for a in answers if isinstance(a, BackendError))
    if not unread:
        facts["host.tls12_disabled_servers"] = tls_off
        facts["host.ssl_offloading_servers"] = offloaded
    if proxying - set(unread):
        facts["owa.allow_proxying_without_ssl"] = bool(allow_without_ssl)
    health, health_evidence, health_problems = health_facts(list(healths))
    facts.update(health)
    evidence.extend(health_evidence)
    failures = [f"TLS 1.2 is not fully enabled on {', '.join(tls_off)}"] if tls_off else []
    failures += health_problems
    https_proxy = sorted(
        s.name for s in servers if (s.internet_web_proxy or "").lower().startswith("https://")
    )
    if https_proxy:
        failures.append(
            f"InternetWebProxy is an https:// address on {', '.join(https_proxy)}: .NET reaches a web proxy over http only"
        )
    if facts.get("host.internet_web_proxy_missing"):
        failures.append(
            f"no InternetWebProxy on {', '.join(facts['host.internet_web_proxy_missing'])} (others use {facts['host.internet_web_proxy']})"
        )
    notes = [f"AllowProxyingWithoutSsl is set on {', '.join(allow_without_ssl)}"] if allow_without_ssl else []
    notes += (
        [f"SSL is offloaded (IIS does not require it on EWS/Autodiscover) on {', '.join(offloaded)}"]
        if offloaded
        else []
    )
    if unread:
        notes.append(f"could not read {', '.join(unread)}")
    if failures:
        return Finding("fail", "Server settings: " + "; ".join(failures + notes) + ".", evidence, facts)
    if notes:
        return Finding("warn", "Server settings: " + "; ".join(notes) + ".", evidence, facts)
    return Finding(
        "ok",
        f"TLS 1.2 enabled and proxy settings consistent on {', '.join(s.name for s in servers)}.",
        evidence,
        facts,
    )
