"""What the forest that answers availability requests needs, for availability-address-space: the accounts
its availability configuration trusts, the Autodiscover anchor address, and an EWS policy that lets the
Availability service in."""

from __future__ import annotations

import fnmatch
from typing import Any

from checks.api import Evidence
from checks.context import CheckContext
from checks.errors import BackendError, NotFound
from checks.ports import Row
from checks.values import ev, flag, strings, text
from checks.views import MailboxInfo

__all__ = ["ANCHOR", "AVAILABILITY_AGENT", "answering_facts", "asking_facts", "ews_policy_blocks"]

# The Availability service anchors DNS-located Autodiscover on this address in the other forest's domain.
ANCHOR = "01B62C6D-4324-448f-9884-5FEC6D18A7E2"
# The user agent cross-forest availability requests arrive with (the build varies).
AVAILABILITY_AGENT = "ASProxy/CrossForest/EmailDomain//15.02.0000.000"


def ews_policy_blocks(config: Row) -> bool:
    """Whether Set-OrganizationConfig's EWS settings refuse the Availability service's requests."""
    if flag(config, "EwsEnabled") is False:
        return True
    policy = text(config, "EwsApplicationAccessPolicy").lower()
    agent = AVAILABILITY_AGENT.lower()

    def listed(name: str) -> bool:
        return any(fnmatch.fnmatchcase(agent, pattern.lower()) for pattern in strings(config, name))

    if policy == "enforceallowlist":
        return not listed("EwsAllowList")
    if policy == "enforceblocklist":
        return listed("EwsBlockList")
    return False


async def _anchor_missing(ctx: CheckContext, domain: str, evidence: list[Evidence]) -> bool | None:
    address = f"{ANCHOR}@{domain}"
    try:
        rows = await ctx.exchange.run("Get-Recipient", {"Identity": address})
    except NotFound:
        rows = []
    except BackendError as problem:
        evidence.append(ev(domain, f"Recipient {address}", "could not read", problem.message))
        return None
    evidence.append(
        ev(domain, f"Recipient {address}", [text(r, "Name") for r in rows] or None, "Autodiscover anchor")
    )
    return not rows


async def answering_facts(
    ctx: CheckContext, target: MailboxInfo, requester: str | None, external_requester: bool
) -> tuple[dict[str, Any], list[Evidence]]:
    """For a target in this organisation (this forest answers): who it trusts, its EWS policy and, when
    another forest asks, the anchor address and the account that forest's servers present."""
    evidence: list[Evidence] = []
    facts: dict[str, Any] = {}
    port = ctx.exchange if target.location == "onprem" else ctx.exchange_online
    try:
        config = await port.run("Get-OrganizationConfig")
    except BackendError as problem:
        evidence.append(ev("", "Get-OrganizationConfig", "could not read", problem.message))
        config = None
    if config:
        facts["ews.availability_blocked_by_policy"] = ews_policy_blocks(config[0])
        evidence.append(
            ev("", "EwsApplicationAccessPolicy", text(config[0], "EwsApplicationAccessPolicy") or None,
               f"EwsEnabled: {flag(config[0], 'EwsEnabled')}")
        )  # fmt: skip
    if target.location != "onprem":
        return facts, evidence
    rows = await ctx.exchange.run("Get-AvailabilityConfig")
    accounts = [a for r in rows for a in (text(r, "PerUserAccount"), text(r, "OrgWideAccount")) if a]
    facts["availability_config.accounts"] = accounts
    evidence.append(ev("", "Get-AvailabilityConfig PerUserAccount / OrgWideAccount", accounts or None))
    if external_requester and requester:
        forest = requester.rsplit("@", 1)[1].lower()
        # With a forest trust the other forest's servers ask as themselves: its Exchange Servers group.
        facts["availability_config.remote_account"] = f"{forest.split('.', 1)[0].upper()}\\Exchange Servers"
        facts["autodiscover.anchor_domain"] = target.domain
        missing = await _anchor_missing(ctx, target.domain, evidence)
        if missing is not None:
            facts["autodiscover.anchor_address_missing"] = missing
    return facts, evidence


def asking_facts(spaces: list[Row], target: str) -> dict[str, Any]:
    """For a target in another forest: the domain whose Autodiscover this forest finds through DNS (its
    address space names no Autodiscover endpoint), which is where the anchor address must exist."""
    domain = target.rsplit("@", 1)[1].lower()
    space = next((s for s in spaces if text(s, "ForestName").lower() == domain), None)
    if (
        space is None
        or text(space, "TargetAutodiscoverEpr")
        or text(space, "AccessMethod").lower() == "internalproxy"
    ):
        return {}
    return {"autodiscover.anchor_domain": domain}
