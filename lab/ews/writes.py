"""DeleteItem, the one EWS write the lab takes: a hidden sharing subscription, from the write account only.

The write account (`LabCredentials.writer_username`) may delete, acting as a mailbox (ExchangeImpersonation)
or as itself, the IPM.ExternalSharingSubscription items of that mailbox's \\root\\Sharing folder; the lab
then serves a copy of the scenario without that subscription, so the sharing-subscriptions check and the
availability answer change at once. Any other caller gets ErrorAccessDenied, as a mailbox with neither
impersonation nor Full Access does; any other item is refused (the lab models no other deletable item).
HardDelete, SoftDelete and MoveToDeletedItems all remove the item from the Sharing folder.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from lab.ews.soap import NS, EwsError, error_message, success_message
from lab.ews.store import SUBSCRIPTION_CLASS, Caller, ItemRef, decode_item_id

if TYPE_CHECKING:
    from lab.context import LabContext

__all__ = ["delete_item"]

_DELETE_TYPES = frozenset({"HardDelete", "SoftDelete", "MoveToDeletedItems"})
_ACCESS_DENIED = EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def delete_item(ctx: LabContext, caller: Caller, op: ET.Element, *, writer: bool) -> list[ET.Element]:
    """One response message per ItemId; the items allowed are removed together (ids name positions)."""
    tag, messages = "m:DeleteItemResponseMessage", []
    if op.get("DeleteType") not in _DELETE_TYPES:
        raise EwsError("ErrorSchemaValidation", "The request failed schema validation: DeleteType.")
    gone: dict[str, set[int]] = {}
    for ref in op.find("m:ItemIds", NS) or []:
        try:
            found = decode_item_id(ctx.scenario, ref.get("Id", ""))
            _may_delete(caller, found, writer=writer)
        except EwsError as error:
            messages.append(error_message(tag, error))
            continue
        gone.setdefault(found.mailbox.address.lower(), set()).add(found.item.index)
        messages.append(success_message(tag))
    if gone:
        mailboxes = []
        for box in ctx.scenario.mailboxes:
            drop = gone.get(box.address.lower(), set())
            kept = [s for i, s in enumerate(box.sharing_subscriptions) if i not in drop]
            mailboxes.append(box.model_copy(update={"sharing_subscriptions": kept}) if drop else box)
        ctx.scenario = ctx.scenario.model_copy(update={"mailboxes": mailboxes})
    return messages


def _may_delete(caller: Caller, found: ItemRef, *, writer: bool) -> None:
    acting = caller.acting
    if not writer or (acting is not None and acting.lower() != found.mailbox.address.lower()):
        raise _ACCESS_DENIED
    if found.folder.key != "sharing" or found.item.item_class != SUBSCRIPTION_CLASS:
        raise EwsError("ErrorInvalidOperation", "The lab deletes only sharing subscriptions.")
