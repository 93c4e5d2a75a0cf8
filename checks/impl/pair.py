"""The pair: hidden sharing subscriptions, the target calendar's permissions, a live free/busy request."""

from __future__ import annotations

import datetime
from typing import Any

from checks.context import CheckContext, Finding
from checks.paste_commands import ORG, PAIR
from checks.ports import Permission
from checks.registry import check
from checks.remedies import PasteCommand, pasted_remedy, with_address
from checks.values import ev
from checks.views import location

SUBSCRIPTION_REMEDY = with_address(
    "# Exchange shows no cmdlet for hidden items; in MFCMAPI open the requester's mailbox, then",
    "# Root - Mailbox > Sharing > Other Actions > Open associated contents table, and look for",
    "# IPM.ExternalSharingSubscription items whose ExternalSharingSharerIdentity is {target}.",
)
PERMISSION_REMEDY = pasted_remedy(
    [
        PasteCommand(
            "Get-MailboxFolderPermission",
            ("User", "AccessRights"),
            per="target",
            value="{address}:\\Calendar",
            table=True,
        ),
        PasteCommand(
            "Get-MailboxFolderPermission",
            ("User", "AccessRights"),
            per="target",
            value="{address}:\\Calendar",
            table=True,
            online=True,
        ),
    ],
    ORG,
    PAIR,
)
FREEBUSY_REMEDY = with_address(
    "# Open Outlook on the web as the requester, new meeting, add {target} and open the Scheduling Assistant;",
    "# or on an Exchange server:",
    "Test-OrganizationRelationship -UserIdentity {requester} -Identity '<relationship name>' | Format-List",
)
PROBE_WINDOW = datetime.timedelta(days=1)


def _no_mailbox(address: str) -> Finding:
    return Finding(
        "skipped",
        f"Not checked: no mailbox or remote mailbox has the address {address}.",
        [ev(address, "Mailbox", None)],
    )


def _pair(ctx: CheckContext) -> tuple[str, str]:
    requester, target = ctx.address("requester"), ctx.address("target")
    assert requester is not None and target is not None  # the catalogue's `needs` guarantees both
    return requester, target


@check("sharing-subscriptions", remedy=SUBSCRIPTION_REMEDY)
async def sharing_subscriptions(ctx: CheckContext) -> Finding:
    requester, target = _pair(ctx)
    where = await location(ctx, requester)
    if where is None:
        return _no_mailbox(requester)
    port = ctx.mailboxes(where)
    subscriptions = await port.sharing_subscriptions(requester)
    evidence = [ev(requester, "Sharing subscription", s.sharer, s.url) for s in subscriptions]
    match = next((s for s in subscriptions if s.sharer.lower() == target.lower()), None)
    if match is None:
        facts: dict[str, Any] = {"sharing.subscription_present": False}
        summary = f"{requester} holds no hidden sharing subscription to {target}'s calendar ({len(subscriptions)} other)."
        return Finding("ok", summary, evidence, facts)
    facts = {
        "sharing.subscription_present": True,
        "sharing.subscription_sharer": match.sharer,
        "sharing.subscription_url": match.url,
        "sharing.subscription_mailbox": requester,
    }
    summary = f"{requester} holds a hidden sharing subscription (IPM.ExternalSharingSubscription) to {target}'s calendar: free/busy needs an explicit permission."
    return Finding("warn", summary, evidence, facts)


def _rights(permissions: list[Permission], user: str) -> str:
    return next((p.access_rights for p in permissions if p.user.lower() == user.lower()), "None")


@check("calendar-permissions", remedy=PERMISSION_REMEDY)
async def calendar_permissions(ctx: CheckContext) -> Finding:
    requester, target = _pair(ctx)
    where = await location(ctx, target)
    if where is None:
        return _no_mailbox(target)
    port = ctx.mailboxes(where)
    permissions = await port.calendar_permissions(target)
    facts: dict[str, Any] = {
        "calendar.explicit_permission": _rights(permissions, requester),
        "calendar.default_permission": _rights(permissions, "Default"),
        "calendar.anonymous_permission": _rights(permissions, "Anonymous"),
    }
    evidence = [ev(f"{target}:\\Calendar", p.user, p.access_rights) for p in permissions]
    explicit, default = facts["calendar.explicit_permission"], facts["calendar.default_permission"]
    if explicit == "None" and default == "None":
        return Finding(
            "fail",
            f"{target}'s calendar gives {requester} nothing: Default is None and there is no explicit permission.",
            evidence,
            facts,
        )
    shown = (
        f"explicit {explicit} for {requester}"
        if explicit != "None"
        else f"no explicit permission for {requester}"
    )
    return Finding("ok", f"{target}'s calendar: Default {default}, {shown}.", evidence, facts)


@check("freebusy-probe", remedy=FREEBUSY_REMEDY)
async def freebusy_probe(ctx: CheckContext) -> Finding:
    requester, target = _pair(ctx)
    where = await location(ctx, requester)
    if where is None:
        return _no_mailbox(requester)
    port = ctx.mailboxes(where)
    start = ctx.now.replace(minute=0, second=0, microsecond=0)
    answer = await port.free_busy(requester, target, start, start + PROBE_WINDOW)
    facts: dict[str, Any] = {"freebusy.ok": answer.ok, "freebusy.protocol": port.protocol}
    how = "EWS GetUserAvailability" if port.protocol == "ews" else "Graph getSchedule"
    if answer.ok:
        return Finding(
            "ok",
            f"{how} as {requester} returns {target}'s free/busy ({answer.slots} busy period(s) in the next day).",
            [ev(target, how, "answered")],
            facts,
        )
    facts["freebusy.error_code"] = answer.error_code
    facts["freebusy.error_message"] = answer.error_message
    evidence = [ev(target, f"{how} as {requester}", answer.error_code, answer.error_message[:300])]
    return Finding("fail", f"{how} as {requester} for {target} fails: {answer.error_code}.", evidence, facts)
