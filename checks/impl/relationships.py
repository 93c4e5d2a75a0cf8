"""intra-org-connectors and organization-relationships, on both sides of the hybrid."""

from __future__ import annotations

import asyncio
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.errors import BackendError, CommandFailed
from checks.impl.sides import (
    CrossPremises,
    covering,
    cross_premises,
    exo_rows,
    onprem_domains,
    partner_rows,
)
from checks.paste_commands import ORG, PAIR
from checks.ports import Row
from checks.registry import check
from checks.remedies import PasteCommand, pasted_remedy
from checks.values import ev, flag, strings, text, url_host
from checks.views import vdirs

_IOC = ("Name", "Enabled", "TargetAddressDomains", "DiscoveryEndpoint", "TargetSharingEpr")
_ORGREL = (
    "Name", "Enabled", "DomainNames", "FreeBusyAccessEnabled", "FreeBusyAccessLevel", "FreeBusyAccessScope",
    "TargetApplicationUri", "TargetAutodiscoverEpr", "TargetSharingEpr",
)  # fmt: skip
ORGRELS = PasteCommand("Get-OrganizationRelationship", _ORGREL)
# The members of each relationship's FreeBusyAccessScope group, on both sides.
SCOPE_MEMBERS = (
    PasteCommand(
        "Get-DistributionGroupMember", ("Name", "PrimarySmtpAddress", "EmailAddresses"), per="orgrel-scope"
    ),
    PasteCommand(
        "Get-DistributionGroupMember",
        ("Name", "PrimarySmtpAddress", "EmailAddresses"),
        per="orgrel-scope",
        online=True,
    ),
)
ONLINE_ORGRELS = PasteCommand("Get-OrganizationRelationship", _ORGREL, online=True)
IOCS = PasteCommand("Get-IntraOrganizationConnector", _IOC)
ONLINE_IOCS = PasteCommand("Get-IntraOrganizationConnector", _IOC, online=True)
# With a connector off, the relationships tell whether DAuth carries free/busy instead.
IOC_REMEDY = pasted_remedy(
    [IOCS, ONLINE_IOCS, ORGRELS, ONLINE_ORGRELS],
    ORG,
    PAIR,
)
ORGREL_REMEDY = pasted_remedy(
    [
        ORGRELS,
        ONLINE_ORGRELS,
        IOCS,
        ONLINE_IOCS,
        *SCOPE_MEMBERS,
        PasteCommand(
            "Get-FederationInformation",
            ("DomainNames", "TargetApplicationUri", "TargetAutodiscoverEpr", "TokenIssuerUris"),
            (("BypassAdditionalDomainValidation", True),),
            per="routing-domain",
        ),
    ],
    ORG,
    PAIR,
    notes=[
        "# and, to test a relationship itself (its output is read as well):",
        "Test-OrganizationRelationship -Identity '<relationship name>' -UserIdentity <on-premises mailbox> | Format-List",
    ],
)

_SIDE_NAME = {"onprem": "on-premises", "online": "Exchange Online"}


def _side_rows(side: str, onprem: list[Row], online: list[Row] | None) -> list[Row] | None:
    return onprem if side == "onprem" else online


def _needed(pair: CrossPremises, side: str) -> str:
    """The domain `side`'s objects must name: the other side's domain."""
    return pair.cloud_domain if side == "onprem" else pair.onprem_domain


@check("intra-org-connectors", remedy=IOC_REMEDY)
async def intra_org_connectors(ctx: CheckContext) -> Finding:
    evidence: list[Evidence] = []
    onprem, online, pair = await asyncio.gather(
        ctx.exchange.run("Get-IntraOrganizationConnector"),
        exo_rows(ctx, "Get-IntraOrganizationConnector", evidence),
        cross_premises(ctx),
    )
    for side, listed in (("onprem", onprem), ("online", online or [])):
        evidence.extend(
            ev(
                _SIDE_NAME[side],
                f"IOC {text(r, 'Name')}",
                strings(r, "TargetAddressDomains"),
                f"Enabled: {flag(r, 'Enabled')}",
            )
            for r in listed
        )
    if pair is None:
        enabled = any(flag(r, "Enabled") is not False for r in onprem)
        facts: dict[str, Any] = {"oauth.in_use": enabled}
        state = "enabled" if enabled else "absent or disabled, so free/busy uses DAuth"
        return Finding(
            "ok",
            f"On-premises intra-organisation connector {state}; no cross-premises pair to test.",
            evidence,
            facts,
        )
    side = pair.requesting
    rows = _side_rows(side, onprem, online)
    if rows is None:
        return Finding("skipped", f"The {_SIDE_NAME[side]} side's connector could not be read.", evidence)
    domain = _needed(pair, side)
    connector = covering(rows, domain, "TargetAddressDomains")
    facts = {"ioc.side": side, "oauth.in_use": any(flag(r, "Enabled") is not False for r in rows)}
    if not rows:
        return await _without_connector(ctx, pair, None, evidence, facts)
    chosen = connector or rows[0]
    facts.update({"ioc.name": text(chosen, "Name"), "ioc.enabled": flag(chosen, "Enabled") is not False})
    facts["ioc.missing_domains"] = [] if connector is not None else [domain]
    facts.update(await _discovery_facts(ctx, side, chosen, pair))
    if not facts["ioc.enabled"]:
        return await _without_connector(ctx, pair, facts["ioc.name"], evidence, facts)
    if connector is None:
        summary = f"The {_SIDE_NAME[side]} intra-organisation connector '{facts['ioc.name']}' does not list {domain} in TargetAddressDomains."
        return Finding("fail", summary, evidence, facts)
    if not facts["ioc.discovery_endpoint_ok"]:
        summary = f"The {_SIDE_NAME[side]} intra-organisation connector's DiscoveryEndpoint {facts['ioc.discovery_endpoint']} is not {facts['ioc.expected_discovery_endpoint']}."
        return Finding("fail", summary, evidence, facts)
    return Finding(
        "ok", f"The {_SIDE_NAME[side]} intra-organisation connector covers {domain}.", evidence, facts
    )


async def _dauth_relationship(ctx: CheckContext, pair: CrossPremises, evidence: list[Evidence]) -> Row | None:
    """The requesting side's enabled organisation relationship with the partner (DAuth's path); raises
    BackendError when that side's relationships cannot be read."""
    side = pair.requesting
    if side == "onprem":
        rows = await ctx.exchange.run("Get-OrganizationRelationship")
    else:
        rows = await ctx.exchange_online.run("Get-OrganizationRelationship")
    partners = partner_rows(rows, side, pair, await onprem_domains(ctx))
    enabled = next((r for r in partners if flag(r, "Enabled") is not False), None)
    evidence.extend(
        ev(_SIDE_NAME[side], f"Relationship {text(r, 'Name')}", strings(r, "DomainNames"),
           f"Enabled: {flag(r, 'Enabled')}")
        for r in partners
    )  # fmt: skip
    return enabled


async def _without_connector(
    ctx: CheckContext, pair: CrossPremises, name: str | None, evidence: list[Evidence], facts: dict[str, Any]
) -> Finding:
    """No enabled connector on the requesting side: normal in a classic (DAuth) hybrid, where an enabled
    organisation relationship carries free/busy; a problem only when nothing does."""
    where = _SIDE_NAME[pair.requesting]
    state = (
        f"The {where} intra-organisation connector '{name}' is disabled"
        if name
        else f"No {where} intra-organisation connector exists"
    )
    try:
        relationship = await _dauth_relationship(ctx, pair, evidence)
    except BackendError as problem:
        evidence.append(ev(where, "Get-OrganizationRelationship", "could not read", problem.message))
        summary = (
            f"{state}; whether an organisation relationship carries free/busy instead could not be read."
        )
        return Finding("warn", summary, evidence, facts)
    facts["orgrel.dauth_path"] = relationship is not None
    if relationship is None:
        summary = f"{state}, and no enabled {where} organisation relationship with the other side carries free/busy (DAuth) either."
        return Finding("fail", summary, evidence, facts)
    summary = f"{state}: free/busy uses DAuth through the organisation relationship '{text(relationship, 'Name')}', as a classic hybrid does."
    return Finding("ok", summary, evidence, facts)


CLOUD_DISCOVERY = "https://autodiscover-s.outlook.com/autodiscover/autodiscover.svc"


async def _discovery_facts(
    ctx: CheckContext, side: str, connector: Row, pair: CrossPremises
) -> dict[str, Any]:
    """Whether the connector's DiscoveryEndpoint is the Autodiscover the other side serves."""
    actual = text(connector, "DiscoveryEndpoint")
    if side == "onprem":
        accepted = [CLOUD_DISCOVERY]
    else:
        published = [
            url_host(text(r, "ExternalUrl")) for r in await vdirs(ctx, "ews") if text(r, "ExternalUrl")
        ]
        hosts = [*dict.fromkeys(published), f"autodiscover.{pair.onprem_domain}"]
        accepted = [f"https://{h}/autodiscover/autodiscover.svc" for h in hosts]
    ok = actual.rstrip("/").lower() in {a.lower() for a in accepted}
    return {
        "ioc.discovery_endpoint": actual,
        "ioc.expected_discovery_endpoint": accepted[0],
        "ioc.discovery_endpoint_ok": ok,
    }


def _uri_mismatch(relationship: Row, federation: list[Row]) -> list[str]:
    if not federation:
        return []
    info = federation[0]
    return [
        name
        for name in ("TargetApplicationUri", "TargetAutodiscoverEpr")
        if text(info, name)
        and text(relationship, name).rstrip("/").lower() != text(info, name).rstrip("/").lower()
    ]


async def _federation_information(ctx: CheckContext, domain: str, evidence: list[Evidence]) -> list[Row]:
    try:
        return await ctx.exchange.run(
            "Get-FederationInformation", {"DomainName": domain, "BypassAdditionalDomainValidation": True}
        )
    except CommandFailed as failed:
        evidence.append(ev("", f"Get-FederationInformation {domain}", "failed", failed.message))
        return []


async def _sharing_epr_ok(ctx: CheckContext, row: Row, evidence: list[Evidence]) -> bool | None:
    """An empty TargetSharingEpr (Autodiscover finds the EWS URL) is fine; a set one must answer."""
    url = text(row, "TargetSharingEpr")
    if not url:
        return True
    try:
        answer = await ctx.probe.probe(url)
    except BackendError as problem:
        evidence.append(ev("", f"TargetSharingEpr {url}", "not probed", problem.message))
        return None
    evidence.append(ev("", f"TargetSharingEpr {url}", answer.status or answer.error))
    return answer.tls_ok and answer.status is not None


async def _target_in_scope(
    ctx: CheckContext, pair: CrossPremises, row: Row | None, evidence: list[Evidence]
) -> bool | None:
    """Whether the target is a member of the serving relationship's FreeBusyAccessScope group (None: no
    scope, or its members could not be read)."""
    scope = text(row, "FreeBusyAccessScope") if row is not None else ""
    if not scope:
        return None
    port = ctx.exchange if pair.serving == "onprem" else ctx.exchange_online
    try:
        members = await port.run("Get-DistributionGroupMember", {"Identity": scope})
    except BackendError as problem:
        evidence.append(
            ev(_SIDE_NAME[pair.serving], f"Members of {scope}", "could not read", problem.message)
        )
        return None
    target = pair.target.address.lower()
    addresses = {text(m, "PrimarySmtpAddress").lower() for m in members} | {
        a.split(":", 1)[-1].lower() for m in members for a in strings(m, "EmailAddresses")
    }
    inside = target in addresses
    evidence.append(ev(_SIDE_NAME[pair.serving], f"FreeBusyAccessScope {scope}", f"{len(members)} member(s)",
                       f"{pair.target.address} {'is' if inside else 'is not'} a member"))  # fmt: skip
    return inside


def _relationship_problems(side: str, row: Row | None, domain: str) -> list[str]:
    where = _SIDE_NAME[side]
    if row is None:
        return [f"no {where} organisation relationship covers {domain}"]
    problems = []
    name = text(row, "Name")
    if flag(row, "Enabled") is False:
        problems.append(f"the {where} relationship '{name}' is disabled")
    if flag(row, "FreeBusyAccessEnabled") is False:
        problems.append(f"the {where} relationship '{name}' has FreeBusyAccessEnabled False")
    elif text(row, "FreeBusyAccessLevel").lower() == "none":
        problems.append(f"the {where} relationship '{name}' has FreeBusyAccessLevel None")
    return problems


def _relationship_facts(side: str, row: Row | None, domain: str, present: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "orgrel.side": side,
        "orgrel.missing_domains": [] if row is not None else [domain],
        "orgrel.present": present,
        "orgrel.partner_domain": domain,
    }
    if row is not None:
        level = text(row, "FreeBusyAccessLevel")
        enabled = flag(row, "Enabled") is not False and flag(row, "FreeBusyAccessEnabled") is not False
        facts["orgrel.freebusy_granted"] = enabled and level.lower() in ("availabilityonly", "limiteddetails")
        facts["orgrel.freebusy_scope"] = text(row, "FreeBusyAccessScope")
        facts.update(
            {
                "orgrel.name": text(row, "Name"),
                "orgrel.enabled": flag(row, "Enabled") is not False,
                "orgrel.freebusy_enabled": flag(row, "FreeBusyAccessEnabled") is not False,
                "orgrel.freebusy_level": text(row, "FreeBusyAccessLevel") or "None",
            }
        )
    return facts


async def _connectors(ctx: CheckContext, pair: CrossPremises) -> dict[str, list[Row]]:
    """Each side's intra-organisation connectors, where they can be read: an enabled one on the requesting
    side means OAuth carries free/busy, and any connector means the hybrid is more than minimal."""
    found: dict[str, list[Row]] = {}
    for side, port in (("onprem", ctx.exchange), ("online", ctx.exchange_online)):
        if side in (pair.requesting, pair.serving):
            try:
                found[side] = await port.run("Get-IntraOrganizationConnector")
            except BackendError:
                continue  # intra-org-connectors says why
    return found


@check("organization-relationships", remedy=ORGREL_REMEDY)
async def organization_relationships(ctx: CheckContext) -> Finding:
    evidence: list[Evidence] = []
    onprem, online, pair = await asyncio.gather(
        ctx.exchange.run("Get-OrganizationRelationship"),
        exo_rows(ctx, "Get-OrganizationRelationship", evidence),
        cross_premises(ctx),
    )
    for side, listed in (("onprem", onprem), ("online", online or [])):
        evidence.extend(
            ev(
                _SIDE_NAME[side],
                f"Relationship {text(r, 'Name')}",
                strings(r, "DomainNames"),
                f"Enabled: {flag(r, 'Enabled')}, FreeBusyAccessEnabled: {flag(r, 'FreeBusyAccessEnabled')}, FreeBusyAccessLevel: {text(r, 'FreeBusyAccessLevel')}",
            )
            for r in listed
        )
    if pair is None:
        return Finding(
            "skipped", "No cross-premises pair: organisation relationships do not serve it.", evidence
        )
    federation = await _federation_information(ctx, pair.cloud_domain, evidence) if pair.cloud_domain else []
    # The serving side first: its relationship decides what the requester may see.
    findings: list[tuple[str, Row | None, list[str]]] = []
    for side in dict.fromkeys((pair.serving, pair.requesting)):
        rows = _side_rows(side, onprem, online)
        if rows is None:
            continue
        row = covering(rows, _needed(pair, side), "DomainNames")
        findings.append((side, row, _relationship_problems(side, row, _needed(pair, side))))
    if not findings:
        return Finding("skipped", "Neither side's organisation relationships could be read.", evidence)
    side, row, _ = next((f for f in findings if f[2]), findings[0])
    connectors = await _connectors(ctx, pair)
    partners = partner_rows(_side_rows(side, onprem, online) or [], side, pair, await onprem_domains(ctx))
    facts = _relationship_facts(side, row, _needed(pair, side), bool(partners or connectors.get(side)))
    if row is not None and (epr_ok := await _sharing_epr_ok(ctx, row, evidence)) is not None:
        facts["orgrel.target_sharing_epr_ok"] = epr_ok
    serving = next((f[1] for f in findings if f[0] == pair.serving), None)
    in_scope = await _target_in_scope(ctx, pair, serving, evidence)
    if in_scope is not None:
        facts["orgrel.target_in_scope"] = in_scope
    onprem_row = covering(onprem, pair.cloud_domain, "DomainNames")
    facts["orgrel.uri_mismatch"] = _uri_mismatch(onprem_row, federation) if onprem_row is not None else []
    evidence.extend(
        ev("", f"Get-FederationInformation {pair.cloud_domain} {name}", text(federation[0], name))
        for name in facts["orgrel.uri_mismatch"]
    )
    problems = [p for f in findings for p in f[2]]
    if in_scope is False:
        problems.append(
            f"{pair.target.address} is not in the {_SIDE_NAME[pair.serving]} relationship's FreeBusyAccessScope group"
        )
    if facts["orgrel.uri_mismatch"]:
        problems.append(
            "the on-premises relationship's "
            + ", ".join(facts["orgrel.uri_mismatch"])
            + " differ from Get-FederationInformation"
        )
    oauth = next((r for r in connectors.get(pair.requesting) or [] if flag(r, "Enabled") is not False), None)
    if problems and oauth is not None:
        summary = (
            f"Free/busy for this pair uses OAuth (the {_SIDE_NAME[pair.requesting]} intra-organisation connector "
            f"'{text(oauth, 'Name')}' is enabled), so the organisation relationships are not used: "
        )
        return Finding("ok", summary + "; ".join(problems) + ".", evidence, facts)
    if problems:
        return Finding("fail", "Organisation relationships: " + "; ".join(problems) + ".", evidence, facts)
    return Finding(
        "ok",
        f"Organisation relationships cover {pair.cloud_domain} and {pair.onprem_domain} with free/busy enabled.",
        evidence,
        facts,
    )
