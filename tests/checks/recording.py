"""Ports that pass every call through and keep the answer, so a test can render what an admin would paste."""

from __future__ import annotations

import copy
import datetime
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from checks.errors import NotFound
from checks.ports import (
    DirectoryPort,
    ExchangePort,
    FreeBusy,
    HostPort,
    KeyCredential,
    MailboxPort,
    Permission,
    Ports,
    PortsFactory,
    Row,
    Subscription,
)
from tests.checks.powershell_text import Recorded


class _Exchange:
    def __init__(self, inner: ExchangePort, source: str, recorded: Recorded) -> None:
        self._inner, self._source, self._recorded = inner, source, recorded

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        key = (self._source, cmdlet, frozenset((params or {}).items()))
        try:
            rows = await self._inner.run(cmdlet, params)
        except Exception as problem:
            self._recorded.exchange[key] = problem
            raise
        self._recorded.exchange[key] = copy.deepcopy(rows)
        return rows


class _Host:
    def __init__(self, inner: HostPort, recorded: Recorded) -> None:
        self._inner, self._recorded = inner, recorded

    async def run(self, server: str, template: str, args: Mapping[str, Any]) -> Any:
        answer = await self._inner.run(server, template, args)
        self._recorded.host.setdefault((server.upper(), template), []).append(
            (dict(args), copy.deepcopy(answer))
        )
        return answer


class _Mailboxes:
    def __init__(self, inner: MailboxPort, source: str, recorded: Recorded) -> None:
        self._inner, self._source, self._recorded = inner, source, recorded
        self.protocol = inner.protocol

    async def calendar_permissions(self, mailbox: str) -> list[Permission]:
        found = await self._inner.calendar_permissions(mailbox)
        names = _display_names(self._recorded)
        rows = [{"User": names.get(p.user.lower(), p.user), "AccessRights": [p.access_rights]} for p in found]
        key = (
            self._source,
            "Get-MailboxFolderPermission",
            frozenset({("Identity", f"{mailbox}:\\Calendar")}),
        )
        self._recorded.exchange[key] = rows
        return found

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]:
        return await self._inner.sharing_subscriptions(mailbox)

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        return await self._inner.free_busy(requester, target, start, end)


class _Directory:
    def __init__(self, inner: DirectoryPort, recorded: Recorded) -> None:
        self._inner, self._recorded = inner, recorded

    async def key_credentials(self, app_id: str) -> list[KeyCredential]:
        try:
            found = await self._inner.key_credentials(app_id)
        except NotFound:
            self._recorded.directory[app_id] = []
            raise
        self._recorded.directory[app_id] = list(found)
        return list(found)


def _display_names(recorded: Recorded) -> dict[str, str]:
    """Exchange shows a permission's user by display name; the mailboxes looked up say which is whose."""
    names = {}
    for (_, cmdlet, _), answer in recorded.exchange.items():
        if cmdlet in ("Get-Mailbox", "Get-RemoteMailbox") and isinstance(answer, list):
            for row in answer:
                if row.get("DisplayName"):
                    names[str(row["PrimarySmtpAddress"]).lower()] = str(row["DisplayName"])
    return names


def recording(ports: Ports, recorded: Recorded) -> Ports:
    return Ports(
        exchange=_Exchange(ports.exchange, "exchange", recorded) if ports.exchange else None,
        exchange_online=(
            _Exchange(ports.exchange_online, "exchange_online", recorded) if ports.exchange_online else None
        ),
        host=_Host(ports.host, recorded) if ports.host else None,
        onprem_mailboxes=_Mailboxes(ports.onprem_mailboxes, "exchange", recorded)
        if ports.onprem_mailboxes
        else None,
        online_mailboxes=(
            _Mailboxes(ports.online_mailboxes, "exchange_online", recorded)
            if ports.online_mailboxes
            else None
        ),
        probe=ports.probe,
        directory=_Directory(ports.directory, recorded) if ports.directory else None,
    )


def recording_factory(open_ports: PortsFactory, recorded: Recorded) -> PortsFactory:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Ports]:
        async with open_ports() as ports:
            yield recording(ports, recorded)

    return opened
