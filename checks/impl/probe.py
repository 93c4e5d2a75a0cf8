"""https-probe: live requests to the target's URLs — TLS handshake, certificate name and trust, HTTP status."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.errors import Refused
from checks.ports import ProbeAnswer
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
PATHS = {"owa": "owa", "ecp": "ecp", "ews": "EWS/Exchange.asmx"}


def as_https(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or parts.netloc
    return urlunsplit(("https", netloc, parts.path or "/", "", ""))


def _kind(url: str) -> str:
    first = urlsplit(url).path.strip("/").split("/", 1)[0].lower()
    return first if first in ("owa", "ecp") else "ews" if first == "ews" else "other"


async def _target_urls(ctx: CheckContext) -> list[str]:
    """The URL named in the error, else the target server's OWA, ECP and EWS URLs over https (the one the
    symptom is about first)."""
    given = ctx.facts.get("target.url")
    if isinstance(given, str) and given:
        try:
            return [as_https(check_url(given))]
        except ValueProblem as problem:
            raise Refused("input", f"The target URL is not usable: {problem}") from None
    target = ctx.address("target")
    info = await mailbox(ctx, target) if target else None
    if info is None or info.location != "onprem":
        return []
    organisation = await org(ctx)
    rows = await asyncio.gather(*(vdirs(ctx, k) for k in PATHS))
    server = organisation.server(info.server)
    if server is None:
        return []
    urls = {}
    for kind, listed in zip(PATHS, rows, strict=True):
        row = next((r for r in listed if text(r, "Server").lower() == server.name.lower()), None)
        urls[kind] = as_https(
            text(row, "InternalUrl")
            if row and text(row, "InternalUrl")
            else f"https://{server.fqdn}/{PATHS[kind]}"
        )
    first = ("owa", "ecp") if ctx.facts.get("symptom") == "owa-ecp-cross-site-proxy" else ("ews",)
    return [urls[k] for k in first] + [urls[k] for k in PATHS if k not in first]


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
    urls = await _target_urls(ctx)
    if not urls:
        return Finding(
            "skipped",
            "No on-premises target URL to probe: give an on-premises target or paste the error that names the URL.",
        )
    answers = list(await asyncio.gather(*(ctx.probe.probe(u) for u in urls)))
    evidence = [e for a in answers for e in _evidence(a)]
    facts = _facts(answers[0], answers)
    problems = [f"{a.url}: {'; '.join(p)}" for a in answers if (p := _problems(a))]
    if problems:
        return Finding("fail", " / ".join(problems) + ".", evidence, facts)
    shown = ", ".join(f"{urlsplit(a.url).path} {a.status}" for a in answers)
    return Finding(
        "ok", f"{urlsplit(urls[0]).hostname}: TLS with a trusted certificate; {shown}.", evidence, facts
    )
