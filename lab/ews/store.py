"""The mailbox store as EWS sees it, derived from the scenario: folders, items, permissions.

Nothing is stored: folder and item ids encode (mailbox, folder, index) so every request is answered
from the scenario alone. Each mailbox has the folders a triage reads (root, Top of Information Store,
Calendar, \\root\\Sharing) plus a neighbour or two so a filter that matches everything would be caught.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lab.ews.soap import EwsError
from lab.scenario.model import CalendarEvent, CalendarPermission, Mailbox, Scenario, SharingSubscription

__all__ = [
    "NO_FREE_BUSY_ACCESS",
    "SHARING_PROPERTY_SET",
    "SUBSCRIPTION_CLASS",
    "Caller",
    "FolderRef",
    "ItemRef",
    "PermissionRights",
    "StoreFolder",
    "StoreItem",
    "calendar_rights",
    "decode_folder_id",
    "decode_item_id",
    "distinguished_folder",
    "effective_read_items",
    "folder_id",
    "folder_items",
    "folders_of",
    "item_id",
    "mailbox_or_error",
]

# What the availability service answers a requester without any free/busy right on the target calendar.
NO_FREE_BUSY_ACCESS = EwsError(
    "ErrorNoFreeBusyAccess",
    "Microsoft.Exchange.InfoWorker.Common.Availability.NoFreeBusyAccessException: "
    "The caller does not have access to free/busy data.",
)
# The named-property set of sharing subscriptions (PSETID_Sharing), as MFCMAPI shows them.
SHARING_PROPERTY_SET = "f52a8693-c34d-4980-9e20-9d4c1eabb6a7"
SUBSCRIPTION_CLASS = "IPM.ExternalSharingSubscription"


@dataclass(frozen=True)
class Caller:
    """Who a request acts as, and how the scenario's times resolve for it."""

    scenario: Scenario
    resolve_time: Callable[[str], datetime.datetime]
    acting: str | None  # the impersonated mailbox; None = the service account (delegate, full access)


@dataclass(frozen=True)
class StoreFolder:
    key: str  # stable per mailbox: root, msgfolderroot, calendar, inbox, sharing, freebusy
    name: str | None
    parent: str | None
    folder_class: str | None
    distinguished: str | None = None


@dataclass(frozen=True)
class StoreItem:
    index: int
    item_class: str
    subject: str
    associated: bool
    extended: Mapping[str, str] = field(default_factory=dict)  # named property (PSETID_Sharing) -> value
    event: CalendarEvent | None = None


@dataclass(frozen=True)
class FolderRef:
    mailbox: Mailbox
    folder: StoreFolder


@dataclass(frozen=True)
class ItemRef:
    mailbox: Mailbox
    folder: StoreFolder
    item: StoreItem


_FOLDERS = (
    StoreFolder("root", None, None, None, "root"),
    StoreFolder("msgfolderroot", "Top of Information Store", "root", "IPF.Note", "msgfolderroot"),
    StoreFolder("inbox", "Inbox", "msgfolderroot", "IPF.Note", "inbox"),
    StoreFolder("calendar", "Calendar", "msgfolderroot", "IPF.Appointment", "calendar"),
    StoreFolder("sharing", "Sharing", "root", None),
    StoreFolder("freebusy", "Freebusy Data", "root", None),
)
_BY_KEY = {f.key: f for f in _FOLDERS}
_BY_DISTINGUISHED = {f.distinguished: f for f in _FOLDERS if f.distinguished}


def folders_of(_mailbox: Mailbox) -> tuple[StoreFolder, ...]:
    return _FOLDERS


def distinguished_folder(name: str) -> StoreFolder | None:
    return _BY_DISTINGUISHED.get(name)


def mailbox_or_error(scenario: Scenario, address: str | None) -> Mailbox:
    mailbox = scenario.mailbox(address) if address else None
    if mailbox is None:
        raise EwsError("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
    return mailbox


def _encode(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode("utf-8")).decode("ascii")


def _decode(text: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(text.encode("ascii")).decode("utf-8").split("\x1f")
    except (binascii.Error, UnicodeError, ValueError):
        parts = []
    if len(parts) != count:
        raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
    return parts


def folder_id(mailbox: Mailbox, folder: StoreFolder) -> str:
    return _encode("F", mailbox.address.lower(), folder.key)


def item_id(mailbox: Mailbox, folder: StoreFolder, item: StoreItem) -> str:
    return _encode("I", mailbox.address.lower(), folder.key, str(item.index))


def decode_folder_id(scenario: Scenario, text: str) -> FolderRef:
    kind, address, key = _decode(text, 3)
    folder = _BY_KEY.get(key)
    if kind != "F" or folder is None:
        raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
    return FolderRef(mailbox_or_error(scenario, address), folder)


def decode_item_id(scenario: Scenario, text: str) -> ItemRef:
    kind, address, key, index = _decode(text, 4)
    folder = _BY_KEY.get(key)
    if kind != "I" or folder is None or not index.isdigit():
        raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
    mailbox = mailbox_or_error(scenario, address)
    for item in folder_items(mailbox, folder, associated=None):
        if item.index == int(index):
            return ItemRef(mailbox, folder, item)
    raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")


def folder_items(mailbox: Mailbox, folder: StoreFolder, *, associated: bool | None) -> list[StoreItem]:
    """Items of a folder; `associated` True = hidden (FAI) items only, False = normal only, None = both."""
    items: list[StoreItem] = []
    if folder.key == "sharing":
        items = [_subscription_item(i, s) for i, s in enumerate(mailbox.sharing_subscriptions)]
    elif folder.key == "calendar":
        items = [
            StoreItem(i, "IPM.Appointment", e.subject, associated=False, event=e)
            for i, e in enumerate(mailbox.calendar)
        ]
    return [i for i in items if associated is None or i.associated == associated]


def _subscription_item(index: int, subscription: SharingSubscription) -> StoreItem:
    values = {
        "ExternalSharingSharerIdentity": subscription.sharer_identity,
        "ExternalSharingSharerName": subscription.sharer_name,
        "ExternalSharingUrl": subscription.url,
        "ExternalSharingRemoteFolderName": subscription.remote_folder_name,
        "ExternalSharingRemoteFolderId": subscription.remote_folder_id,
        "ExternalSharingDataType": subscription.data_type,
    }
    extended = {name: value for name, value in values.items() if value is not None}
    subject = (
        f"{subscription.sharer_name or subscription.sharer_identity} - {subscription.remote_folder_name}"
    )
    return StoreItem(index, SUBSCRIPTION_CLASS, subject, associated=True, extended=extended)


# ------------------------------------------------------------------------------------- permissions


@dataclass(frozen=True)
class PermissionRights:
    """One calendar permission as EWS renders it (CalendarPermissionType)."""

    level: str
    read_items: str = "None"
    can_create_items: bool = False
    can_create_subfolders: bool = False
    is_folder_owner: bool = False
    is_folder_visible: bool = False
    is_folder_contact: bool = False
    edit_items: str = "None"
    delete_items: str = "None"


_ROLES: Mapping[str, PermissionRights] = {
    "None": PermissionRights("None"),
    "Owner": PermissionRights("Owner", "FullDetails", True, True, True, True, True, "All", "All"),
    "PublishingEditor": PermissionRights(
        "PublishingEditor", "FullDetails", True, True, False, True, False, "All", "All"
    ),
    "Editor": PermissionRights("Editor", "FullDetails", True, False, False, True, False, "All", "All"),
    "PublishingAuthor": PermissionRights(
        "PublishingAuthor", "FullDetails", True, True, False, True, False, "Owned", "Owned"
    ),
    "Author": PermissionRights("Author", "FullDetails", True, False, False, True, False, "Owned", "Owned"),
    "NonEditingAuthor": PermissionRights(
        "NoneditingAuthor", "FullDetails", True, False, False, True, False, "None", "Owned"
    ),
    "Reviewer": PermissionRights("Reviewer", "FullDetails", is_folder_visible=True),
    "Contributor": PermissionRights("Contributor", can_create_items=True, is_folder_visible=True),
    # Get-MailboxFolderPermission names these two AvailabilityOnly and LimitedDetails.
    "AvailabilityOnly": PermissionRights("FreeBusyTimeOnly", "TimeOnly"),
    "LimitedDetails": PermissionRights("FreeBusyTimeAndSubjectAndLocation", "TimeAndSubjectAndLocation"),
}


def calendar_rights(permission: CalendarPermission) -> PermissionRights:
    """Map Get-MailboxFolderPermission AccessRights to EWS permission fields; unknown mixes are Custom."""
    rights = permission.access_rights
    if len(rights) == 1 and rights[0] in _ROLES:
        return _ROLES[rights[0]]
    named = {r.lower() for r in rights}
    read = "FullDetails" if "readitems" in named else "None"
    edit = "All" if "editallitems" in named else "Owned" if "editowneditems" in named else "None"
    delete = "All" if "deleteallitems" in named else "Owned" if "deleteowneditems" in named else "None"
    return PermissionRights(
        "Custom",
        read,
        "createitems" in named,
        "createsubfolders" in named,
        "folderowner" in named,
        "foldervisible" in named,
        "foldercontact" in named,
        edit,
        delete,
    )


def effective_read_items(mailbox: Mailbox, requester: str | None) -> str:
    """What `requester` may read of `mailbox`'s calendar: its own entry, else Default's (internal users)."""
    entries = {p.user.lower(): p for p in mailbox.calendar_permissions}
    if requester and requester.lower() == mailbox.address.lower():
        return "FullDetails"
    chosen = entries.get(requester.lower()) if requester else None
    chosen = chosen or entries.get("default")
    return calendar_rights(chosen).read_items if chosen else "None"
