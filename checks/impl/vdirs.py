"""virtual-directories: OWA, ECP, EWS and Autodiscover URLs, authentication and IIS SSL on every server.

A Client Access server proxies OWA and ECP to any server of the mailbox's site, so the InternalUrl and
IIS's SSL requirement are read on every server of the target's site, not only the target's own: two
servers of one site with different faults are both found, each named with its own values.
"""

from __future__ import annotations

import asyncio
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.errors import BackendError
from checks.impl.host import IIS_COMMAND, IIS_SSL_ARGS
from checks.impl.oauth import vdirs_without_oauth
from checks.paste_commands import EWS_BACK_END, ORG, PAIR, VDIRS
from checks.ports import Row
from checks.registry import check
from checks.remedies import pasted_remedy
from checks.values import ev, flag, is_ip_host, strings, text, url_host, url_scheme
from checks.views import Org, ServerInfo, mailbox, org, site_servers, vdirs

REMEDY = pasted_remedy(ORG, PAIR, [EWS_BACK_END, *VDIRS.values(), IIS_COMMAND])
KINDS = ("owa", "ecp", "ews", "autodiscover")


async def proxy_target(ctx: CheckContext, organisation: Org) -> ServerInfo | None:
    """The server OWA/ECP/EWS requests for the target land on: named in the error, or the target's server."""
    for fact in ("proxy.target_server", "target.fqdn"):
        value = ctx.facts.get(fact)
        if isinstance(value, str) and (server := organisation.server(value)) is not None:
            return server
    target = ctx.address("target")
    info = await mailbox(ctx, target) if target else None
    if info is None or info.location != "onprem":
        return None
    return organisation.server(info.server)


def _modern(organisation: Org, name: str) -> bool:
    server = organisation.server(name)
    return server is None or server.modern


def _by_server(rows: list[Row]) -> dict[str, Row]:
    return {text(r, "Server").lower(): r for r in rows}


def _url_findings(
    organisation: Org, rows: dict[str, list[Row]]
) -> tuple[dict[str, list[str]], list[Evidence]]:
    found: dict[str, list[str]] = {
        "non_https": [],
        "ip_hosts": [],
        "internal_site_external_urls": [],
        "external_missing": [],
    }
    evidence = []
    for kind in KINDS:
        for row in rows[kind]:
            server = organisation.server(text(row, "Server"))
            name = server.name if server else text(row, "Server")
            for prop in ("InternalUrl", "ExternalUrl"):
                url = text(row, prop)
                if not url:
                    continue
                evidence.append(ev(name, f"{kind} {prop}", url))
                if url_scheme(url) != "https":
                    found["non_https"].append(f"{name}/{kind}/{prop}")
                if is_ip_host(url):
                    found["ip_hosts"].append(f"{name}/{kind}/{prop}")
            facing = server is not None and server.site in organisation.internet_facing_sites
            if server is not None and not facing and text(row, "ExternalUrl") and kind in ("owa", "ecp"):
                found["internal_site_external_urls"].append(f"{name}/{kind}")
            if (
                kind == "ews"
                and facing
                and server is not None
                and server.modern
                and not text(row, "ExternalUrl")
            ):
                found["external_missing"].append(name)
    return found, evidence


async def _back_end_ews(ctx: CheckContext) -> list[Row]:
    """The EWS back-end virtual directories (port 444), where InternalNLBBypassUrl lives since 2013."""
    params = {"ShowMailboxVirtualDirectories": True, "ADPropertiesOnly": True}
    rows = await ctx.exchange.run("Get-WebServicesVirtualDirectory", params)
    back_end = [r for r in rows if "back end" in text(r, "Name").lower()]
    # Exchange 2010 has no back end: its one vdir carries the value.
    return back_end or [r for r in rows if text(r, "InternalNLBBypassUrl")]


def _nlb_wrong(organisation: Org, ews: list[Row]) -> tuple[list[str], list[Evidence]]:
    wrong: list[str] = []
    evidence: list[Evidence] = []
    for row in ews:
        server = organisation.server(text(row, "Server"))
        if server is None or server.is_edge or not server.modern:  # no back-end vdir before 2013
            continue
        url = text(row, "InternalNLBBypassUrl")
        if url_host(url) not in (server.fqdn.lower(), server.name.lower()):
            wrong.append(server.name)
            evidence.append(
                ev(server.name, "EWS InternalNLBBypassUrl", url, f"should point at {server.fqdn}:444")
            )
    return wrong, evidence


async def _require_ssl(ctx: CheckContext, server: ServerInfo, evidence: list[Evidence]) -> dict[str, bool]:
    """IIS's SSL requirement per vdir on `server` ({} when the host cannot be read)."""
    try:
        rows = await ctx.host.run(server.name, "iis-ssl", IIS_SSL_ARGS)
    except BackendError as problem:
        evidence.append(ev(server.name, "IIS SSL settings", "could not read", problem.message))
        return {}
    out = {}
    for row in rows if isinstance(rows, list) else [rows]:
        path = str(row.get("path", "")).lower()
        out[path] = bool(row.get("require_ssl"))
        evidence.append(
            ev(
                server.name,
                f"IIS {row.get('path')} sslFlags",
                row.get("ssl_flags"),
                f"RequireSSL: {out[path]}",
            )
        )
    return out


def _target_facts(kind: str, server: ServerInfo, row: Row | None, ssl: dict[str, bool]) -> dict[str, Any]:
    facts: dict[str, Any] = {f"{kind}.target.server": server.name}
    if row is None:
        return facts
    url = text(row, "InternalUrl")
    facts[f"{kind}.target.internal_url"] = url
    if kind in ("owa", "ecp"):
        facts[f"{kind}.target.internal_url_scheme"] = url_scheme(url) or "none"
        facts[f"{kind}.target.suggested_internal_url"] = f"https://{server.fqdn}/{kind}"
        if kind in ssl:
            facts[f"{kind}.target.require_ssl"] = ssl[kind]
    if kind == "owa":
        facts["owa.target.fqdn"] = server.fqdn
        facts["owa.target.external_url"] = text(row, "ExternalUrl")
    return facts


def _site_findings(
    site: list[ServerInfo], rows: dict[str, list[Row]], ssl_by_server: dict[str, dict[str, bool]]
) -> tuple[dict[str, Any], list[str]]:
    """OWA and ECP on every server of the target's site: an InternalUrl that is not https, IIS not
    requiring SSL. Each fault names its server and value; the remediation gets one record per server."""
    facts: dict[str, Any] = {}
    failures: list[str] = []
    for kind in ("owa", "ecp"):
        by_server = _by_server(rows[kind])
        plain: list[dict[str, str]] = []
        for server in site:
            row = by_server.get(server.name.lower())
            url = text(row, "InternalUrl") if row is not None else ""
            if row is not None and url_scheme(url) != "https":
                plain.append(
                    {
                        "server": server.name,
                        "internal_url": url,
                        "suggested_internal_url": f"https://{server.fqdn}/{kind}",
                    }
                )
                failures.append(f"{server.name}'s {kind.upper()} InternalUrl is {url or 'not set'}")
        not_required = [s.name for s in site if ssl_by_server.get(s.name, {}).get(kind) is False]
        failures += [f"IIS on {name} does not require SSL on /{kind}" for name in not_required]
        facts[f"{kind}.site.http_internal_url_servers"] = [r["server"] for r in plain]
        facts[f"{kind}.site.http_internal_urls"] = plain
        if (
            all(ssl_by_server.get(s.name) for s in site) or not_required
        ):  # "none" only when every server was read
            facts[f"{kind}.site.ssl_not_required_servers"] = not_required
    return facts, failures


@check("virtual-directories", remedy=REMEDY)
async def virtual_directories(ctx: CheckContext) -> Finding:
    lists = await asyncio.gather(_back_end_ews(ctx), *(vdirs(ctx, k) for k in KINDS))
    organisation, back_end = await org(ctx), lists[0]
    rows = dict(zip(KINDS, lists[1:], strict=True))
    found, evidence = _url_findings(organisation, rows)
    nlb_wrong, nlb_evidence = _nlb_wrong(organisation, back_end)
    evidence.extend(nlb_evidence)
    facts: dict[str, Any] = {
        "vdirs.non_https": found["non_https"],
        "vdirs.ip_hosts": found["ip_hosts"],
        "vdirs.internal_site_external_urls": found["internal_site_external_urls"],
        "ews.external_url_missing_servers": found["external_missing"],
        "ews.nlb_bypass_wrong_servers": nlb_wrong,
        "oauth.vdirs_without_oauth": vdirs_without_oauth(rows["ews"], rows["autodiscover"], organisation),
        "wssecurity.disabled_servers": sorted(
            {
                text(r, "Server")
                for k in ("ews", "autodiscover")
                for r in rows[k]
                if flag(r, "WSSecurityAuthentication") is False and _modern(organisation, text(r, "Server"))
            }
        ),
    }
    published = [text(r, "ExternalUrl") for r in rows["ews"] if text(r, "ExternalUrl")]
    if published:
        facts["ews.external_url"] = published[0]
        facts["ews.external_host"] = url_host(published[0])
    target = await proxy_target(ctx, organisation)
    site = site_servers(ctx, organisation, target)
    ssl_by_server = dict(
        zip(
            (s.name for s in site),
            await asyncio.gather(*(_require_ssl(ctx, s, evidence) for s in site)),
            strict=True,
        )
    )
    failures: list[str] = []
    if target is not None:
        ssl = ssl_by_server.get(target.name, {})
        for kind in ("owa", "ecp", "ews"):
            facts.update(_target_facts(kind, target, _by_server(rows[kind]).get(target.name.lower()), ssl))
        unusable = _target_auth(target, rows, evidence)
        facts["vdirs.target_auth_unusable"] = [f"{target.name}/{k}" for k in unusable]
        bypass = _by_server(back_end).get(target.name.lower())
        if bypass is not None:
            facts["ews.target.nlb_bypass_url"] = text(bypass, "InternalNLBBypassUrl")
    if site:
        site_facts, site_failures = _site_findings(site, rows, ssl_by_server)
        facts.update(site_facts)
        failures += site_failures
    failures += [f"{s}'s EWS InternalNLBBypassUrl does not point at itself" for s in nlb_wrong]
    failures += [
        f"{v} sets an ExternalUrl in a site without Internet access"
        for v in found["internal_site_external_urls"]
    ]
    failures += [f"{s} has no EWS ExternalUrl in an Internet-facing site" for s in found["external_missing"]]
    warnings = [f"{v} is not https" for v in found["non_https"]] + [
        f"{v} uses an IP address" for v in found["ip_hosts"]
    ]
    warnings += [f"OAuth is off on {v}" for v in facts["oauth.vdirs_without_oauth"]]
    warnings += [
        f"WSSecurity is off on {s}'s EWS or Autodiscover" for s in facts["wssecurity.disabled_servers"]
    ]
    warnings += _auth_warnings(rows["ews"])
    warnings += [
        f"{server}'s {kind.upper()} accepts neither forms, Basic nor Windows authentication, "
        "so requests proxied to it cannot sign in"
        for server, kind in (v.split("/") for v in facts.get("vdirs.target_auth_unusable", []))
    ]
    if failures:
        return Finding("fail", "Virtual directories: " + "; ".join(failures) + ".", evidence, facts)
    if warnings:
        return Finding("warn", "Virtual directories: " + "; ".join(warnings) + ".", evidence, facts)
    where = f" (target server {target.name}" if target else ""
    if len(site) > 1:
        where += (
            f"{'; ' if where else ' ('}every server of site {site[0].site}: {', '.join(s.name for s in site)}"
        )
    where += ")" if where else ""
    return Finding(
        "ok",
        f"Every virtual directory uses https FQDN URLs as its site's role needs{where}.",
        evidence,
        facts,
    )


def _auth_warnings(ews: list[Row]) -> list[str]:
    """EWS must accept WSSecurity (DAuth) and OAuth for hybrid free/busy."""
    out = []
    for row in ews:
        methods = {m.lower() for m in strings(row, "InternalAuthenticationMethods")}
        if not methods:
            continue
        missing = [m for m in ("WSSecurity", "OAuth") if m.lower() not in methods]
        if missing:
            out.append(f"EWS on {text(row, 'Server')} does not accept {' or '.join(missing)}")
    return out


# Methods a request proxied to OWA/ECP can sign in with: forms or Basic from a browser or a down-level
# CAS, Kerberos/NTLM (Windows) from a 2013+ front end, ADFS claims. A vdir with none of them fails every
# proxied sign-in. OAuth alone does not serve a browser.
_USABLE = {"fba", "basic", "ntlm", "windowsintegrated", "negotiate", "kerberos", "adfs"}


def _unusable_auth(row: Row) -> bool:
    methods = {m.lower() for m in strings(row, "InternalAuthenticationMethods")}
    if methods:
        return not methods & _USABLE
    # No list printed: only say so when every switch is printed and off.
    switches = [flag(row, p) for p in ("FormsAuthentication", "BasicAuthentication", "WindowsAuthentication")]
    return all(v is False for v in switches) and flag(row, "AdfsAuthentication") is not True


def _target_auth(target: ServerInfo, rows: dict[str, list[Row]], evidence: list[Evidence]) -> list[str]:
    """The target's OWA/ECP vdirs no proxied request can authenticate to."""
    unusable = []
    for kind in ("owa", "ecp"):
        row = _by_server(rows[kind]).get(target.name.lower())
        if row is None or not _unusable_auth(row):
            continue
        unusable.append(kind)
        methods = ", ".join(strings(row, "InternalAuthenticationMethods")) or "none"
        evidence.append(
            ev(target.name, f"{kind} InternalAuthenticationMethods", methods, "no forms, Basic or Windows")
        )
    return unusable
