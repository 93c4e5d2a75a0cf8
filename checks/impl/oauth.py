"""oauth-configuration: the auth certificate everywhere, Entra auth server, partner app, dedicated hybrid app."""

from __future__ import annotations

import asyncio
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.ports import Row
from checks.registry import check
from checks.remedies import commands
from checks.values import ev, flag, strings, text, when
from checks.views import cert_by_thumbprint, certificates, org, vdirs

EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
DEDICATED_APP_SECTION = "ExchangeOnpremAsThirdPartyAppId"

REMEDY = commands(
    "Get-AuthConfig | Format-List CurrentCertificateThumbprint,PreviousCertificateThumbprint,ServiceName",
    "Get-AuthServer | Format-List Name,Type,Enabled,IssuerIdentifier,ApplicationIdentifier",
    "Get-PartnerApplication | Format-List Name,ApplicationIdentifier,Enabled,UseAuthServer",
    "Get-SettingOverride | Format-List Name,Component,Section,Parameters",
    "Test-OAuthConnectivity -Service EWS -TargetUri https://outlook.office365.com/ews/exchange.asmx -Mailbox <on-premises mailbox> -Verbose | Format-List",
)


def vdirs_without_oauth(ews: list[Row], autodiscover: list[Row]) -> list[str]:
    """server/vdir for EWS and Autodiscover virtual directories with OAuthAuthentication off."""
    off: list[str] = []
    for kind, rows in (("EWS", ews), ("Autodiscover", autodiscover)):
        off.extend(f"{text(r, 'Server')}/{kind}" for r in rows if flag(r, "OAuthAuthentication") is False)
    return sorted(off)


def _dedicated_override(rows: list[Row]) -> bool:
    for row in rows:
        if text(row, "Section").lower() != DEDICATED_APP_SECTION.lower():
            continue
        parameters = {p.replace(" ", "").lower() for p in strings(row, "Parameters")}
        if "enabled=true" in parameters:
            return True
    return False


async def _auth_certificate(
    ctx: CheckContext, thumbprint: str
) -> tuple[list[str], bool | None, list[Evidence]]:
    servers = (await org(ctx)).mailbox_servers
    answers = await certificates(ctx, servers)
    missing, evidence, expired = [], [], None
    for server in servers:
        answer = answers[server.name]
        if isinstance(answer, Exception):
            evidence.append(ev(server.name, "Get-ExchangeCertificate", "could not read", str(answer)))
            continue
        row = cert_by_thumbprint(answer, thumbprint)
        if row is None or flag(row, "HasPrivateKey") is False:
            missing.append(server.name)
            evidence.append(ev(server.name, f"Auth certificate {thumbprint}", "missing"))
            continue
        not_after = when(row.get("NotAfter"))
        if not_after is not None:
            expired = (expired or False) or not_after <= ctx.now
            evidence.append(ev(server.name, f"Auth certificate {thumbprint} NotAfter", not_after))
    return missing, expired, evidence


@check("oauth-configuration", remedy=REMEDY)
async def oauth_configuration(ctx: CheckContext) -> Finding:
    config, servers, partners, overrides, iocs, ews, autodiscover = await asyncio.gather(
        ctx.exchange.run("Get-AuthConfig"),
        ctx.exchange.run("Get-AuthServer"),
        ctx.exchange.run("Get-PartnerApplication"),
        ctx.exchange.run("Get-SettingOverride"),
        ctx.exchange.run("Get-IntraOrganizationConnector"),
        vdirs(ctx, "ews"),
        vdirs(ctx, "autodiscover"),
    )
    thumbprint = text(config[0], "CurrentCertificateThumbprint").upper() if config else ""
    evo = [s for s in servers if text(s, "Type").lower() == "azuread" and flag(s, "Enabled") is not False]
    partner = [
        p
        for p in partners
        if text(p, "ApplicationIdentifier").lower() == EXCHANGE_ONLINE_APP_ID
        and flag(p, "Enabled") is not False
    ]
    facts: dict[str, Any] = {
        "oauth.auth_server_ok": bool(evo),
        "oauth.partner_app_ok": bool(partner),
        "oauth.dedicated_app_override": _dedicated_override(overrides),
        "oauth.vdirs_without_oauth": vdirs_without_oauth(ews, autodiscover),
    }
    evidence = [
        ev("", "Get-AuthConfig CurrentCertificateThumbprint", thumbprint),
        ev("", "Entra (AzureAD) auth server enabled", [text(s, "Name") for s in evo] or None),
        ev("", "Exchange Online partner application enabled", bool(partner)),
        ev(
            "", f"SettingOverride {DEDICATED_APP_SECTION} Enabled=True", facts["oauth.dedicated_app_override"]
        ),
    ]
    problems = []
    if thumbprint:
        facts["oauth.auth_cert_thumbprint"] = thumbprint
        missing, expired, cert_evidence = await _auth_certificate(ctx, thumbprint)
        evidence.extend(cert_evidence)
        facts["oauth.auth_cert_missing_servers"] = missing
        if expired is not None:
            facts["oauth.auth_cert_expired"] = expired
        if missing:
            problems.append(f"the auth certificate {thumbprint} is missing on {', '.join(missing)}")
        if expired:
            problems.append(f"the auth certificate {thumbprint} has expired")
    else:
        problems.append("Get-AuthConfig names no current auth certificate")
    oauth_used = any(flag(i, "Enabled") is not False for i in iocs)
    if oauth_used and not evo:
        problems.append("no enabled Entra (AzureAD) auth server")
    if oauth_used and not partner:
        problems.append("no enabled Exchange Online partner application")
    if oauth_used and not facts["oauth.dedicated_app_override"]:
        problems.append(
            f"the dedicated Exchange hybrid app is not activated (no {DEDICATED_APP_SECTION} setting override)"
        )
    if facts["oauth.vdirs_without_oauth"]:
        problems.append("OAuth is off on " + ", ".join(facts["oauth.vdirs_without_oauth"]))
    if problems:
        return Finding("fail", "OAuth: " + "; ".join(problems) + ".", evidence, facts)
    return Finding(
        "ok",
        "OAuth: auth certificate on every server, auth server, partner application and dedicated app in place.",
        evidence,
        facts,
    )
