"""EWS folder and item operations: GetFolder, FindFolder, FindItem, GetItem.

Enough of each for a triage: the root and the Sharing folder found by a shallow, name-filtered
FindFolder; hidden sharing subscriptions (FindItem Traversal="Associated") with their named properties;
the calendar's permission set; calendar items. Impersonation acts as the impersonated mailbox: its own
folders are open to it, another mailbox's calendar only as far as that calendar's permissions allow.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from lab.ews.soap import NS, EwsError, child_text, el, error_message, local_name, q, success_message
from lab.ews.store import (
    SHARING_PROPERTY_SET,
    Caller,
    FolderRef,
    StoreFolder,
    StoreItem,
    calendar_rights,
    decode_folder_id,
    decode_item_id,
    distinguished_folder,
    folder_id,
    folder_items,
    folders_of,
    item_id,
    mailbox_or_error,
)
from lab.scenario.model import CalendarPermission, Mailbox

__all__ = ["find_folder", "find_item", "get_folder", "get_item"]

_ACCESS_DENIED = EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
_FOLDER_DEFAULT = {"folder:DisplayName", "folder:TotalCount", "folder:ChildFolderCount", "folder:UnreadCount"}
_ITEM_DEFAULT = {
    "item:ItemClass",
    "item:Subject",
    "calendar:Start",
    "calendar:End",
    "calendar:LegacyFreeBusyStatus",
}


@dataclass(frozen=True)
class Shape:
    """What the client asked to see (FolderShape / ItemShape)."""

    base: str
    fields: frozenset[str]
    extended: tuple[ET.Element, ...]

    @classmethod
    def parse(cls, element: ET.Element | None, defaults: set[str]) -> Shape:
        base = child_text(element, "t:BaseShape") or "IdOnly"
        fields = (
            {e.get("FieldURI", "") for e in element.iter(q("t:FieldURI"))} if element is not None else set()
        )
        if base in ("Default", "AllProperties"):
            fields |= defaults | (
                {"folder:FolderClass", "folder:ParentFolderId"} if base == "AllProperties" else set()
            )
        extended = tuple(element.iter(q("t:ExtendedFieldURI"))) if element is not None else ()
        return cls(base, frozenset(fields), extended)

    def wants(self, field_uri: str) -> bool:
        return field_uri in self.fields


# ------------------------------------------------------------------------------------ folder refs


def _resolve_folder(caller: Caller, ref: ET.Element) -> FolderRef:
    if local_name(ref) == "DistinguishedFolderId":
        folder = distinguished_folder(ref.get("Id", ""))
        if folder is None:
            raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        address = child_text(ref, "t:Mailbox/t:EmailAddress") or caller.acting
        resolved = FolderRef(mailbox_or_error(caller.scenario, address), folder)
    else:
        resolved = decode_folder_id(caller.scenario, ref.get("Id", ""))
    _check_access(caller, resolved)
    return resolved


def _check_access(caller: Caller, ref: FolderRef) -> None:
    """Impersonating X: X's own folders, or another calendar X may see; the service account sees all."""
    if caller.acting is None or caller.acting.lower() == ref.mailbox.address.lower():
        return
    entry = _explicit_permission(ref.mailbox, caller.acting) or _explicit_permission(ref.mailbox, "Default")
    if ref.folder.key != "calendar" or entry is None or not calendar_rights(entry).is_folder_visible:
        raise _ACCESS_DENIED


def _explicit_permission(mailbox: Mailbox, user: str) -> CalendarPermission | None:
    return next((p for p in mailbox.calendar_permissions if p.user.lower() == user.lower()), None)


def _refs(caller: Caller, container: ET.Element | None) -> Iterable[FolderRef | EwsError]:
    for ref in container if container is not None else []:
        try:
            yield _resolve_folder(caller, ref)
        except EwsError as error:
            yield error


# ----------------------------------------------------------------------------------- rendering


def _folder_xml(caller: Caller, ref: FolderRef, shape: Shape) -> ET.Element:
    folder, mailbox = ref.folder, ref.mailbox
    calendar = folder.folder_class == "IPF.Appointment"
    children = [f for f in folders_of(mailbox) if f.parent == folder.key]
    parts: list[ET.Element | None] = [el("t:FolderId", Id=folder_id(mailbox, folder), ChangeKey="AQAAAA==")]
    if folder.parent and shape.wants("folder:ParentFolderId"):
        parent = next(f for f in folders_of(mailbox) if f.key == folder.parent)
        parts.append(el("t:ParentFolderId", Id=folder_id(mailbox, parent), ChangeKey="AQAAAA=="))
    if folder.folder_class and shape.wants("folder:FolderClass"):
        parts.append(el("t:FolderClass", folder.folder_class))
    if folder.name and shape.wants("folder:DisplayName"):
        parts.append(el("t:DisplayName", folder.name))
    if shape.wants("folder:TotalCount"):
        parts.append(el("t:TotalCount", str(len(folder_items(mailbox, folder, associated=False)))))
    if shape.wants("folder:ChildFolderCount"):
        parts.append(el("t:ChildFolderCount", str(len(children))))
    if shape.wants("folder:EffectiveRights"):
        parts.append(_effective_rights(caller, mailbox))
    if shape.wants("folder:PermissionSet"):
        parts.append(_permission_set(caller, mailbox) if calendar else _default_permission_set())
    if not calendar and shape.wants("folder:UnreadCount"):
        parts.append(el("t:UnreadCount", "0"))
    if folder.distinguished and shape.wants("folder:DistinguishedFolderId"):
        parts.append(el("t:DistinguishedFolderId", folder.distinguished))
    return el("t:CalendarFolder" if calendar else "t:Folder", parts)


def _effective_rights(caller: Caller, mailbox: Mailbox) -> ET.Element:
    full = caller.acting is None or caller.acting.lower() == mailbox.address.lower()
    flags = ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete", "Modify")
    return el(
        "t:EffectiveRights",
        [el(f"t:{flag}", "true" if full else "false") for flag in flags],
        el("t:Read", "true"),
        el("t:ViewPrivateItems", "true" if full else "false"),
    )


def _user_id(caller: Caller, user: str) -> ET.Element:
    if user.lower() in ("default", "anonymous"):
        return el("t:UserId", el("t:DistinguishedUser", user.capitalize()))
    known = caller.scenario.mailbox(user)
    return el(
        "t:UserId",
        el("t:PrimarySmtpAddress", user),
        el("t:DisplayName", known.display_name if known else user),
    )


def _permission_set(caller: Caller, mailbox: Mailbox) -> ET.Element:
    entries = []
    for permission in mailbox.calendar_permissions:
        rights = calendar_rights(permission)
        entries.append(
            el(
                "t:CalendarPermission",
                _user_id(caller, permission.user),
                el("t:CanCreateItems", _bool(rights.can_create_items)),
                el("t:CanCreateSubFolders", _bool(rights.can_create_subfolders)),
                el("t:IsFolderOwner", _bool(rights.is_folder_owner)),
                el("t:IsFolderVisible", _bool(rights.is_folder_visible)),
                el("t:IsFolderContact", _bool(rights.is_folder_contact)),
                el("t:EditItems", rights.edit_items),
                el("t:DeleteItems", rights.delete_items),
                el("t:ReadItems", rights.read_items),
                el("t:CalendarPermissionLevel", rights.level),
            )
        )
    return el("t:PermissionSet", el("t:CalendarPermissions", entries))


def _default_permission_set() -> ET.Element:
    """Non-calendar folders keep Exchange's defaults: Default and Anonymous have no rights."""
    entries = [
        el(
            "t:Permission",
            el("t:UserId", el("t:DistinguishedUser", user)),
            [el(f"t:{flag}", "false") for flag in ("CanCreateItems", "CanCreateSubFolders", "IsFolderOwner")],
            [el(f"t:{flag}", "false") for flag in ("IsFolderVisible", "IsFolderContact")],
            el("t:EditItems", "None"),
            el("t:DeleteItems", "None"),
            el("t:ReadItems", "None"),
            el("t:PermissionLevel", "None"),
        )
        for user in ("Default", "Anonymous")
    ]
    return el("t:PermissionSet", el("t:Permissions", entries))


def _item_xml(
    caller: Caller, mailbox: Mailbox, folder: StoreFolder, item: StoreItem, shape: Shape
) -> ET.Element:
    parts: list[ET.Element | None] = [el("t:ItemId", Id=item_id(mailbox, folder, item), ChangeKey="CQAAAA==")]
    if shape.wants("item:ItemClass"):
        parts.append(el("t:ItemClass", item.item_class))
    if shape.wants("item:Subject"):
        parts.append(el("t:Subject", item.subject))
    for uri in shape.extended:
        value = _extended_value(item, uri)
        if value is not None:
            parts.append(
                el("t:ExtendedProperty", el("t:ExtendedFieldURI", **uri.attrib), el("t:Value", value))
            )
    if item.event is not None:
        event = item.event
        if shape.wants("calendar:Start"):
            parts.append(el("t:Start", _utc(caller, event.start)))
        if shape.wants("calendar:End"):
            parts.append(el("t:End", _utc(caller, event.end)))
        if shape.wants("calendar:LegacyFreeBusyStatus"):
            parts.append(el("t:LegacyFreeBusyStatus", event.busy_type))
        if event.location and shape.wants("calendar:Location"):
            parts.append(el("t:Location", event.location))
    return el("t:CalendarItem" if item.event is not None else "t:Message", parts)


def _extended_value(item: StoreItem, uri: ET.Element) -> str | None:
    if (uri.get("PropertySetId") or "").lower() != SHARING_PROPERTY_SET:
        return None
    return item.extended.get(uri.get("PropertyName") or "")


def _utc(caller: Caller, value: str) -> str:
    return caller.resolve_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bool(value: bool) -> str:
    return "true" if value else "false"


# ----------------------------------------------------------------------------- restrictions & paging


def _matches(restriction: ET.Element, values: Mapping[str, str]) -> bool:
    kind = local_name(restriction)
    if kind in ("And", "Or"):
        results = [_matches(child, values) for child in restriction]
        return all(results) if kind == "And" else any(results)
    if kind == "Not":
        return not _matches(restriction[0], values)
    have = values.get(_path_key(restriction[0]))
    if kind == "Exists":
        return have is not None
    constant = restriction.find(".//t:Constant", NS)
    if constant is None:
        raise EwsError("ErrorInvalidRestriction", "Restriction contains an invalid search expression.")
    wanted = constant.get("Value", "")
    if kind in ("IsEqualTo", "IsNotEqualTo"):
        # Store string comparisons ignore case.
        equal = (have or "").casefold() == wanted.casefold()
        return equal if kind == "IsEqualTo" else not equal
    if kind == "Contains":
        exact = restriction.get("ContainmentComparison", "Exact") == "Exact"
        text, needle = (have or "", wanted) if exact else ((have or "").casefold(), wanted.casefold())
        mode = restriction.get("ContainmentMode", "Substring")
        return (
            text.startswith(needle)
            if mode == "Prefixed"
            else text == needle
            if mode == "FullString"
            else needle in text
        )
    raise EwsError("ErrorInvalidRestriction", "Restriction contains an invalid search expression.")


def _path_key(path: ET.Element) -> str:
    if local_name(path) == "ExtendedFieldURI":
        return f"ext:{path.get('PropertyName')}"
    return path.get("FieldURI", "")


def _root_folder(view: ET.Element | None, rows: list[ET.Element], container: str) -> ET.Element:
    offset = int(view.get("Offset", "0")) if view is not None else 0
    limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
    page = rows[offset : offset + limit]
    return el(
        "m:RootFolder",
        el(container, page),
        IndexedPagingOffset=str(offset + len(page)),
        TotalItemsInView=str(len(rows)),
        IncludesLastItemInRange=_bool(offset + len(page) >= len(rows)),
    )


# -------------------------------------------------------------------------------------- operations

Operation = Callable[[Caller, ET.Element], list[ET.Element]]


def get_folder(caller: Caller, op: ET.Element) -> list[ET.Element]:
    shape = Shape.parse(op.find("m:FolderShape", NS), _FOLDER_DEFAULT)
    tag = "m:GetFolderResponseMessage"
    return [
        error_message(tag, ref)
        if isinstance(ref, EwsError)
        else success_message(tag, el("m:Folders", _folder_xml(caller, ref, shape)))
        for ref in _refs(caller, op.find("m:FolderIds", NS))
    ]


def find_folder(caller: Caller, op: ET.Element) -> list[ET.Element]:
    shape = Shape.parse(op.find("m:FolderShape", NS), _FOLDER_DEFAULT)
    deep = op.get("Traversal") == "Deep"
    restriction = op.find("m:Restriction", NS)
    tag, messages = "m:FindFolderResponseMessage", []
    for ref in _refs(caller, op.find("m:ParentFolderIds", NS)):
        if isinstance(ref, EwsError):
            messages.append(error_message(tag, ref))
            continue
        try:
            found = [f for f in _descendants(ref, deep) if _folder_matches(restriction, f)]
        except EwsError as error:
            messages.append(error_message(tag, error))
            continue
        rows = [_folder_xml(caller, FolderRef(ref.mailbox, f), shape) for f in found]
        messages.append(
            success_message(tag, _root_folder(op.find("m:IndexedPageFolderView", NS), rows, "t:Folders"))
        )
    return messages


def _descendants(ref: FolderRef, deep: bool) -> list[StoreFolder]:
    everything = folders_of(ref.mailbox)
    found, frontier = [], [ref.folder.key]
    while frontier:
        parent = frontier.pop(0)
        children = [f for f in everything if f.parent == parent]
        found.extend(children)
        if deep:
            frontier.extend(f.key for f in children)
    return found


def _folder_matches(restriction: ET.Element | None, folder: StoreFolder) -> bool:
    if restriction is None:
        return True
    values = {"folder:DisplayName": folder.name or "", "folder:FolderClass": folder.folder_class or ""}
    return _matches(restriction[0], values)


def find_item(caller: Caller, op: ET.Element) -> list[ET.Element]:
    shape = Shape.parse(op.find("m:ItemShape", NS), _ITEM_DEFAULT)
    associated = op.get("Traversal") == "Associated"
    restriction = op.find("m:Restriction", NS)
    window = op.find("m:CalendarView", NS)
    tag, messages = "m:FindItemResponseMessage", []
    for ref in _refs(caller, op.find("m:ParentFolderIds", NS)):
        if isinstance(ref, EwsError):
            messages.append(error_message(tag, ref))
            continue
        try:
            items = [
                i
                for i in folder_items(ref.mailbox, ref.folder, associated=associated)
                if _in_window(caller, window, i)
                and (restriction is None or _matches(restriction[0], _item_values(i)))
            ]
        except EwsError as error:
            messages.append(error_message(tag, error))
            continue
        rows = [_item_xml(caller, ref.mailbox, ref.folder, i, shape) for i in items]
        messages.append(
            success_message(tag, _root_folder(op.find("m:IndexedPageItemView", NS), rows, "t:Items"))
        )
    return messages


def _item_values(item: StoreItem) -> dict[str, str]:
    values = {"item:ItemClass": item.item_class, "item:Subject": item.subject}
    values.update({f"ext:{name}": value for name, value in item.extended.items()})
    return values


def _in_window(caller: Caller, window: ET.Element | None, item: StoreItem) -> bool:
    if window is None:
        return True
    if item.event is None:
        return False
    start, end = (caller.resolve_time(window.get(name, "")) for name in ("StartDate", "EndDate"))
    return caller.resolve_time(item.event.start) < end and caller.resolve_time(item.event.end) > start


def get_item(caller: Caller, op: ET.Element) -> list[ET.Element]:
    shape = Shape.parse(op.find("m:ItemShape", NS), _ITEM_DEFAULT)
    tag, messages = "m:GetItemResponseMessage", []
    for ref in op.find("m:ItemIds", NS) or []:
        try:
            found = decode_item_id(caller.scenario, ref.get("Id", ""))
            _check_access(caller, FolderRef(found.mailbox, found.folder))
        except EwsError as error:
            messages.append(error_message(tag, error))
            continue
        rendered = _item_xml(caller, found.mailbox, found.folder, found.item, shape)
        messages.append(success_message(tag, el("m:Items", rendered)))
    return messages
