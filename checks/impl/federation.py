"""federation-trust and federation-certificates: the DAuth trust and its certificate on every server."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.errors import CommandFailed
from checks.paste_commands import CERTIFICATES, ORG, PAIR
from checks.ports import Row
from checks.registry import check
from checks.remedies import PasteCommand, pasted_remedy
from checks.values import ev, flag, strings, text, when
from checks.views import cert_by_thumbprint, certificates, involved_servers

TRUST = PasteCommand(
    "Get-FederationTrust",
    ("Name", "OrgPrivCertificate", "OrgPrevPrivCertificate", "TokenIssuerUri", "OrgCertificate.NotAfter",
     "TokenIssuerCertificate.NotAfter"),
)  # fmt: skip
TRUST_REMEDY = pasted_remedy(
    [
        TRUST,
        PasteCommand("Test-FederationTrust", ("Id", "Type", "Message")),
        PasteCommand("Get-FederatedOrganizationIdentifier", ("AccountNamespace", "Domains", "Enabled")),
    ],
    # Where the trust does not show its certificate's expiry, the servers' copies do.
    ORG,
    PAIR,
    [CERTIFICATES],
)
CERT_REMEDY = pasted_remedy(
    [
        TRUST,
        PasteCommand(
            "Test-FederationTrustCertificate", ("Site", "Server", "State", "Thumbprint"), table=True
        ),
    ],
    ORG,
    PAIR,
    [CERTIFICATES],
)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _thumb(row: Row, *names: str) -> str:
    for name in names:
        value = row.get(name)
        if isinstance(value, dict):
            value = value.get("Thumbprint")
        if value:
            return str(value).upper()
    return ""


async def _trust(ctx: CheckContext) -> Row | None:
    rows = await ctx.exchange.run("Get-FederationTrust")
    return rows[0] if rows else None


async def _optional(ctx: CheckContext, cmdlet: str) -> list[Row] | CommandFailed:
    """A Test-* cmdlet whose failure is evidence, not a reason to stop."""
    try:
        return await ctx.exchange.run(cmdlet)
    except CommandFailed as failed:
        return failed


async def _not_after(ctx: CheckContext, trust: Row, thumbprint: str) -> datetime.datetime | None:
    stated = when(trust.get("OrgCertificate"))
    if stated is not None:
        return stated
    for answer in (await certificates(ctx, await involved_servers(ctx, modern_only=True))).values():
        row = cert_by_thumbprint(answer, thumbprint) if isinstance(answer, list) else None
        if row is not None:
            return when(row.get("NotAfter"))
    return None


def _test_rows(answer: list[Row] | CommandFailed) -> tuple[list[str], list[Evidence]]:
    if isinstance(answer, CommandFailed):
        return [], [ev("", "Test-FederationTrust", "could not run", answer.message)]
    errors = [text(r, "Id") for r in answer if text(r, "Type").lower() == "error"]
    evidence = [
        ev("", f"Test-FederationTrust {text(r, 'Id')}", text(r, "Type"), text(r, "Message")) for r in answer
    ]
    return errors, evidence


def _federated_domains(identifier: Row) -> list[str]:
    """The federated domains, the account namespace's own domain last (as Set-FederatedOrganizationIdentifier wants)."""
    namespace = text(identifier, "AccountNamespace").lower()
    own = namespace.split(".", 1)[1] if "." in namespace else namespace
    domains = [d.lower() for d in strings(identifier, "Domains")]
    return [d for d in domains if d != own] + [d for d in domains if d == own]


@check("federation-trust", remedy=TRUST_REMEDY)
async def federation_trust(ctx: CheckContext) -> Finding:
    trust, tested, identifier = await asyncio.gather(
        _trust(ctx),
        _optional(ctx, "Test-FederationTrust"),
        ctx.exchange.run("Get-FederatedOrganizationIdentifier"),
    )
    if trust is None:
        return Finding(
            "fail",
            "There is no federation trust, so federated (DAuth) free/busy cannot work.",
            evidence=[ev("", "Get-FederationTrust", None, "no federation trust object")],
            facts={"fedtrust.present": False},
        )
    thumbprint = _thumb(trust, "OrgPrivCertificate", "OrgCertificate")
    facts: dict[str, Any] = {
        "fedtrust.present": True,
        "fedtrust.name": text(trust, "Name"),
        "fedcert.thumbprint": thumbprint,
        "fedtrust.token_issuer_uri": text(trust, "TokenIssuerUri"),
    }
    if identifier:
        facts["fedtrust.domains"] = _federated_domains(identifier[0])
    previous = _thumb(trust, "OrgPrevPrivCertificate", "OrgPrevCertificate")
    if previous:
        facts["fedcert.prev_thumbprint"] = previous
    evidence = [ev("", "OrgPrivCertificate", thumbprint), ev("", "OrgPrevPrivCertificate", previous)]
    not_after = await _not_after(ctx, trust, thumbprint)
    problems: list[str] = []
    if not_after is not None:
        days = (not_after - ctx.now).days
        facts["fedcert.expired"] = not_after <= ctx.now
        facts["fedcert.days_left"] = days
        if facts["fedcert.expired"]:
            ago = (ctx.now - not_after).days
            facts["fedcert.days_since_expiry"] = ago
            evidence.append(ev("", "Federation certificate NotAfter", not_after, f"expired {_days(ago)} ago"))
            problems.append(
                f"the federation certificate {thumbprint} expired {_days(ago)} ago, on {not_after:%Y-%m-%d}"
            )
        else:
            evidence.append(ev("", "Federation certificate NotAfter", not_after, f"expires in {_days(days)}"))
    issuer_until = when(trust.get("TokenIssuerCertificate"))
    if issuer_until is not None:
        facts["fedtrust.token_issuer_stale"] = issuer_until <= ctx.now
        evidence.append(ev("", "TokenIssuerCertificate NotAfter", issuer_until))
        if facts["fedtrust.token_issuer_stale"]:
            problems.append(
                "the trust's token issuer certificate is out of date (refresh the federation metadata)"
            )
    errors, test_evidence = _test_rows(tested)
    evidence.extend(test_evidence)
    if errors:
        problems.append("Test-FederationTrust reports errors in " + ", ".join(errors))
    if problems:
        return Finding("fail", "Federation trust: " + "; ".join(problems) + ".", evidence, facts)
    days_left = facts.get("fedcert.days_left")
    if isinstance(days_left, int) and days_left < 30:
        return Finding("warn", f"The federation certificate expires in {_days(days_left)}.", evidence, facts)
    return Finding(
        "ok",
        f"Federation trust '{facts['fedtrust.name']}' with certificate {thumbprint} looks healthy.",
        evidence,
        facts,
    )


def _tested_missing(answer: list[Row] | CommandFailed, names: set[str]) -> set[str]:
    """Servers Test-FederationTrustCertificate reports without the certificate installed."""
    if isinstance(answer, CommandFailed):
        return set()
    return {
        text(r, "Server").upper()
        for r in answer
        if text(r, "Server").upper() in names and text(r, "State").lower() not in ("installed", "")
    }


@check("federation-certificates", remedy=CERT_REMEDY)
async def federation_certificates(ctx: CheckContext) -> Finding:
    trust, servers, tested = await asyncio.gather(
        _trust(ctx),
        involved_servers(ctx, modern_only=True),
        _optional(ctx, "Test-FederationTrustCertificate"),
    )
    if trust is None:
        return Finding(
            "skipped", "There is no federation trust, so there is no federation certificate to look for."
        )
    thumbprint = _thumb(trust, "OrgPrivCertificate", "OrgCertificate")
    answers = await certificates(ctx, servers)
    missing: list[str] = []
    holders: list[str] = []
    unread: list[str] = []
    evidence: list[Evidence] = []
    for server in servers:
        answer = answers[server.name]
        if isinstance(answer, Exception):
            unread.append(server.name)
            evidence.append(ev(server.name, "Get-ExchangeCertificate", "could not read", str(answer)))
            continue
        row = cert_by_thumbprint(answer, thumbprint)
        has_key = flag(row, "HasPrivateKey") if row is not None else None
        evidence.append(
            ev(
                server.name,
                f"Certificate {thumbprint}",
                "present" if row else "missing",
                f"HasPrivateKey: {has_key}" if row else f"site {server.site}",
            )
        )
        (holders if has_key else missing).append(server.name)
    for name in sorted(
        _tested_missing(tested, {s.name.upper() for s in servers}) - {m.upper() for m in missing}
    ):
        server = next(s for s in servers if s.name.upper() == name)
        missing.append(server.name)
        holders = [h for h in holders if h.upper() != name]
        evidence.append(ev(server.name, "Test-FederationTrustCertificate State", "not installed"))
    if unread and not holders and not missing:
        raise next(a for a in answers.values() if isinstance(a, Exception))
    sites = sorted({s.site for s in servers if s.name in missing})
    facts: dict[str, Any] = {
        "fedcert.thumbprint": thumbprint,
        "fedcert.missing_servers": missing,
        "fedcert.missing_sites": sites,
    }
    if holders:
        facts["fedcert.source_server"] = holders[0]
    if unread and not missing:
        del facts["fedcert.missing_servers"]  # "none missing" would rule causes out for servers unread
    if missing:
        summary = f"The federation certificate {thumbprint} (with its private key) is missing on {', '.join(missing)} in site {', '.join(sites)}."
        return Finding("fail", summary, evidence, facts)
    if unread:
        return Finding(
            "warn",
            f"The federation certificate is on every server read; could not read {', '.join(unread)}.",
            evidence,
            facts,
        )
    return Finding(
        "ok",
        f"Every involved server ({', '.join(holders)}) holds the federation certificate with its private key.",
        evidence,
        facts,
    )
