"""WritePort over EWS (exchangelib): the write account's own session, one allow-listed operation.

Separate from the read-only `EwsMailboxes`: its own settings (the write account), the remediation's
allow-list (`checks.writes.guard_write`, `WRITE_EWS`), no sharing with the checks. The only operation is
`ews:DeleteItem` of a mailbox's hidden sharing subscription: the writer looks in that mailbox's
\\root\\Sharing folder (FindItem, Traversal=Associated, ItemClass IPM.ExternalSharingSubscription), keeps the
items whose ExternalSharingSharerIdentity is the named sharer, checks each item's class and ItemId again, and
soft-deletes those by ItemId (to Recoverable Items, where an administrator can recover them). With WhatIf it
reports what it would delete and deletes nothing. Nothing else in any folder can be named or deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from exchangelib import Q
from exchangelib.fields import FieldPath
from exchangelib.folders import SHALLOW, Folder, FolderCollection
from exchangelib.items import ASSOCIATED, SOFT_DELETE

from checks.backends.ews import SHARER_FIELD, EwsMailboxes, EwsSettings, _root, translate
from checks.errors import BackendError, CommandFailed, Refused
from checks.ports import Row
from checks.writes import SUBSCRIPTION_CLASS, check_item_id, guard_write
from knowledge.validators import ValueProblem

__all__ = ["EwsWriter"]

DELETE = "ews:DeleteItem"


class EwsWriter:
    """WritePort: `allowed` is the remediation's allow-list (step key -> parameter names)."""

    def __init__(self, settings: EwsSettings, executor: Executor, allowed: Mapping[str, set[str]]) -> None:
        self._settings = settings
        self._allowed = allowed
        self._mailboxes = EwsMailboxes(settings, executor)
        self._executor = executor

    async def run(self, key: str, params: Mapping[str, Any]) -> list[Row]:
        checked = guard_write(key, params, self._allowed, backend=self._settings.name)
        if key != DELETE:  # guard_write knows no other EWS operation; a cmdlet never comes here
            raise Refused(self._settings.name, f"{key[:60]!r} is not an EWS write.")
        what_if = bool(checked.pop("WhatIf", False))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._delete, checked, what_if)
        except BackendError:
            raise
        except Exception as error:
            raise translate(self._settings, error) from None

    def _delete(self, params: dict[str, Any], what_if: bool) -> list[Row]:
        mailbox, sharer = str(params["Mailbox"]), str(params["Sharer"])
        account = self._mailboxes._account(mailbox)
        children = FolderCollection(account=account, folders=[_root(account, mailbox)])
        name = {FieldPath(field=Folder.get_field_by_fieldname("name"))}
        listed = children.find_folders(q=Q(name=params["Folder"]), depth=SHALLOW, additional_fields=name)
        folders = [f for f in listed if not isinstance(f, Exception) and f.name == params["Folder"]]
        if not folders:
            raise CommandFailed(self._settings.name, f"{mailbox} has no \\root\\{params['Folder']} folder.")
        hidden = (
            FolderCollection(account=account, folders=folders[:1])
            .filter(item_class=params["ItemClass"])
            .depth(ASSOCIATED)
            .only("item_class", SHARER_FIELD)
        )
        found = []
        for item in hidden:
            if isinstance(item, Exception):
                raise item
            if str(getattr(item, SHARER_FIELD) or "").lower() != sharer.lower():
                continue
            if item.item_class != SUBSCRIPTION_CLASS:  # the server answered another class than asked for
                raise Refused(
                    self._settings.name, f"An item of class {str(item.item_class)[:60]!r} is not deleted."
                )
            try:
                found.append((check_item_id(item.id), item.changekey))
            except ValueProblem as problem:
                raise Refused(self._settings.name, f"DeleteItem: {problem}") from None
        if not found:
            raise CommandFailed(
                self._settings.name,
                f"{mailbox} holds no {SUBSCRIPTION_CLASS} item from {sharer} in \\root\\{params['Folder']}: "
                "nothing to delete.",
            )
        rows: list[Row] = [
            {"Mailbox": mailbox, "Sharer": sharer, "ItemClass": SUBSCRIPTION_CLASS, "Deleted": not what_if}
            for _ in found
        ]
        if what_if:
            return rows
        results = account.bulk_delete(ids=found, delete_type=SOFT_DELETE)
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            raise failures[0]
        return rows

    async def close(self) -> None:
        return None
