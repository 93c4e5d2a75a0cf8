"""A per-triage snapshot of every port call: the first caller starts it, everyone else shares the answer.

Checks ask for what they need without coordinating: five checks that each want Get-ExchangeServer
cause one cmdlet run. Failures are shared as well, so a backend that is down is asked once, not once
per check. Waiters are shielded: a check that times out does not cancel a call another check awaits.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from checks.errors import NotConfigured
from checks.org_cache import OrgCache, note_age
from checks.ports import (
    DirectoryPort,
    ExchangePort,
    FreeBusy,
    HostPort,
    KeyCredential,
    MailboxPort,
    Permission,
    Ports,
    ProbeAnswer,
    ProbePort,
    Row,
    Subscription,
)
from checks.safety import EXCHANGE_CMDLETS, EXCHANGE_ONLINE_CMDLETS, guard_cmdlet

__all__ = ["CallLog", "Memo", "memoize"]

T = TypeVar("T")


@dataclass
class CallLog:
    """Every distinct call the triage made, in order: (port, operation, key)."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, port: str, operation: str | None = None) -> int:
        return sum(1 for p, op, _ in self.calls if p == port and (operation is None or op == operation))


class Memo:
    """Shared tasks keyed by (port, operation, canonical arguments)."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str, str], asyncio.Task[Any]] = {}
        self.log = CallLog()

    async def get(self, port: str, operation: str, args: Any, call: Callable[[], Awaitable[T]]) -> T:
        key = (port, operation, json.dumps(args, sort_keys=True, default=str))
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._tasks[key] = task
            self.log.calls.append(key)
        result: T = await asyncio.shield(task)
        return result

    async def drain(self) -> None:
        """Let calls nobody waits for any more finish (or fail) before the backends close."""
        pending = [t for t in self._tasks.values() if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for task in self._tasks.values():
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: a shared failure is reported by the checks, not by asyncio


class _Exchange:
    def __init__(
        self,
        inner: ExchangePort | None,
        memo: Memo,
        name: str,
        online: bool,
        cache: OrgCache | None = None,
        fresh: bool = False,
    ) -> None:
        self._inner, self._memo, self._name = inner, memo, name
        self._allowed = EXCHANGE_ONLINE_CMDLETS if online else EXCHANGE_CMDLETS
        self._cache, self._fresh = cache, fresh

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        checked = guard_cmdlet(cmdlet, params, self._allowed, backend=self._name)
        inner = self._inner
        if inner is None:
            raise NotConfigured(self._name)
        cache = self._cache
        if cache is None or not cache.shared(cmdlet):
            rows: list[Row] = await self._memo.get(
                self._name, cmdlet, checked, lambda: inner.run(cmdlet, checked)
            )
            return rows
        # Organisation-wide configuration: shared with other triages for a while (checks.org_cache).
        answer: tuple[list[Row], float | None] = await self._memo.get(
            self._name,
            cmdlet,
            checked,
            lambda: cache.get(
                self._name, cmdlet, checked, lambda: inner.run(cmdlet, checked), fresh=self._fresh
            ),
        )
        note_age(answer[1])
        return answer[0]


class _Host:
    def __init__(self, inner: HostPort | None, memo: Memo) -> None:
        self._inner, self._memo = inner, memo

    async def run(self, server: str, template: str, args: Mapping[str, Any]) -> Any:
        inner = self._inner
        if inner is None:
            raise NotConfigured("Windows remote management (WinRM)")
        return await self._memo.get(
            "host", template, [server.lower(), args], lambda: inner.run(server, template, args)
        )


class _Mailboxes:
    def __init__(self, inner: MailboxPort | None, memo: Memo, name: str, protocol: str) -> None:
        self._inner, self._memo, self._name = inner, memo, name
        self.protocol = inner.protocol if inner is not None else protocol

    def _port(self) -> MailboxPort:
        if self._inner is None:
            raise NotConfigured(self._name)
        return self._inner

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]:
        port = self._port()
        found: list[Subscription] = await self._memo.get(
            self._name, "subscriptions", mailbox.lower(), lambda: port.sharing_subscriptions(mailbox)
        )
        return found

    async def calendar_permissions(self, mailbox: str) -> list[Permission]:
        port = self._port()
        found: list[Permission] = await self._memo.get(
            self._name, "permissions", mailbox.lower(), lambda: port.calendar_permissions(mailbox)
        )
        return found

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        port = self._port()
        args = [requester.lower(), target.lower(), start.isoformat(), end.isoformat()]
        answer: FreeBusy = await self._memo.get(
            self._name, "free_busy", args, lambda: port.free_busy(requester, target, start, end)
        )
        return answer


class _Directory:
    def __init__(self, inner: DirectoryPort | None, memo: Memo) -> None:
        self._inner, self._memo = inner, memo

    async def key_credentials(self, app_id: str) -> list[KeyCredential]:
        inner = self._inner
        if inner is None:
            raise NotConfigured("Microsoft Graph (directory)")
        found: list[KeyCredential] = await self._memo.get(
            "directory", "key_credentials", app_id.lower(), lambda: inner.key_credentials(app_id)
        )
        return found


class _Probe:
    def __init__(self, inner: ProbePort | None, memo: Memo) -> None:
        self._inner, self._memo = inner, memo

    async def probe(self, url: str) -> ProbeAnswer:
        inner = self._inner
        if inner is None:
            raise NotConfigured("HTTPS probe")
        answer: ProbeAnswer = await self._memo.get("probe", "probe", url, lambda: inner.probe(url))
        return answer


def memoize(ports: Ports, memo: Memo, cache: OrgCache | None = None, *, fresh: bool = False) -> Ports:
    """`ports` behind one shared memo; a missing backend becomes a port that raises `NotConfigured`.
    With `cache`, organisation-wide Exchange configuration is shared with other triages (`fresh`: reloaded)."""
    return Ports(
        exchange=_Exchange(ports.exchange, memo, "Exchange PowerShell", False, cache, fresh),
        exchange_online=_Exchange(
            ports.exchange_online, memo, "Exchange Online PowerShell", True, cache, fresh
        ),
        host=_Host(ports.host, memo),
        onprem_mailboxes=_Mailboxes(ports.onprem_mailboxes, memo, "Exchange Web Services (EWS)", "ews"),
        online_mailboxes=_Mailboxes(ports.online_mailboxes, memo, "Microsoft Graph", "graph"),
        probe=_Probe(ports.probe, memo),
        directory=_Directory(ports.directory, memo),
    )
