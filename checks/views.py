"""Shared views of the organisation built once per triage from cmdlet output: servers, sites, the pair.

Most checks need to know the servers and sites, and which of them matter for this pair. They all await
these views; the first one to ask starts the cmdlets, the others share the answer (`CheckContext.view`).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from checks.context import CheckContext
from checks.errors import NotConfigured, NotFound, Refused
from checks.ports import Row
from checks.values import site_name, strings, text

__all__ = [
    "MailboxInfo",
    "Org",
    "ServerInfo",
    "certificates",
    "involved_servers",
    "mailbox",
    "org",
    "site_servers",
    "vdirs",
]

VDIR_CMDLETS = {
    "owa": "Get-OwaVirtualDirectory",
    "ecp": "Get-EcpVirtualDirectory",
    "ews": "Get-WebServicesVirtualDirectory",
    "autodiscover": "Get-AutodiscoverVirtualDirectory",
}


@dataclass(frozen=True)
class ServerInfo:
    name: str
    fqdn: str
    site: str
    roles: str
    version: str
    internet_web_proxy: str
    domain: str = ""

    @property
    def build(self) -> tuple[int, ...]:
        """(major, minor, build, revision) from 'Version 15.2 (Build 2562.17)'; () when unreadable."""
        match = re.search(r"Version (\d+)\.(\d+) \(Build (\d+)\.(\d+)\)", self.version)
        return tuple(int(part) for part in match.groups()) if match else ()

    @property
    def is_edge(self) -> bool:
        return "edge" in self.roles.lower()

    @property
    def modern(self) -> bool:
        """Exchange 2013 or later (version 15+). Older servers reach the cloud through a newer one
        (an InternalProxy availability address space), so hybrid-only settings do not apply to them."""
        match = re.search(r"Version (\d+)\.", self.version)
        return match is None or int(match[1]) >= 15


@dataclass(frozen=True)
class Org:
    servers: tuple[ServerInfo, ...]
    internet_facing_sites: frozenset[str]

    @property
    def sites(self) -> list[str]:
        return sorted({s.site for s in self.servers})

    def server(self, name: str) -> ServerInfo | None:
        wanted = name.lower().split(".", 1)[0] if "." not in name else name.lower()
        return next((s for s in self.servers if wanted in (s.name.lower(), s.fqdn.lower())), None)

    def in_site(self, site: str) -> list[ServerInfo]:
        return [s for s in self.servers if s.site.lower() == site.lower() and not s.is_edge]

    @property
    def mailbox_servers(self) -> list[ServerInfo]:
        return [s for s in self.servers if not s.is_edge]


@dataclass(frozen=True)
class MailboxInfo:
    address: str
    location: str  # onprem | online
    database: str = ""
    server: str = ""
    site: str = ""
    routing_address: str = ""
    alias: str = ""
    email_addresses: tuple[str, ...] = ()  # with prefixes (SMTP:, smtp:, sip:)
    upn: str = ""
    dn: str = ""
    display_name: str = ""

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1].lower()

    @property
    def routing_domain(self) -> str:
        return self.routing_address.rsplit("@", 1)[-1].lower() if self.routing_address else ""


async def vdirs(ctx: CheckContext, kind: str) -> list[Row]:
    """Every server's virtual directory of `kind` (owa, ecp, ews, autodiscover), in one cmdlet run."""
    return await ctx.exchange.run(VDIR_CMDLETS[kind], {"ADPropertiesOnly": True})


async def _build_org(ctx: CheckContext) -> Org:
    prefetch_pair(ctx)  # nearly every check that wants the servers wants the pair next
    servers, ews, owa = await asyncio.gather(
        ctx.exchange.run("Get-ExchangeServer"), vdirs(ctx, "ews"), vdirs(ctx, "owa")
    )
    infos = tuple(
        ServerInfo(
            name=text(row, "Name"),
            fqdn=text(row, "Fqdn") or text(row, "Name"),
            site=site_name(text(row, "Site")),
            roles=text(row, "ServerRole"),
            version=text(row, "AdminDisplayVersion"),
            internet_web_proxy=text(row, "InternetWebProxy"),
            domain=text(row, "Domain"),
        )
        for row in servers
    )
    # A site is Internet-facing when its servers publish an EWS ExternalUrl: that is where federated
    # free/busy arrives from the Internet. (OWA's ExternalUrl is judged separately: set in an internal
    # site it makes OWA redirect instead of proxy, a fault of its own.)
    published = {text(row, "Server").lower() for row in (ews or owa) if text(row, "ExternalUrl")}
    facing = frozenset(s.site for s in infos if s.name.lower() in published and not s.is_edge)
    return Org(servers=infos, internet_facing_sites=facing)


async def org(ctx: CheckContext) -> Org:
    return await ctx.view("org", _build_org)


async def _lookup(ctx: CheckContext, cmdlet: str, address: str) -> Row | None:
    try:
        rows = await ctx.exchange.run(cmdlet, {"Identity": address})
    except NotFound:
        return None
    return rows[0] if rows else None


async def _build_mailbox(ctx: CheckContext, *, address: str) -> MailboxInfo | None:
    onprem, remote, organisation = await asyncio.gather(
        _lookup(ctx, "Get-Mailbox", address), _lookup(ctx, "Get-RemoteMailbox", address), org(ctx)
    )
    if onprem is not None:
        server_name = text(onprem, "ServerName")
        server = organisation.server(server_name) if server_name else None
        return MailboxInfo(
            address=text(onprem, "PrimarySmtpAddress") or address,
            location="onprem",
            database=text(onprem, "Database"),
            server=server.name if server else server_name.upper(),
            site=server.site if server else "",
            **_identity(onprem),
        )
    if remote is not None:
        routing = text(remote, "RemoteRoutingAddress").removeprefix("SMTP:").removeprefix("smtp:")
        return MailboxInfo(
            address=text(remote, "PrimarySmtpAddress") or address,
            location="online",
            routing_address=routing,
            alias=text(remote, "Alias"),
            **_identity(remote),
        )
    return None


def _identity(row: Row) -> dict[str, Any]:
    return {
        "email_addresses": tuple(strings(row, "EmailAddresses")),
        "upn": text(row, "UserPrincipalName"),
        "dn": text(row, "DistinguishedName"),
        "display_name": text(row, "DisplayName"),
    }


async def mailbox(ctx: CheckContext, address: str) -> MailboxInfo | None:
    """Where `address` lives (None: no mailbox of that address on either side)."""
    return await ctx.view(f"mailbox:{address.lower()}", functools.partial(_build_mailbox, address=address))


def prefetch_pair(ctx: CheckContext) -> None:
    """Start looking up the pair's mailboxes, for checks that need them only after other answers."""
    for role in ("requester", "target"):
        try:
            address = ctx.address(role)
        except Refused:
            continue  # the check that needs it says why
        if address is not None:
            ctx.start(f"mailbox:{address.lower()}", functools.partial(_build_mailbox, address=address))


async def location(ctx: CheckContext, address: str) -> str | None:
    """onprem or online (None: no such mailbox); without Exchange PowerShell, a guess from the backends."""
    try:
        info = await mailbox(ctx, address)
    except NotConfigured:
        return "onprem" if ctx.ports.onprem_mailboxes is not None else "online"
    return info.location if info is not None else None


def site_servers(ctx: CheckContext, organisation: Org, target: ServerInfo | None) -> list[ServerInfo]:
    """Every server of the target's site, the target's own server first; the site the conversation named
    (`target.site`, a triage scoped to a site) when no target server is known; [] when neither is."""
    named = ctx.facts.get("target.site")
    site = target.site if target is not None else named if isinstance(named, str) else ""
    members = organisation.in_site(site) if site else []
    if target is not None and not any(s.name == target.name for s in members):
        members = [target, *members]
    return sorted(members, key=lambda s: (target is None or s.name != target.name, s.name.lower()))


async def involved_servers(ctx: CheckContext, *, modern_only: bool = False) -> list[ServerInfo]:
    """The servers that matter for this triage: every server of the target's site and the Internet-facing sites.

    The target's site is its mailbox's, else the one the conversation named (`target.site`); without
    either, every Mailbox server. `modern_only` leaves out Exchange 2010.
    """
    target = ctx.address("target")
    if target is None:
        organisation, info = await org(ctx), None
    else:  # both at once: the mailbox lookup does not wait for the server list
        organisation, info = await asyncio.gather(org(ctx), mailbox(ctx, target))
    servers = organisation.mailbox_servers
    named = ctx.facts.get("target.site")
    site = info.site if info is not None and info.location == "onprem" and info.site else named
    if isinstance(site, str) and any(s.site.lower() == site.lower() for s in servers):
        sites = {site.lower(), *(f.lower() for f in organisation.internet_facing_sites)}
        servers = [s for s in servers if s.site.lower() in sites]
    return [s for s in servers if s.modern or not modern_only]


async def certificates(ctx: CheckContext, servers: Iterable[ServerInfo]) -> dict[str, list[Row] | Exception]:
    """Get-ExchangeCertificate on each server, concurrently; a server that fails maps to its error."""
    names = [s.name for s in servers]
    answers = await asyncio.gather(
        *(ctx.exchange.run("Get-ExchangeCertificate", {"Server": n}) for n in names), return_exceptions=True
    )
    out: dict[str, list[Row] | Exception] = {}
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, BaseException) and not isinstance(answer, Exception):
            raise answer
        out[name] = answer
    return out


def cert_by_thumbprint(rows: list[Row], thumbprint: str) -> Row | None:
    wanted = thumbprint.upper()
    return next((r for r in rows if text(r, "Thumbprint").upper() == wanted), None)


def services(row: Row) -> list[str]:
    return [s.strip() for s in ",".join(strings(row, "Services")).split(",") if s.strip()]
