"""The two sides of a hybrid pair: which domains each side's connector and relationship must cover."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from checks.api import Evidence
from checks.context import CheckContext
from checks.errors import BackendError, NotConfigured
from checks.ports import Row
from checks.values import ev, flag, strings, text
from checks.views import MailboxInfo, mailbox

__all__ = [
    "CrossPremises",
    "covering",
    "cross_premises",
    "exo_rows",
    "onprem_domains",
    "partner_rows",
    "routing_domain",
]

_CLOUD_SUFFIX = ".mail.onmicrosoft.com"


@dataclass(frozen=True)
class CrossPremises:
    """A pair with one mailbox on each side. On-premises objects must cover `cloud_domain`, online ones
    `onprem_domain`. `requesting` is the requester's side, `serving` the target's."""

    requester: MailboxInfo
    target: MailboxInfo
    onprem_domain: str
    cloud_domain: str

    @property
    def requesting(self) -> str:
        return self.requester.location

    @property
    def serving(self) -> str:
        return self.target.location


async def pair(ctx: CheckContext) -> tuple[MailboxInfo, MailboxInfo] | None:
    requester, target = ctx.address("requester"), ctx.address("target")
    if requester is None or target is None:
        return None
    infos = await asyncio.gather(mailbox(ctx, requester), mailbox(ctx, target))
    if infos[0] is None or infos[1] is None:
        return None
    return infos[0], infos[1]


async def cross_premises(ctx: CheckContext) -> CrossPremises | None:
    """The pair when one mailbox is on-premises and the other online; None otherwise or unknown."""
    found = await pair(ctx)
    if found is None or found[0].location == found[1].location:
        return None
    requester, target = found
    onprem, online = (requester, target) if requester.location == "onprem" else (target, requester)
    cloud = online.routing_domain or await routing_domain(ctx)
    return CrossPremises(requester, target, onprem.domain, cloud)


async def routing_domain(ctx: CheckContext) -> str:
    """The tenant's routing domain (contoso.mail.onmicrosoft.com) from the accepted domains."""
    rows = await ctx.exchange.run("Get-AcceptedDomain")
    names = [text(r, "DomainName").lower() for r in rows]
    return next((n for n in names if n.endswith(_CLOUD_SUFFIX)), "")


async def exo_rows(ctx: CheckContext, cmdlet: str, evidence: list[Evidence]) -> list[Row] | None:
    """An Exchange Online cmdlet's rows, or None (noted in `evidence`) when that side cannot be read."""
    try:
        return await ctx.exchange_online.run(cmdlet)
    except NotConfigured:
        evidence.append(
            ev("Exchange Online", cmdlet, "not read", "no Exchange Online management host is configured")
        )
    except BackendError as problem:
        evidence.append(ev("Exchange Online", cmdlet, "could not read", problem.message))
    return None


def covering(rows: Sequence[Row], domain: str, field: str) -> Row | None:
    """The first enabled row whose `field` list names `domain` (else the first that names it)."""
    named = [r for r in rows if domain.lower() in {d.lower() for d in strings(r, field)}]
    enabled = [r for r in named if flag(r, "Enabled") is not False]
    chosen = enabled or named
    return chosen[0] if chosen else None


async def onprem_domains(ctx: CheckContext) -> list[str]:
    """The on-premises organisation's accepted domains (lower case); none when they cannot be read."""
    try:
        rows = await ctx.exchange.run("Get-AcceptedDomain")
    except BackendError:
        return []
    return [text(r, "DomainName").lower() for r in rows if text(r, "DomainName")]


def _names_partner(domain: str, side: str, pair: CrossPremises, accepted: Sequence[str]) -> bool:
    domain = domain.lower()
    if side == "onprem":  # the tenant: its routing domain or its initial onmicrosoft.com domain
        tenant = pair.cloud_domain.split(".", 1)[0]
        if not tenant:
            return domain.endswith(".onmicrosoft.com")
        return domain in (pair.cloud_domain, f"{tenant}.onmicrosoft.com")
    local = {d for d in accepted if not d.endswith(".onmicrosoft.com")} | {pair.onprem_domain}
    return domain in local


def partner_rows(rows: Sequence[Row], side: str, pair: CrossPremises, accepted: Sequence[str]) -> list[Row]:
    """`side`'s relationships with the other side of this hybrid, whichever of its domains they list (a
    relationship that lacks one domain is still the partner's); `accepted`: the on-premises domains."""
    return [
        r for r in rows if any(_names_partner(d, side, pair, accepted) for d in strings(r, "DomainNames"))
    ]
