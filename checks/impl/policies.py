"""sharing-policy, availability-address-space and exchange-online-settings."""

from __future__ import annotations

import asyncio
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.errors import BackendError, NotFound
from checks.impl.availability import ANCHOR, answering_facts, asking_facts
from checks.impl.oauth import EXCHANGE_ONLINE_APP_ID
from checks.impl.relationships import ORGRELS
from checks.impl.sides import exo_rows, pair
from checks.paste_commands import AUTH_SERVERS, ORG, PAIR
from checks.ports import Row
from checks.registry import check
from checks.remedies import GraphCommand, PasteCommand, pasted_remedy
from checks.values import ev, flag, is_ip_host, strings, text, url_scheme
from checks.views import mailbox, org, vdirs

SHARING_REMEDY = pasted_remedy(
    [PasteCommand("Get-SharingPolicy", ("Name", "Default", "Enabled", "Domains")), ORGRELS], ORG, PAIR
)
_EWS_POLICY = (
    "Name",
    "EwsEnabled",
    "EwsApplicationAccessPolicy",
    "EwsAllowList",
    "EwsBlockList",
    "EwsAllowedAppIDs",
)
ONLINE_CONFIG = PasteCommand("Get-OrganizationConfig", _EWS_POLICY, online=True)
_SPACE = ("ForestName", "AccessMethod", "ProxyUrl", "TargetAutodiscoverEpr", "UseServiceAccount", "UserName")
SPACE_REMEDY = pasted_remedy(
    [
        PasteCommand("Get-AvailabilityAddressSpace", _SPACE),
        PasteCommand("Get-AvailabilityConfig", ("PerUserAccount", "OrgWideAccount")),
        PasteCommand("Get-OrganizationConfig", _EWS_POLICY),
        PasteCommand(
            "Get-Recipient", ("Name", "PrimarySmtpAddress"), per="target", value=f"{ANCHOR}@{{domain}}"
        ),
        ONLINE_CONFIG,
    ],
    ORG,
    PAIR,
)
# Every service principal that accepts certificates, with their thumbprints: the shared Exchange Online app
# and the dedicated hybrid app among them, whichever Get-AuthServer names.
KEY_CREDENTIALS = GraphCommand(
    "Get-MgServicePrincipal",
    "Get-MgServicePrincipal -All -Property AppId,DisplayName,KeyCredentials | Where-Object { $_.KeyCredentials } | "
    "ForEach-Object { $sp = $_; $sp.KeyCredentials | ForEach-Object { [pscustomobject]@{ AppId = $sp.AppId; "
    "DisplayName = $sp.DisplayName; KeyId = $_.KeyId; EndDateTime = $_.EndDateTime; Thumbprint = "
    "[BitConverter]::ToString($_.CustomKeyIdentifier) -replace '-' } } } | Format-List AppId,DisplayName,KeyId,"
    "EndDateTime,Thumbprint",
)
EXO_REMEDY = pasted_remedy(
    [
        ONLINE_CONFIG,
        PasteCommand("Get-FederationTrust", ("Name", "ApplicationIdentifier", "ApplicationUri"), online=True),
        PasteCommand("Get-AcceptedDomain", ("DomainName", "DomainType", "InitialDomain"), online=True),
        AUTH_SERVERS,
        PasteCommand("Get-AuthConfig", ("CurrentCertificateThumbprint", "PreviousCertificateThumbprint")),
        KEY_CREDENTIALS,
    ]
)


def _shares_free_busy(policy: Row, domain: str) -> bool:
    for entry in strings(policy, "Domains"):
        name, _, actions = entry.partition(":")
        if name.strip().lower() in ("*", domain.lower()) and "calendarsharingfreebusy" in actions.lower():
            return True
    return False


async def _partner_domains(ctx: CheckContext) -> list[str]:
    """Domains outside this organisation that free/busy is shared with: relationships' and an external requester's."""
    relationships = await ctx.exchange.run("Get-OrganizationRelationship")
    domains = {d.lower() for r in relationships for d in strings(r, "DomainNames")}
    requester = ctx.address("requester")
    if requester is not None and await mailbox(ctx, requester) is None:
        domains.add(requester.rsplit("@", 1)[1].lower())
    return sorted(domains)


@check("sharing-policy", remedy=SHARING_REMEDY)
async def sharing_policy(ctx: CheckContext) -> Finding:
    policies, partners = await asyncio.gather(ctx.exchange.run("Get-SharingPolicy"), _partner_domains(ctx))
    default = next((p for p in policies if flag(p, "Default")), policies[0] if policies else None)
    if default is None:
        facts: dict[str, Any] = {"sharing_policy.missing_domains": partners}
        return Finding(
            "warn",
            "There is no sharing policy, so users cannot share their calendars outside the organisation.",
            facts=facts,
        )
    evidence = [
        ev(
            "",
            f"Sharing policy {text(default, 'Name')} Domains",
            strings(default, "Domains"),
            f"Enabled: {flag(default, 'Enabled')}",
        )
    ]
    enabled = flag(default, "Enabled") is not False
    missing = [d for d in partners if not enabled or not _shares_free_busy(default, d)]
    facts = {"sharing_policy.missing_domains": missing, "sharing_policy.name": text(default, "Name")}
    if missing:
        return Finding(
            "warn",
            f"The default sharing policy does not share free/busy with {', '.join(missing)}.",
            evidence,
            facts,
        )
    return Finding(
        "ok", "The default sharing policy shares free/busy with every partner domain.", evidence, facts
    )


def _space_problem(space: Row, served: set[str]) -> str:
    url = text(space, "ProxyUrl")
    method = text(space, "AccessMethod")
    if method.lower() != "internalproxy" and not url:
        return ""
    if not url:
        return "has no ProxyUrl"
    if url_scheme(url) != "https":
        return f"ProxyUrl {url} is not https"
    if is_ip_host(url):
        return f"ProxyUrl {url} uses an IP address"
    if method.lower() == "internalproxy" and url.rstrip("/").lower() not in served:
        return f"ProxyUrl {url} is not an EWS URL this organisation serves"
    return ""


@check("availability-address-space", remedy=SPACE_REMEDY)
async def availability_address_space(ctx: CheckContext) -> Finding:
    spaces, ews, organisation, found = await asyncio.gather(
        ctx.exchange.run("Get-AvailabilityAddressSpace"), vdirs(ctx, "ews"), org(ctx), pair(ctx)
    )
    served = {
        text(r, n).rstrip("/").lower() for r in ews for n in ("InternalUrl", "ExternalUrl") if text(r, n)
    }
    facing = [
        r
        for r in ews
        if text(r, "Server").lower()
        in {
            s.name.lower()
            for s in organisation.mailbox_servers
            if s.site in organisation.internet_facing_sites
        }
    ]
    expected = text((facing or ews or [{}])[0], "InternalUrl")
    evidence: list[Evidence] = []
    mismatch: list[str] = []
    for space in spaces:
        problem = _space_problem(space, served)
        forest = text(space, "ForestName")
        evidence.append(
            ev(
                forest,
                "AccessMethod / ProxyUrl",
                f"{text(space, 'AccessMethod')} {text(space, 'ProxyUrl')}".strip(),
                problem,
            )
        )
        if problem:
            mismatch.append(forest)
    facts: dict[str, Any] = {"availability_space.mismatch": mismatch}
    target_domains = {i.domain for i in found or ()} | {
        i.routing_domain for i in found or () if i.routing_domain
    }
    relevant = next((s for s in spaces if text(s, "ForestName").lower() in target_domains), None)
    relevant = relevant or next((s for s in spaces if text(s, "ForestName") in mismatch), None)
    if relevant is not None:
        facts["availability_space.forest"] = text(relevant, "ForestName")
        if text(relevant, "ProxyUrl"):
            facts["availability_space.proxy_url"] = text(relevant, "ProxyUrl")
        if expected and text(relevant, "AccessMethod").lower() == "internalproxy":
            facts["availability_space.expected_url"] = expected
    more, more_evidence = await _forest_facts(ctx, spaces)
    facts.update(more)
    problems = [e.note for e in evidence if e.note]
    problems = (
        [f"Availability address space for {', '.join(mismatch)}: " + "; ".join(problems)] if mismatch else []
    )
    evidence.extend(more_evidence)
    if more.get("ews.availability_blocked_by_policy"):
        problems.append("the EWS application policy refuses the Availability service (ASProxy)")
    if more.get("autodiscover.anchor_address_missing"):
        anchor = f"{ANCHOR}@{more['autodiscover.anchor_domain']}"
        problems.append(f"no recipient holds the Autodiscover anchor address {anchor}")
    if problems:
        return Finding("fail", "; ".join(problems) + ".", evidence, facts)
    if not spaces:
        return Finding(
            "ok",
            "No availability address spaces are defined (none is needed unless another forest is reached through one).",
            evidence,
            facts,
        )
    return Finding("ok", "Every availability address space points at a valid https EWS URL.", evidence, facts)


async def _forest_facts(ctx: CheckContext, spaces: list[Row]) -> tuple[dict[str, Any], list[Evidence]]:
    """What the forest answering the pair's availability requests needs (`checks.impl.availability`)."""
    requester, target = ctx.address("requester"), ctx.address("target")
    if target is None:
        return {}, []
    target_info = await mailbox(ctx, target)
    if target_info is None:
        return asking_facts(spaces, target), []
    external = requester is not None and await mailbox(ctx, requester) is None
    return await answering_facts(ctx, target_info, requester, external)


async def _hybrid_app_allowed(
    ctx: CheckContext, config: Row, enabled: bool | None, evidence: list[Evidence]
) -> bool | None:
    """Whether Exchange Online takes EWS calls from the app on-premises Exchange signs in as."""
    if enabled is False:
        return False
    allowed = [a.lower() for a in strings(config, "EwsAllowedAppIDs")]
    if not allowed:
        return True
    try:
        servers = await ctx.exchange.run("Get-AuthServer")
    except BackendError:
        return None
    app = next(
        (
            text(s, "ApplicationIdentifier")
            for s in servers
            if text(s, "Type").lower() == "azuread" and text(s, "ApplicationIdentifier")
        ),
        EXCHANGE_ONLINE_APP_ID,
    )
    evidence.append(ev("Exchange Online", "EwsAllowedAppIDs", allowed, f"hybrid app {app}"))
    return app.lower() in allowed


async def _auth_cert_in_entra(ctx: CheckContext, evidence: list[Evidence]) -> bool | None:
    """Whether Entra ID lets the app on-premises Exchange signs in as (the dedicated hybrid app, else the
    shared Exchange Online app) present the current auth certificate; None when it cannot be read."""
    try:
        config, servers = await asyncio.gather(
            ctx.exchange.run("Get-AuthConfig"), ctx.exchange.run("Get-AuthServer")
        )
    except BackendError:
        return None  # oauth-configuration says why
    thumbprint = text(config[0], "CurrentCertificateThumbprint").upper() if config else ""
    if not thumbprint:
        return None
    app = next(
        (text(s, "ApplicationIdentifier") for s in servers
         if text(s, "Type").lower() == "azuread" and text(s, "ApplicationIdentifier")),
        EXCHANGE_ONLINE_APP_ID,
    )  # fmt: skip
    try:
        keys = await ctx.directory.key_credentials(app)
    except NotFound:
        keys = []
    except BackendError as problem:
        evidence.append(
            ev("Microsoft Entra ID", f"Certificates of app {app}", "could not read", problem.message)
        )
        return None
    inside = thumbprint in {k.thumbprint.upper() for k in keys}
    evidence.append(ev("Microsoft Entra ID", f"Certificates of app {app}", [k.thumbprint for k in keys] or None,
                       f"auth certificate {thumbprint} {'listed' if inside else 'not listed'}"))  # fmt: skip
    return inside


# Exchange Online's federation trust: 260563 is the current Microsoft Federation Gateway application.
CURRENT_TRUST_APP, OUTDATED_TRUST_APP = "260563", "292841"


@check("exchange-online-settings", remedy=EXO_REMEDY)
async def exchange_online_settings(ctx: CheckContext) -> Finding:
    config = await ctx.exchange_online.run("Get-OrganizationConfig")
    evidence: list[Evidence] = []
    domains = await exo_rows(ctx, "Get-AcceptedDomain", evidence) or []
    row = config[0] if config else {}
    initial = next((text(d, "DomainName") for d in domains if flag(d, "InitialDomain")), "") or text(
        row, "Name"
    )
    facts: dict[str, Any] = {}
    if initial:
        facts["exo.tenant"] = initial
    enabled = flag(row, "EwsEnabled")
    evidence.append(ev(initial or "Exchange Online", "EwsEnabled", row.get("EwsEnabled")))
    trusts, in_entra = await asyncio.gather(
        exo_rows(ctx, "Get-FederationTrust", evidence), _auth_cert_in_entra(ctx, evidence)
    )
    trusts = trusts or []
    if in_entra is not None:
        facts["oauth.auth_cert_in_entra"] = in_entra
    trust_app = text(trusts[0], "ApplicationIdentifier") if trusts else ""
    if trust_app:
        evidence.append(ev(initial or "Exchange Online", "Federation trust ApplicationIdentifier", trust_app))
    app_allowed = await _hybrid_app_allowed(ctx, row, enabled, evidence)
    if app_allowed is not None:
        facts["exo.hybrid_app_ews_allowed"] = app_allowed
    if trust_app:
        facts["exo.fedtrust_application_id"] = trust_app
    if enabled is not None:
        facts["exo.ews_enabled"] = enabled
    problems = []
    if enabled is False:
        problems.append(
            "EWS is disabled in Exchange Online (EwsEnabled False): on-premises users cannot read cloud free/busy"
        )
    if in_entra is False:
        problems.append(
            "Entra ID does not hold the current auth certificate for the app on-premises Exchange signs in as, "
            "so OAuth tokens from on-premises are refused"
        )
    if trust_app == OUTDATED_TRUST_APP:
        problems.append(
            f"Exchange Online's federation trust has the outdated ApplicationIdentifier {trust_app} (current: {CURRENT_TRUST_APP})"
        )
    if problems:
        return Finding("fail", "; ".join(problems) + ".", evidence, facts)
    if enabled is None:
        return Finding(
            "warn",
            "EwsEnabled is not set in Exchange Online; tenants that have not allowed EWS have it blocked.",
            evidence,
            facts,
        )
    return Finding("ok", f"Exchange Online ({initial or 'tenant'}) allows EWS.", evidence, facts)
