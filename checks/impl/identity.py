"""The pair's directory objects, for topology: whether the on-premises user is synced to Exchange Online,
whether another object shares its address, the cloud user's routing address and UPN, and whether the
on-premises target blocks external Outlook (so Autodiscover hands out no external EWS URL for it)."""

from __future__ import annotations

import asyncio
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext
from checks.errors import BackendError, NotConfigured, NotFound
from checks.ports import Row
from checks.safety import recipient_filter
from checks.values import ev, flag, text
from checks.views import MailboxInfo

__all__ = ["cloud_facts", "onprem_facts", "target_facts"]


def cloud_facts(cloud: MailboxInfo, routing_domain: str) -> tuple[dict[str, Any], list[Evidence]]:
    """The cloud user's address in the tenant's routing domain ("" when it has none) and its UPN."""
    facts: dict[str, Any] = {}
    evidence: list[Evidence] = []
    if cloud.upn:
        facts["pair.cloud_upn"] = cloud.upn
    if routing_domain and cloud.email_addresses:
        proxies = [a.split(":", 1)[1] for a in cloud.email_addresses if a.lower().startswith("smtp:")]
        routing = next((a for a in proxies if a.lower().endswith("@" + routing_domain)), "")
        facts["pair.cloud_routing_address"] = routing
        evidence.append(ev(cloud.address, f"Address in {routing_domain}", routing or None, "EmailAddresses"))
    return facts, evidence


async def _synced(ctx: CheckContext, onprem: MailboxInfo, evidence: list[Evidence]) -> bool | None:
    """Whether Exchange Online knows the on-premises user (its synced mail user); None when it cannot say."""
    try:
        rows = await ctx.exchange_online.run("Get-Recipient", {"Identity": onprem.address})
    except NotFound:
        rows = []
    except NotConfigured:
        return None
    except BackendError as problem:
        evidence.append(
            ev("Exchange Online", f"Get-Recipient {onprem.address}", "could not read", problem.message)
        )
        return None
    kinds = [text(r, "RecipientTypeDetails") for r in rows]
    evidence.append(
        ev("Exchange Online", f"Recipient {onprem.address}", kinds or None, "synced from on-premises")
    )
    return bool(rows)


async def _duplicates(ctx: CheckContext, onprem: MailboxInfo, evidence: list[Evidence]) -> list[str] | None:
    """Distinguished names of other on-premises objects using the user's address as SMTP, SIP or UPN."""
    found_filter = recipient_filter(onprem.address)
    if found_filter is None:
        return None
    try:
        rows: list[Row] = await ctx.exchange.run("Get-Recipient", {"Filter": found_filter})
    except BackendError as problem:
        evidence.append(ev(onprem.address, "Objects using this address", "could not read", problem.message))
        return None
    own = {onprem.dn.lower()} if onprem.dn else set()
    others = [
        r for r in rows if text(r, "DistinguishedName").lower() not in own and not _is_the_user(r, onprem)
    ]
    names = [text(r, "DistinguishedName") or text(r, "Name") for r in others]
    evidence.extend(
        ev(onprem.address, "Also uses this address", n, text(r, "RecipientTypeDetails"))
        for n, r in zip(names, others, strict=True)
    )
    return names


def _is_the_user(row: Row, onprem: MailboxInfo) -> bool:
    # Without a distinguished name to compare, the user's own mailbox is the one whose primary address it is.
    return (
        not onprem.dn
        and text(row, "PrimarySmtpAddress").lower() == onprem.address.lower()
        and text(row, "RecipientTypeDetails") in ("UserMailbox", "")
    )


async def onprem_facts(ctx: CheckContext, onprem: MailboxInfo) -> tuple[dict[str, Any], list[Evidence]]:
    """For the on-premises user of a cross-premises pair: synced to the cloud, and alone with its address."""
    evidence: list[Evidence] = []
    synced, duplicates = await asyncio.gather(
        _synced(ctx, onprem, evidence), _duplicates(ctx, onprem, evidence)
    )
    facts: dict[str, Any] = {}
    if synced is not None:
        facts["pair.onprem_synced"] = synced
    if duplicates is not None:
        facts["pair.onprem_duplicate_objects"] = duplicates
    return facts, evidence


async def target_facts(ctx: CheckContext, target: MailboxInfo) -> tuple[dict[str, Any], list[Evidence]]:
    """Whether the on-premises target blocks external Outlook connectivity."""
    try:
        rows = await ctx.exchange.run("Get-CASMailbox", {"Identity": target.address})
    except BackendError as problem:
        return {}, [ev(target.address, "Get-CASMailbox", "could not read", problem.message)]
    if not rows:
        return {}, []
    row = rows[0]
    external, rpc = flag(row, "MAPIBlockOutlookExternalConnectivity"), flag(row, "MAPIBlockOutlookRpcHttp")
    evidence = [
        ev(target.address, "MAPIBlockOutlookExternalConnectivity", external),
        ev(target.address, "MAPIBlockOutlookRpcHttp", rpc),
    ]
    return {"target.external_connectivity_blocked": bool(external or rpc)}, evidence
