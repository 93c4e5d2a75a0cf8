"""topology: where each user's mailbox lives, and what the target's AD site offers."""

from __future__ import annotations

import asyncio
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext, Finding
from checks.impl.identity import cloud_facts, onprem_facts, target_facts
from checks.impl.sides import routing_domain
from checks.paste_commands import ORG, PAIR, PAIR_IDENTITY
from checks.registry import check
from checks.remedies import pasted_remedy
from checks.values import ev
from checks.views import MailboxInfo, Org, mailbox, org

REMEDY = pasted_remedy(ORG, PAIR, PAIR_IDENTITY)


def _mailbox_facts(role: str, info: MailboxInfo) -> dict[str, Any]:
    facts: dict[str, Any] = {f"{role}.location": info.location}
    if info.display_name:
        facts[f"{role}.name"] = info.display_name
    if info.location == "onprem":
        facts[f"{role}.server"] = info.server
        facts[f"{role}.site"] = info.site
        if role == "target":
            facts["target.database"] = info.database
    return facts


def _where(info: MailboxInfo) -> str:
    if info.location == "online":
        return f"{info.address} is in Exchange Online"
    return f"{info.address} is on {info.server} ({info.database}) in site {info.site}"


def _site_facts(organisation: Org, site: str) -> tuple[dict[str, Any], list[Evidence]]:
    servers = organisation.in_site(site)
    facing = site in organisation.internet_facing_sites
    facts: dict[str, Any] = {
        "target.site.internet_facing": facing,
        "target.site.has_availability_server": bool(servers),
        "target.site.servers": [s.name for s in servers],
    }
    evidence = [
        ev(site, "Internet-facing (a server publishes an ExternalUrl)", facing),
        ev(site, "Mailbox servers (run the Availability service)", [s.name for s in servers]),
    ]
    return facts, evidence


def _outdated(organisation: Org) -> list[str]:
    """Exchange 2013+ servers older than the newest build of their major version (a proxying server
    must not be newer than the one it proxies to)."""
    servers = [s for s in organisation.mailbox_servers if s.modern and s.build]
    newest: dict[tuple[int, ...], tuple[int, ...]] = {}
    for server in servers:
        key = server.build[:2]
        newest[key] = max(newest.get(key, ()), server.build)
    return [s.name for s in servers if s.build < newest[s.build[:2]]]


def _org_facts(organisation: Org) -> dict[str, Any]:
    domains = sorted({s.domain for s in organisation.servers if s.domain}, key=lambda d: (d.count("."), d))
    facts: dict[str, Any] = {
        "sites.internet_facing": sorted(organisation.internet_facing_sites),
        "sites.internal": [s for s in organisation.sites if s not in organisation.internet_facing_sites],
        "servers.internet_facing": [
            s.name for s in organisation.mailbox_servers if s.site in organisation.internet_facing_sites
        ],
        "servers.all": [s.name for s in organisation.mailbox_servers],
        "servers.outdated": _outdated(organisation),
    }
    if domains:
        facts["ad.root_domain"] = domains[0]
    return facts


async def _pair_facts(
    ctx: CheckContext, found: dict[str, MailboxInfo]
) -> tuple[dict[str, Any], list[Evidence]]:
    """Which of the pair is on which side, whether the cloud one routes right, and the pair's directory
    objects (`checks.impl.identity`)."""
    infos = list(found.values())
    onprem = next((i for i in infos if i.location == "onprem"), None)
    cloud = next((i for i in infos if i.location == "online"), None)
    target = found.get("target")
    facts: dict[str, Any] = {}
    evidence: list[Evidence] = []
    jobs = []
    if onprem is not None:
        facts["pair.onprem_mailbox"] = onprem.address
        if cloud is not None:
            jobs.append(onprem_facts(ctx, onprem))
    if target is not None and target.location == "onprem":
        jobs.append(target_facts(ctx, target))
    domain = await routing_domain(ctx) if cloud is not None else ""
    for more, seen in [*await asyncio.gather(*jobs), *([cloud_facts(cloud, domain)] if cloud else [])]:
        facts.update(more)
        evidence.extend(seen)
    if cloud is None:
        return facts, evidence
    facts["pair.cloud_mailbox"] = cloud.address
    facts["pair.cloud_remote_routing_address"] = cloud.routing_address
    if domain:
        alias = cloud.alias or cloud.address.split("@", 1)[0]
        expected = f"{alias}@{domain}"
        facts["pair.cloud_expected_routing_address"] = expected
        facts["pair.cloud_remote_routing_ok"] = cloud.routing_domain == domain
    return facts, evidence


def _identity_problems(facts: dict[str, Any]) -> list[str]:
    problems = []
    if facts.get("pair.cloud_routing_address") == "":
        problems.append(f"{facts['pair.cloud_mailbox']} has no address in the tenant's routing domain")
    if facts.get("pair.onprem_synced") is False:
        problems.append(f"{facts['pair.onprem_mailbox']} has no synced mail user in Exchange Online")
    if facts.get("pair.onprem_duplicate_objects"):
        shown = "; ".join(facts["pair.onprem_duplicate_objects"][:3])
        problems.append(f"other objects use {facts['pair.onprem_mailbox']}'s address ({shown})")
    if facts.get("target.external_connectivity_blocked"):
        problems.append("the target mailbox blocks external Outlook connectivity")
    return problems


@check("topology", remedy=REMEDY)
async def topology(ctx: CheckContext) -> Finding:
    roles = [(role, address) for role in ("requester", "target") if (address := ctx.address(role))]
    # Everything at once: the accepted domains are wanted later, the mailboxes need the servers.
    lookups = asyncio.gather(*(mailbox(ctx, address) for _, address in roles))
    organisation, _, infos = await asyncio.gather(org(ctx), routing_domain(ctx), lookups)
    facts = _org_facts(organisation)
    evidence = [ev(s.name, "Site", s.site, s.fqdn) for s in organisation.servers]
    found: dict[str, MailboxInfo] = {}
    missing: list[str] = []
    for (role, address), info in zip(roles, infos, strict=True):
        if info is None:
            missing.append(address)
            continue
        found[role] = info
        facts.update(_mailbox_facts(role, info))
        evidence.append(ev(info.address, "Location", info.location, _where(info)))
    pair_facts, pair_evidence = await _pair_facts(ctx, found)
    facts.update(pair_facts)
    evidence.extend(pair_evidence)
    if missing:
        summary = f"No mailbox or remote mailbox has the address {', '.join(missing)}."
        return Finding("fail", summary, evidence, facts)
    if facts.get("pair.cloud_remote_routing_ok") is False:
        cloud = facts["pair.cloud_mailbox"]
        summary = f"{cloud}'s RemoteRoutingAddress {facts['pair.cloud_remote_routing_address']} is not in the tenant's routing domain."
        return Finding("fail", summary, evidence, facts)
    problems = _identity_problems(facts)
    if problems:
        return Finding("fail", "Mailboxes: " + "; ".join(problems) + ".", evidence, facts)
    target = found.get("target")
    if target is None or target.location != "onprem":
        where = "; ".join(_where(i) for i in found.values()) or "No pair given"
        return Finding("ok", f"{where}.", evidence, facts)
    site_facts, site_evidence = _site_facts(organisation, target.site)
    facts.update(site_facts)
    evidence.extend(site_evidence)
    if not site_facts["target.site.has_availability_server"]:
        return Finding(
            "fail",
            f"{_where(target)}, a site with no server running the Availability service.",
            evidence,
            facts,
        )
    facing = (
        "an Internet-facing site"
        if site_facts["target.site.internet_facing"]
        else "a site without an Internet-facing server, so requests reach it cross-site"
    )
    return Finding("ok", f"{_where(target)}, {facing}.", evidence, facts)
