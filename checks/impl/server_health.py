"""Per-server health for host-settings: the clock against the domain's time source, whether the endpoints
hybrid needs answer, stopped Exchange services, app pools and server components, the Exchange Back End
certificate binding and the svc-Integrated handler mapping. Read-only templates (`checks.host_templates`)
and Get-ServerComponentState; a fact is only set when every server involved could be read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext
from checks.errors import BackendError
from checks.ports import Row
from checks.remedies import HostCommand, PasteCommand
from checks.values import ev, text
from checks.views import ServerInfo

__all__ = ["HEALTH_COMMANDS", "Health", "health_facts", "server_health"]

SKEW_LIMIT_SECONDS = 300  # Kerberos and the federation gateway's tokens allow five minutes
OUTBOUND_URLS = [
    "https://nexus.microsoftonline-p.com/FederationMetadata/2006-12/FederationMetadata.xml",
    "https://login.microsoftonline.com/common/.well-known/openid-configuration",
    "https://outlook.office365.com/ews/exchange.asmx",
]
APP_POOLS = ["MSExchangeServicesAppPool", "MSExchangeAutodiscoverAppPool"]
HANDLER_PATHS = ["EWS", "Autodiscover"]
# Exchange 2013 and later keep these two Inactive on a healthy server.
INACTIVE_BY_DEFAULT = frozenset({"forwardsyncdaemon", "provisioningrps"})

_POOLS = ",".join(f"'{p}'" for p in APP_POOLS)
_URLS = ",".join(f"'{u}'" for u in OUTBOUND_URLS)
HEALTH_COMMANDS = (
    HostCommand(
        "clock",
        "$s = \"$(w32tm /query /source)\".Trim(); $o = $null; $peer = ($s -split ',')[0].Trim(); "
        "if ($peer -notmatch 'Local CMOS Clock|Free-running') { $l = w32tm /stripchart /computer:$peer /samples:1 "
        "/dataonly | Select-Object -Last 1; if ($l -match ',\\s*([+-]?\\d+(?:\\.\\d+)?)s') { $o = [double]$Matches[1] } }; "
        "[pscustomobject]@{ utc = (Get-Date).ToUniversalTime().ToString('o'); source = $s; offset_seconds = $o } | "
        "Format-List utc,source,offset_seconds",
    ),
    HostCommand(
        "outbound",
        f"$proxy = (Get-ExchangeServer $env:COMPUTERNAME).InternetWebProxy; {_URLS} | ForEach-Object {{ $status = $null; "
        "$err = $null; try { $r = [System.Net.WebRequest]::Create($_); $r.Method = 'HEAD'; $r.Timeout = 15000; "
        'if ($proxy) { $r.Proxy = New-Object System.Net.WebProxy("$proxy") }; $a = $r.GetResponse(); '
        "$status = [int]$a.StatusCode; $a.Close() } catch { $e = $_.Exception; if ($e.InnerException) "
        "{ $e = $e.InnerException }; if ($e.Response) { $status = [int]$e.Response.StatusCode } else { $err = $e.Message } }; "
        "[pscustomobject]@{ url = $_; status = $status; error = $err } } | Format-List url,status,error",
    ),
    HostCommand(
        "services",
        "Import-Module WebAdministration; @(Get-Service -Name 'MSExchange*' | Where-Object { $_.StartType -eq "
        "'Automatic' -and $_.Status -ne 'Running' } | ForEach-Object { [pscustomobject]@{ kind = 'service'; name = "
        f'$_.Name; state = "$($_.Status)" }} }}) + @({_POOLS} | ForEach-Object {{ [pscustomobject]@{{ kind = '
        "'app pool'; name = $_; state = \"$((Get-WebAppPoolState -Name $_).Value)\" } }) | Format-List kind,name,state",
    ),
    HostCommand(
        "iis-config",
        "Import-Module WebAdministration; @(Get-WebBinding -Name 'Exchange Back End' -Protocol https | ForEach-Object "
        "{ $h = \"$($_.certificateHash)\"; [pscustomobject]@{ kind = 'binding'; binding = $_.bindingInformation; "
        "certificate_hash = $h; certificate_found = [bool]($h -and (Test-Path -LiteralPath ('Cert:\\LocalMachine\\' + "
        "$_.certificateStoreName + '\\' + $h))) } }) + @('EWS','Autodiscover' | ForEach-Object { [pscustomobject]@{ "
        "kind = 'handler'; path = $_; svc_integrated = [bool](Get-WebHandler -PSPath ('IIS:\\Sites\\Default Web "
        "Site\\' + $_) | Where-Object { $_.Name -like 'svc-Integrated*' }) } }) | Format-List kind,binding,"
        "certificate_hash,certificate_found,path,svc_integrated",
    ),
    PasteCommand("Get-ServerComponentState", ("Identity", "Component", "State"), per="server-identity"),
)


@dataclass
class Health:
    """One server's answers; a part that could not be read holds its error message instead."""

    server: ServerInfo
    parts: dict[str, Any] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)


async def server_health(ctx: CheckContext, server: ServerInfo) -> Health:
    calls = {
        "clock": ctx.host.run(server.name, "clock", {}),
        "outbound": ctx.host.run(
            server.name, "outbound", {"urls": OUTBOUND_URLS, "proxy": server.internet_web_proxy}
        ),
        "services": ctx.host.run(server.name, "services", {"app_pools": APP_POOLS}),
        "iis": ctx.host.run(server.name, "iis-config", {"handler_paths": HANDLER_PATHS}),
        "components": ctx.exchange.run("Get-ServerComponentState", {"Identity": server.name}),
    }
    answers = await asyncio.gather(*calls.values(), return_exceptions=True)
    health = Health(server)
    for name, answer in zip(calls, answers, strict=True):
        if isinstance(answer, BackendError):
            health.unread[name] = answer.message
        elif isinstance(answer, BaseException):
            raise answer
        else:
            health.parts[name] = answer
    return health


def _offset(health: Health) -> float | None:
    """The server's clock offset from the domain's time source in seconds (None: no usable answer)."""
    clock = health.parts.get("clock")
    offset = clock.get("offset_seconds") if isinstance(clock, dict) else None
    return float(offset) if isinstance(offset, int | float) and not isinstance(offset, bool) else None


def _skewed(health: Health, evidence: list[Evidence]) -> bool | None:
    offset = _offset(health)
    if offset is None:
        return None  # no usable time source answered: the skew is unknown
    clock = health.parts.get("clock")
    source = str(clock.get("source", "")) if isinstance(clock, dict) else ""
    evidence.append(
        ev(health.server.name, "Clock offset from the domain's time source (s)", f"{offset:+.1f}", source)
    )
    return abs(offset) > SKEW_LIMIT_SECONDS


def offset_words(name: str, offset: float) -> str:
    """'EX03 +420 s (ahead)': a server and how far its clock is from the domain's time source."""
    return f"{name} {offset:+.0f} s ({'ahead' if offset > 0 else 'behind'})"


def _dangling(health: Health) -> list[str]:
    """The certificate thumbprints the Exchange Back End binding names that the store does not hold."""
    iis = health.parts.get("iis")
    bindings = (
        [b for b in (iis.get("back_end") or []) if isinstance(b, dict)] if isinstance(iis, dict) else []
    )
    return [
        str(b["certificate_hash"]).upper()
        for b in bindings
        if b.get("certificate_hash") and not b.get("certificate_found")
    ]


def _blocked(health: Health, evidence: list[Evidence]) -> bool | None:
    rows = health.parts.get("outbound")
    if not isinstance(rows, list):
        return None
    failed = [r for r in rows if isinstance(r, dict) and r.get("status") is None]
    evidence.extend(
        ev(health.server.name, f"Reach {r.get('url')}", "failed", str(r.get("error") or "")) for r in failed
    )
    return bool(failed)


def _unhealthy(health: Health, evidence: list[Evidence]) -> bool | None:
    services, components = health.parts.get("services"), health.parts.get("components")
    if not isinstance(services, dict) or not isinstance(components, list):
        return None
    stopped = [str(s) for s in services.get("stopped_services") or []]
    pools = [
        p for p in services.get("app_pools") or [] if isinstance(p, dict) and p.get("state") != "Started"
    ]
    inactive = [
        text(c, "Component")
        for c in components
        if text(c, "State").lower() != "active" and text(c, "Component").lower() not in INACTIVE_BY_DEFAULT
    ]
    name = health.server.name
    evidence.extend(ev(name, f"Service {s}", "not running") for s in stopped)
    evidence.extend(ev(name, f"App pool {p.get('name')}", p.get("state") or "unknown") for p in pools)
    evidence.extend(ev(name, f"Component {c}", "Inactive") for c in inactive)
    return bool(stopped or pools or inactive)


def _iis(health: Health, evidence: list[Evidence]) -> tuple[bool, bool] | None:
    """(back-end binding broken, svc handler missing)."""
    iis = health.parts.get("iis")
    if not isinstance(iis, dict):
        return None
    bindings: list[Row] = [b for b in iis.get("back_end") or [] if isinstance(b, dict)]
    usable = [b for b in bindings if b.get("certificate_hash") and b.get("certificate_found")]
    for binding in bindings if not usable else []:
        evidence.append(ev(health.server.name, "Exchange Back End https binding certificate",
                           binding.get("certificate_hash") or None, "not in the certificate store"))  # fmt: skip
    if not bindings:
        evidence.append(ev(health.server.name, "Exchange Back End https binding", None, "none on port 444"))
    missing = [
        h.get("path")
        for h in iis.get("handlers") or []
        if isinstance(h, dict) and not h.get("svc_integrated")
    ]
    evidence.extend(ev(health.server.name, f"IIS handler svc-Integrated on /{p}", "missing") for p in missing)
    return not usable, bool(missing)


def health_facts(healths: list[Health]) -> tuple[dict[str, Any], list[Evidence], list[str]]:
    """The health facts over every server (each only when all were read), the evidence, the problems."""
    evidence: list[Evidence] = []
    per_server: dict[str, list[tuple[str, bool | None]]] = {}
    for health in healths:
        iis = _iis(health, evidence)
        per_server[health.server.name] = [
            ("host.time_skew_servers", _skewed(health, evidence)),
            ("host.outbound_blocked_servers", _blocked(health, evidence)),
            ("host.unhealthy_servers", _unhealthy(health, evidence)),
            ("host.backend_binding_broken_servers", iis[0] if iis else None),
            ("iis.svc_handler_missing", iis[1] if iis else None),
        ]
        evidence.extend(
            ev(health.server.name, part, "could not read", why) for part, why in health.unread.items()
        )
    facts: dict[str, Any] = {}
    for index, (fact, _) in enumerate(next(iter(per_server.values()), [])):
        verdicts = {name: values[index][1] for name, values in per_server.items()}
        if all(v is not None for v in verdicts.values()):
            facts[fact] = [name for name, v in verdicts.items() if v]
    words = {
        "host.time_skew_servers": "the clock is more than five minutes off on",
        "host.outbound_blocked_servers": "the Federation Gateway, Entra or Exchange Online cannot be reached from",
        "host.unhealthy_servers": "an Exchange service, app pool or component is stopped on",
        "host.backend_binding_broken_servers": "the Exchange Back End site has no valid certificate binding on",
        "iis.svc_handler_missing": "the svc-Integrated handler mapping is missing on",
    }
    # The values that matter, beside the servers: how far each skewed clock is off, the thumbprint a broken
    # binding names.
    skewed = facts.get("host.time_skew_servers") or []
    offsets = {h.server.name: _offset(h) for h in healths}
    if "host.time_skew_servers" in facts:
        facts["host.time_skew_offsets"] = [
            offset_words(n, o) for n in skewed if (o := offsets.get(n)) is not None
        ]
    if "host.backend_binding_broken_servers" in facts:
        broken = set(facts["host.backend_binding_broken_servers"])
        facts["host.backend_binding_dangling"] = [
            f"{h.server.name} {thumb}" for h in healths if h.server.name in broken for thumb in _dangling(h)
        ]
    details = {
        "host.time_skew_servers": facts.get("host.time_skew_offsets"),
        "host.backend_binding_broken_servers": [
            f"{server} (the binding names {thumb}, not in the certificate store)"
            for server, thumb in (d.split(" ", 1) for d in facts.get("host.backend_binding_dangling") or [])
        ],
    }
    problems = [
        f"{words[f]} {', '.join(_detailed(v, details.get(f)))}" for f, v in facts.items() if f in words and v
    ]
    return facts, evidence, problems


def _detailed(servers: list[str], details: list[str] | None) -> list[str]:
    """Each server, or its detail ('EX03 +420 s (ahead)') when there is one for it."""
    by_server: dict[str, list[str]] = {}
    for detail in details or []:
        by_server.setdefault(detail.split(" ", 1)[0], []).append(detail)
    return [", ".join(by_server[s]) if s in by_server else s for s in servers]
