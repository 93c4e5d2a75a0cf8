"""oauth-configuration: the auth certificate everywhere, Entra auth server, partner app, dedicated hybrid app."""

from __future__ import annotations

import asyncio
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.paste_commands import AUTH_SERVERS, CERTIFICATES, ORG, VDIRS
from checks.ports import Row
from checks.registry import check
from checks.remedies import PasteCommand, pasted_remedy
from checks.values import ev, flag, strings, text, when
from checks.views import Org, ServerInfo, cert_by_thumbprint, certificates, org, vdirs

EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
DEDICATED_APP_SECTION = "ExchangeOnpremAsThirdPartyAppId"

IOC = PasteCommand(
    "Get-IntraOrganizationConnector", ("Name", "Enabled", "TargetAddressDomains", "DiscoveryEndpoint")
)
REMEDY = pasted_remedy(
    [
        PasteCommand(
            "Get-AuthConfig", ("CurrentCertificateThumbprint", "PreviousCertificateThumbprint", "ServiceName")
        ),
        AUTH_SERVERS,
        PasteCommand(
            "Get-PartnerApplication",
            ("Name", "ApplicationIdentifier", "Enabled", "LinkedAccount", "UseAuthServer"),
        ),
        PasteCommand("Get-SettingOverride", ("Name", "ComponentName", "SectionName", "Parameters")),
        IOC,
        VDIRS["autodiscover"],
    ],
    ORG,
    [CERTIFICATES],
    notes=[
        "# and, to test the connection itself (its output is read as well):",
        "Test-OAuthConnectivity -Service EWS -TargetUri https://outlook.office365.com/ews/exchange.asmx -Mailbox <on-premises mailbox> -Verbose | Format-List",
    ],
)


def vdirs_without_oauth(ews: list[Row], autodiscover: list[Row], organisation: Org) -> list[str]:
    """server/vdir for EWS and Autodiscover virtual directories with OAuthAuthentication off (2013+)."""
    legacy = {s.name.lower() for s in organisation.servers if not s.modern}
    off: list[str] = []
    for kind, rows in (("EWS", ews), ("Autodiscover", autodiscover)):
        off.extend(
            f"{text(r, 'Server')}/{kind}"
            for r in rows
            if flag(r, "OAuthAuthentication") is False and text(r, "Server").lower() not in legacy
        )
    return sorted(off)


# The April 2025 hotfix updates, which brought the dedicated hybrid app, per CU line (major, minor, build).
# A line not listed (an older CU) is below it; Exchange SE (15.2.2562+) shipped with it.
HYBRID_APP_BUILDS: dict[tuple[int, int, int], int] = {
    (15, 2, 1748): 24,  # Exchange 2019 CU15 Apr25HU 15.2.1748.24
    (15, 2, 1544): 25,  # Exchange 2019 CU14 Apr25HU 15.2.1544.25
    (15, 1, 2507): 55,  # Exchange 2016 CU23 Apr25HU 15.1.2507.55
}
SE_FIRST_BUILD = (15, 2, 2562)


def below_hybrid_app_build(servers: list[ServerInfo]) -> list[str]:
    below = []
    for server in servers:
        build = server.build
        if not server.modern or len(build) != 4 or build[:3] >= SE_FIRST_BUILD:
            continue
        minimum = HYBRID_APP_BUILDS.get((build[0], build[1], build[2]))
        if minimum is None or build[3] < minimum:
            below.append(server.name)
    return below


def _graph_override(rows: list[Row]) -> bool:
    """The override that moves rich coexistence from EWS to Graph (RouteThroughMSGraph or similar)."""
    return any(
        "graph" in (text(r, "SectionName") or text(r, "Section") or text(r, "Name")).lower() for r in rows
    )


def _dedicated_override(rows: list[Row]) -> bool:
    for row in rows:
        if (text(row, "SectionName") or text(row, "Section")).lower() != DEDICATED_APP_SECTION.lower():
            continue
        parameters = {p.replace(" ", "").lower() for p in strings(row, "Parameters")}
        if "enabled=true" in parameters:
            return True
    return False


async def _auth_certificate(
    ctx: CheckContext, thumbprint: str
) -> tuple[list[str], bool | None, list[Evidence]]:
    servers = [s for s in (await org(ctx)).mailbox_servers if s.modern]  # OAuth is 2013+
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
        "oauth.vdirs_without_oauth": vdirs_without_oauth(ews, autodiscover, await org(ctx)),
        "oauth.partner_app_linked_account": text(partner[0], "LinkedAccount") if partner else "",
        "oauth.dedicated_app_id": text(evo[0], "ApplicationIdentifier") if evo else "",
        "servers.below_hybrid_app_build": below_hybrid_app_build((await org(ctx)).mailbox_servers),
    }
    if evo:
        facts["oauth.auth_server_name"] = text(evo[0], "Name")
    if not _graph_override(overrides):
        facts["oauth.graph_prereq_missing"] = []  # the Graph flow is off: nothing it needs can be missing
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
        facts["oauth.auth_cert_ok"] = not missing and not expired
        if missing:
            problems.append(f"the auth certificate {thumbprint} is missing on {', '.join(missing)}")
        if expired:
            problems.append(f"the auth certificate {thumbprint} has expired")
    else:
        facts["oauth.auth_cert_ok"] = False
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
