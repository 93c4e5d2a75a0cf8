"""https-probe: live requests to the target's URLs — TLS handshake, certificate name and trust, HTTP status.

Besides the target's own URLs, the OWA and ECP virtual directories of every other server of the target's
site are asked at the server's own name: a proxying server may pick any of them, so one of them answering
403 fails some of the site's users while the target's server looks fine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.errors import BackendError, Refused
from checks.impl.vdirs import proxy_target
from checks.ports import ProbeAnswer
from checks.registry import check
from checks.remedies import commands
from checks.values import ev, text
from checks.views import ServerInfo, mailbox, org, site_servers, vdirs
from knowledge.validators import ValueProblem, check_url

REMEDY = commands(
    "# from the proxying Exchange server, in PowerShell:",
    "try { (Invoke-WebRequest -Uri '<target URL>' -UseBasicParsing -MaximumRedirection 0).StatusCode } catch { $_.Exception.Response.StatusCode.value__; $_.Exception.Message }",
)
# Answers that show a healthy virtual directory to an anonymous client: it asks for credentials or redirects.
HEALTHY = {200, 301, 302, 401, 440}
PATHS = {"owa": "owa", "ecp": "ecp", "ews": "EWS/Exchange.asmx"}


def as_https(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or parts.netloc
    return urlunsplit(("https", netloc, parts.path or "/", "", ""))


def _kind(url: str) -> str:
    first = urlsplit(url).path.strip("/").split("/", 1)[0].lower()
    return first if first in ("owa", "ecp") else "ews" if first == "ews" else "other"


@dataclass(frozen=True)
class _Site:
    """The server the target's URLs belong to and every server of its site (that one first); empty when
    unknown."""

    target: ServerInfo | None = None
    servers: tuple[ServerInfo, ...] = ()


async def _site(ctx: CheckContext, primary: ServerInfo | None) -> _Site:
    """The site of `primary` (the server whose URLs are probed first), else of the proxy target the facts
    name, else the site the conversation named."""
    organisation = await org(ctx)
    anchor = primary or await proxy_target(ctx, organisation)
    return _Site(anchor, tuple(site_servers(ctx, organisation, anchor)))


async def _target_urls(ctx: CheckContext) -> tuple[list[str], ServerInfo | None]:
    """The URL named in the error, else the target server's OWA, ECP and EWS URLs over https (the one the
    symptom is about first); with the server they belong to when it is known."""
    given = _given_url(ctx)
    if given is not None:
        try:
            server = (await org(ctx)).server(urlsplit(given).hostname or "")
        except BackendError:  # the error's URL is probed without the organisation
            server = None
        return [given], server
    target = ctx.address("target")
    info = await mailbox(ctx, target) if target else None
    if info is None or info.location != "onprem":
        return [], None
    organisation = await org(ctx)
    rows = await asyncio.gather(*(vdirs(ctx, k) for k in PATHS))
    server = organisation.server(info.server)
    if server is None:
        return [], None
    urls = {}
    for kind, listed in zip(PATHS, rows, strict=True):
        row = next((r for r in listed if text(r, "Server").lower() == server.name.lower()), None)
        urls[kind] = as_https(
            text(row, "InternalUrl")
            if row and text(row, "InternalUrl")
            else f"https://{server.fqdn}/{PATHS[kind]}"
        )
    first = ("owa", "ecp") if ctx.facts.get("symptom") == "owa-ecp-cross-site-proxy" else ("ews",)
    return [urls[k] for k in first] + [urls[k] for k in PATHS if k not in first], server


def _given_url(ctx: CheckContext) -> str | None:
    given = ctx.facts.get("target.url")
    if not (isinstance(given, str) and given):
        return None
    try:
        return as_https(check_url(given))
    except ValueProblem as problem:
        raise Refused("input", f"The target URL is not usable: {problem}") from None


def _site_urls(site: _Site, probed: ServerInfo | None) -> list[tuple[ServerInfo, str, str]]:
    """(server, kind, url) for the OWA and ECP of every server of the site but the one whose URLs are
    probed already (`probed`), each at its own name."""
    return [
        (server, kind, f"https://{server.fqdn}/{PATHS[kind]}")
        for server in site.servers
        if probed is None or server.name != probed.name
        for kind in ("owa", "ecp")
    ]


def _site_facts(
    site: _Site,
    probed: ServerInfo | None,
    primary: list[ProbeAnswer],
    others: list[tuple[ServerInfo, str, ProbeAnswer]],
) -> dict[str, Any]:
    """Per kind: the servers of the site whose virtual directory answers 403 over https, each with its URL.
    The list is stated (also empty) only when every server's answer is known."""
    facts: dict[str, Any] = {}
    if not site.servers:
        return facts
    for kind in ("owa", "ecp"):
        statuses: dict[str, tuple[ServerInfo, int | None]] = {}
        if probed is not None:
            mine = [a for a in primary if _kind(a.url) == kind]
            statuses[probed.name] = (probed, mine[0].status if mine else None)
        for server, asked, answer in others:
            if asked == kind:
                statuses[server.name] = (server, answer.status)
        forbidden = [
            {"server": server.name, "url": f"https://{server.fqdn}/{PATHS[kind]}"}
            for server, status in statuses.values()
            if status == 403
        ]
        if forbidden or (statuses and all(status is not None for _, status in statuses.values())):
            facts[f"{kind}.site.https_403_servers"] = [r["server"] for r in forbidden]
            facts[f"{kind}.site.https_403"] = forbidden
    return facts


def _problems(answer: ProbeAnswer) -> list[str]:
    if answer.error:
        return [answer.error]
    found = []
    if answer.cert_name_ok is False:
        found.append("its certificate does not cover the host name")
    if answer.cert_trusted is False:
        found.append("its certificate does not chain to a trusted root")
    if answer.status is not None and answer.status not in HEALTHY:
        found.append(f"it answers HTTP {answer.status}")
    return found


def _evidence(answer: ProbeAnswer) -> list[Evidence]:
    host, path = urlsplit(answer.url).hostname or answer.url, urlsplit(answer.url).path
    out = [ev(host, f"GET {path}: TLS handshake", answer.tls_ok, answer.cert_subject)]
    if answer.cert_name_ok is not None:
        out.append(ev(host, "Certificate covers the host name", answer.cert_name_ok))
    if answer.cert_trusted is not None:
        out.append(ev(host, "Certificate chains to a trusted root", answer.cert_trusted))
    if answer.status is not None:
        out.append(ev(host, f"GET {path}: HTTP status", answer.status, answer.server_header))
    if answer.error:
        out.append(ev(host, f"GET {path}: error", answer.error))
    return out


def _facts(primary: ProbeAnswer, answers: list[ProbeAnswer]) -> dict[str, Any]:
    facts: dict[str, Any] = {"probe.url": primary.url, "probe.tls_ok": primary.tls_ok}
    optional = {
        "probe.cert_name_ok": primary.cert_name_ok,
        "probe.cert_trusted": primary.cert_trusted,
        "probe.status": primary.status,
        "probe.error": primary.error or None,
        "probe.server_header": primary.server_header or None,
    }
    facts.update({k: v for k, v in optional.items() if v is not None})
    for answer in answers:
        kind = _kind(answer.url)
        if kind in ("owa", "ecp") and answer.status is not None:
            facts[f"{kind}.target.https_status"] = answer.status
    return facts


@check("https-probe", remedy=REMEDY)
async def https_probe(ctx: CheckContext) -> Finding:
    urls, primary_server = await _target_urls(ctx)
    site = _Site()
    if primary_server is not None or ctx.address("target") is not None or ctx.facts.get("target.site"):
        try:
            site = await _site(ctx, primary_server)
        except BackendError:
            if not urls:
                raise
            # the error's URL is still probed; the rest of its site cannot be listed
    extra = _site_urls(site, primary_server)
    if not urls and not extra:
        return Finding(
            "skipped",
            "No on-premises target URL to probe: give an on-premises target or paste the error that names the URL.",
        )
    answers = list(await asyncio.gather(*(ctx.probe.probe(u) for u in [*urls, *(u for _, _, u in extra)])))
    primary, rest = answers[: len(urls)], answers[len(urls) :]
    others = [(server, kind, answer) for (server, kind, _), answer in zip(extra, rest, strict=True)]
    evidence = [e for a in answers for e in _evidence(a)]
    facts = _facts(primary[0], primary) if primary else {}
    facts.update(_site_facts(site, primary_server, primary, others))
    problems = [f"{a.url}: {'; '.join(p)}" for a in answers if (p := _problems(a))]
    if problems:
        return Finding("fail", " / ".join(problems) + ".", evidence, facts)
    shown = ", ".join(f"{urlsplit(a.url).path} {a.status}" for a in primary)
    where = urlsplit((urls or [extra[0][2]])[0]).hostname
    also = f" Every other server of site {site.servers[0].site} answers too." if others else ""
    return Finding(
        "ok",
        f"{where}: TLS with a trusted certificate; {shown or 'nothing else asked'}.{also}",
        evidence,
        facts,
    )
