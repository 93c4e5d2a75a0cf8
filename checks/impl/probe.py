"""https-probe: a live request to the target URL — TLS handshake, certificate name and trust, HTTP status."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from checks.context import CheckContext, Finding
from checks.errors import Refused
from checks.registry import check
from checks.remedies import commands
from checks.values import ev, text
from checks.views import mailbox, org, vdirs
from knowledge.validators import ValueProblem, check_url

REMEDY = commands(
    "# from the proxying Exchange server, in PowerShell:",
    "try { (Invoke-WebRequest -Uri '<target URL>' -UseBasicParsing -MaximumRedirection 0).StatusCode } catch { $_.Exception.Response.StatusCode.value__; $_.Exception.Message }",
)
# Answers that show a healthy virtual directory to an anonymous client: it asks for credentials or redirects.
HEALTHY = {200, 301, 302, 401, 440}


def as_https(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or parts.netloc
    return urlunsplit(("https", netloc, parts.path or "/", "", ""))


async def _target_url(ctx: CheckContext) -> str | None:
    """The URL named in the error, else the target server's OWA (proxy symptom) or EWS URL, over https."""
    given = ctx.facts.get("target.url")
    if isinstance(given, str) and given:
        try:
            return as_https(check_url(given))
        except ValueProblem as problem:
            raise Refused("input", f"The target URL is not usable: {problem}") from None
    target = ctx.address("target")
    if target is None:
        return None
    info = await mailbox(ctx, target)
    if info is None or info.location != "onprem":
        return None
    kind = "owa" if ctx.facts.get("symptom") == "owa-ecp-cross-site-proxy" else "ews"
    organisation, rows = await asyncio.gather(org(ctx), vdirs(ctx, kind))
    server = organisation.server(info.server)
    row = next((r for r in rows if server and text(r, "Server").lower() == server.name.lower()), None)
    url = text(row, "InternalUrl") if row else ""
    if not url and server is not None:
        url = f"https://{server.fqdn}/" + ("owa" if kind == "owa" else "EWS/Exchange.asmx")
    return as_https(url) if url else None


@check("https-probe", remedy=REMEDY)
async def https_probe(ctx: CheckContext) -> Finding:
    url = await _target_url(ctx)
    if url is None:
        return Finding(
            "skipped",
            "No target URL to probe: give the target's address or paste the error that names the URL.",
        )
    answer = await ctx.probe.probe(url)
    facts: dict[str, Any] = {"probe.url": url, "probe.tls_ok": answer.tls_ok}
    host = urlsplit(url).hostname or url
    evidence = [ev(host, "TLS handshake", answer.tls_ok, answer.cert_subject)]
    if answer.cert_name_ok is not None:
        facts["probe.cert_name_ok"] = answer.cert_name_ok
        evidence.append(ev(host, "Certificate covers the host name", answer.cert_name_ok))
    if answer.cert_trusted is not None:
        facts["probe.cert_trusted"] = answer.cert_trusted
        evidence.append(ev(host, "Certificate chains to a trusted root", answer.cert_trusted))
    if answer.status is not None:
        facts["probe.status"] = answer.status
        evidence.append(ev(host, f"HTTP status of GET {urlsplit(url).path}", answer.status))
        if urlsplit(url).path.lower().rstrip("/").endswith("/owa"):
            facts["owa.target.https_status"] = answer.status
    if answer.error:
        facts["probe.error"] = answer.error
        evidence.append(ev(host, "Error", answer.error))
        return Finding("fail", f"{url}: {answer.error}.", evidence, facts)
    problems = []
    if answer.cert_name_ok is False:
        problems.append("its certificate does not cover the host name")
    if answer.cert_trusted is False:
        problems.append("its certificate does not chain to a trusted root")
    if answer.status is not None and answer.status not in HEALTHY:
        problems.append(f"it answers HTTP {answer.status}")
    if problems:
        return Finding("fail", f"{url}: " + "; ".join(problems) + ".", evidence, facts)
    return Finding(
        "ok",
        f"{url} completes TLS with a trusted certificate and answers HTTP {answer.status}.",
        evidence,
        facts,
    )
