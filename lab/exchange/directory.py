"""Directory and organisation cmdlets the lab answers: recipients (by identity or OPATH filter), CAS
mailbox settings, group members, the availability configuration, the organisation's EWS policy, server
component states and, in Exchange Online, the tenant's federation trust.

Exchange resolves `-Identity` for a recipient by address, alias, name or UPN; an identity that matches
several objects is an error of its own (ManagementObjectAmbiguousException), which is how duplicates show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lab.exchange import objects as xo
from lab.psrp.wire import ErrorInfo, PsObject, PsValue
from lab.scenario.model import Group, Mailbox, Recipient

if TYPE_CHECKING:
    from lab.exchange.cmdlets import Call

__all__ = [
    "availability_config",
    "cas_mailboxes",
    "component_states",
    "group_members",
    "online_federation_trust",
    "organization_config",
    "recipients",
]

_CONFIG = "Microsoft.Exchange.Data.Directory.SystemConfiguration"
_MANAGEMENT = "Microsoft.Exchange.Data.Directory.Management"
# One `Property -eq 'value'` clause of an OPATH filter, joined with -or.
_CLAUSE = re.compile(r"\(?\s*(\w+)\s+-eq\s+'([^']*)'\s*\)?")
# Components Exchange 2013 and later keep Inactive on a healthy server.
INACTIVE_BY_DEFAULT = ("ForwardSyncDaemon", "ProvisioningRps")
COMPONENTS = ("ServerWideOffline", "HubTransport", "FrontendTransport", "AutoDiscoverProxy", "EwsProxy",
              "OwaProxy", "EcpProxy", "RpcProxy", "MapiProxy", *INACTIVE_BY_DEFAULT)  # fmt: skip


def _mailbox_row(call: Call, box: Mailbox) -> PsObject:
    """A scenario mailbox as Get-Recipient shows it on this side (online: a synced on-premises user is a
    MailUser; one that is not synced does not exist there)."""
    kind = "UserMailbox" if box.location == ("online" if call.online else "onprem") else (
        "MailUser" if call.online else "RemoteUserMailbox"
    )  # fmt: skip
    row = xo.remote_mailbox(call.ctx, box) if kind == "RemoteUserMailbox" else xo.mailbox(call.ctx, box)
    row.properties["RecipientType"] = "MailUser" if kind == "MailUser" else "UserMailbox"
    row.properties["RecipientTypeDetails"] = kind
    return row


def _other_row(call: Call, item: Recipient) -> PsObject:
    org = call.ctx.scenario.organization
    primary = next((a.split(":", 1)[1] for a in item.email_addresses if a.startswith("SMTP:")), None)
    props: dict[str, PsValue] = {
        "Name": item.name,
        "DisplayName": item.name,
        "RecipientType": item.recipient_type,
        "RecipientTypeDetails": item.recipient_type,
        "PrimarySmtpAddress": primary,
        "EmailAddresses": list[PsValue](item.email_addresses),
        "UserPrincipalName": item.user_principal_name,
        "DistinguishedName": xo.user_dn(org, item.name),
        "Identity": f"{org.forest}/Users/{item.name}",
    }
    return PsObject((f"{_MANAGEMENT}.ReducedRecipient", "System.Object"), props, item.name)


def _all_recipients(call: Call) -> list[PsObject]:
    scenario = call.ctx.scenario
    boxes = [b for b in scenario.mailboxes if not call.online or b.location == "online" or b.synced_to_cloud]
    rows = [_mailbox_row(call, b) for b in boxes]
    return rows + ([] if call.online else [_other_row(call, r) for r in scenario.organization.recipients])


def _addresses(row: PsObject) -> list[str]:
    value = row.properties.get("EmailAddresses")
    return [str(a) for a in value] if isinstance(value, list) else []


def _names(row: PsObject) -> set[str]:
    props = row.properties
    found = {
        str(props.get(k) or "").lower() for k in ("Name", "Alias", "PrimarySmtpAddress", "UserPrincipalName")
    }
    for address in _addresses(row):
        found.add(address.split(":", 1)[-1].lower())
    return found - {""}


def _matches(row: PsObject, clauses: list[tuple[str, str]]) -> bool:
    props = row.properties
    for name, value in clauses:
        wanted = value.lower()
        if name.lower() == "emailaddresses":
            if wanted in {a.lower() for a in _addresses(row)}:
                return True
        elif str(props.get(name) or "").lower() == wanted:
            return True
    return False


def _anr_matches(row: PsObject, wanted: str) -> bool:
    """Ambiguous name resolution as Active Directory does it: the text starts the display name, the name, the
    alias, the first or last name or an SMTP address; "first last" (or "last first") matches both parts."""
    props = row.properties
    display = str(props.get("DisplayName") or "").lower()
    words = display.split()
    fields = [display, str(props.get("Name") or "").lower(), str(props.get("Alias") or "").lower(), *words]
    fields += [a.split(":", 1)[-1].lower() for a in _addresses(row) if a.lower().startswith("smtp:")]
    if any(f.startswith(wanted) for f in fields if f):
        return True
    parts = wanted.split()
    return (
        len(parts) == 2
        and len(words) >= 2
        and (
            (words[0].startswith(parts[0]) and words[-1].startswith(parts[1]))
            or (words[-1].startswith(parts[0]) and words[0].startswith(parts[1]))
        )
    )


def recipients(call: Call) -> Iterable[PsObject | ErrorInfo]:
    """Get-Recipient [-Identity x | -Filter "P -eq 'v' -or ..." | -Anr text]."""
    rows = _all_recipients(call)
    anr = call.text("Anr")
    if anr is not None:
        text = " ".join(anr.lower().split())
        return [r for r in rows if text and _anr_matches(r, text)]
    found_filter = call.text("Filter")
    if found_filter is not None:
        clauses = [(m[1], m[2]) for m in _CLAUSE.finditer(found_filter)]
        return [r for r in rows if _matches(r, clauses)]
    wanted = call.identity
    if wanted is None:
        return rows
    matching = [r for r in rows if wanted.lower() in _names(r)]
    if len(matching) > 1:
        return [_ambiguous(call, wanted)]
    return matching or [call.not_found(wanted)]


def _ambiguous(call: Call, identity: str) -> ErrorInfo:
    return ErrorInfo(
        f"The operation couldn't be performed because '{identity}' matches multiple entries.",
        ("Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
         "Microsoft.Exchange.Data.Common.LocalizedException", "System.Exception", "System.Object"),
        call.failure_id("ManagementObjectAmbiguousException"),
        13,
        "ManagementObjectAmbiguousException",
        identity,
        "InvalidArgument",
    )  # fmt: skip


def cas_mailboxes(call: Call) -> Iterable[PsObject | ErrorInfo]:
    """Get-CASMailbox -Identity x: the MAPI settings that gate external Outlook (and Autodiscover's
    external EWS URL for that mailbox)."""
    wanted = (call.identity or "").lower()
    location = "online" if call.online else "onprem"
    box = next(
        (
            b
            for b in call.ctx.scenario.mailboxes
            if b.location == location and wanted in (b.address.lower(), b.local_part.lower())
        ),
        None,
    )
    if box is None:
        return [call.not_found(call.identity or "")]
    props: dict[str, PsValue] = {
        "Name": box.display_name,
        "PrimarySmtpAddress": box.address,
        "MAPIEnabled": True,
        "MAPIBlockOutlookExternalConnectivity": box.block_external_outlook,
        "MAPIBlockOutlookRpcHttp": False,
        "EwsEnabled": None,
        "OWAEnabled": True,
        "Identity": f"{call.ctx.scenario.organization.forest}/Users/{box.display_name}",
    }
    return [PsObject((f"{_MANAGEMENT}.CASMailbox", "System.Object"), props, box.display_name)]


def group_members(call: Call) -> Iterable[PsObject | ErrorInfo]:
    """Get-DistributionGroupMember -Identity <group>: its members as recipients."""
    groups: list[Group] = (
        call.ctx.scenario.exchange_online.groups if call.online else call.ctx.scenario.organization.groups
    )
    wanted = (call.identity or "").lower()
    group = next(
        (
            g
            for g in groups
            if wanted in (g.name.lower(), xo.user_dn(call.ctx.scenario.organization, g.name).lower())
        ),
        None,
    )
    if group is None:
        return [call.not_found(call.identity or "")]
    members = {m.lower() for m in group.members}
    return [r for r in _all_recipients(call) if _names(r) & members]


def availability_config(call: Call) -> Iterable[PsObject]:
    config = call.ctx.scenario.organization.availability_config
    props: dict[str, PsValue] = {
        "Name": "Availability Configuration",
        "PerUserAccount": config.per_user_account,
        "OrgWideAccount": config.org_wide_account,
    }
    return [PsObject((f"{_CONFIG}.AvailabilityConfig", "System.Object"), props, "Availability Configuration")]


def organization_config(call: Call) -> Iterable[PsObject]:
    """On-premises Get-OrganizationConfig: the EWS application policy."""
    org = call.ctx.scenario.organization
    policy = org.ews_policy
    props: dict[str, PsValue] = {
        "Name": org.name,
        "EwsEnabled": policy.enabled,
        "EwsApplicationAccessPolicy": policy.application_access_policy,
        "EwsAllowList": list[PsValue](policy.allow_list) or None,
        "EwsBlockList": list[PsValue](policy.block_list) or None,
    }
    return [PsObject((f"{_MANAGEMENT}.OrganizationConfig", "System.Object"), props, org.name)]


def component_states(call: Call) -> Iterable[PsObject | ErrorInfo]:
    """Get-ServerComponentState -Identity <server>."""
    server = call.ctx.scenario.server(call.identity or "")
    if server is None:
        return [call.not_found(call.identity or "")]
    inactive = {*INACTIVE_BY_DEFAULT, *server.inactive_components}
    return [
        PsObject(
            (
                "Microsoft.Exchange.Management.SystemConfigurationTasks.ServerComponentStatePresentationObject",
                "System.Object",
            ),
            {
                "Identity": server.fqdn,
                "Component": name,
                "State": "Inactive" if name in inactive else "Active",
            },
            f"{server.fqdn}\\{name}",
        )
        for name in dict.fromkeys([*COMPONENTS, *server.inactive_components])
    ]


def online_federation_trust(call: Call) -> Iterable[PsObject]:
    """Exchange Online's own federation trust (its ApplicationIdentifier tells the current from the old)."""
    online = call.ctx.scenario.exchange_online
    props: dict[str, PsValue] = {
        "Name": "Microsoft Federation Gateway",
        "ApplicationIdentifier": online.federation_trust_application_id,
        "ApplicationUri": online.tenant,
        "TokenIssuerUri": "urn:federation:MicrosoftOnline",
    }
    return [PsObject((f"{_CONFIG}.FederationTrust", "System.Object"), props, "Microsoft Federation Gateway")]
