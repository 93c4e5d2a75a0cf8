"""Fakes of our own ports, for tests of the checks and the runner (and for anyone driving the runner offline).

Each fake answers from plain data, records every call, and can add latency or fail chosen operations,
so tests can show what reached the port and how checks behave when a backend is slow or down.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from checks.errors import NotFound
from checks.ports import (
    FreeBusy,
    KeyCredential,
    Permission,
    Ports,
    PortsFactory,
    ProbeAnswer,
    Row,
    Subscription,
)

__all__ = [
    "FakeDirectory",
    "FakeExchange",
    "FakeHost",
    "FakeMailboxes",
    "FakeProbe",
    "by_identity",
    "by_server",
    "fixed_ports",
]

Answer = list[Row] | Callable[[Mapping[str, Any]], list[Row]]


@dataclass
class _Fake:
    latency: float = 0.0
    failures: dict[str, Exception] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)  # operation -> extra seconds
    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def _enter(self, operation: str, args: Any) -> None:
        self.calls.append((operation, copy.deepcopy(args)))
        wait = self.latency + self.delays.get(operation, 0.0)
        if wait:
            await asyncio.sleep(wait)
        failure = self.failures.get(operation)
        if failure is not None:
            raise failure

    def called(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls if op == operation)


@dataclass
class FakeExchange(_Fake):
    """Cmdlet name -> rows, or a function of the parameters returning rows. Unknown cmdlets answer []."""

    answers: dict[str, Answer] = field(default_factory=dict)

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        await self._enter(cmdlet, dict(params or {}))
        answer = self.answers.get(cmdlet, [])
        rows = answer(params or {}) if callable(answer) else answer
        return copy.deepcopy(rows)


def by_identity(rows: list[Row], key: str = "PrimarySmtpAddress") -> Callable[[Mapping[str, Any]], list[Row]]:
    """An answer for `Get-Mailbox -Identity x`: the matching row, or Exchange's not-found error."""

    def answer(params: Mapping[str, Any]) -> list[Row]:
        wanted = str(params.get("Identity", "")).lower()
        found = [r for r in rows if str(r.get(key, "")).lower() == wanted]
        if not found:
            raise NotFound(
                "Exchange",
                f"The operation couldn't be performed because object '{wanted}' couldn't be found.",
            )
        return found

    return answer


def by_server(rows: Mapping[str, list[Row]]) -> Callable[[Mapping[str, Any]], list[Row]]:
    """An answer for `Get-ExchangeCertificate -Server X`: that server's rows."""

    def answer(params: Mapping[str, Any]) -> list[Row]:
        wanted = str(params.get("Server", "")).lower()
        for name, found in rows.items():
            if name.lower() == wanted:
                return found
        raise NotFound("Exchange", f"The server '{wanted}' couldn't be found.")

    return answer


@dataclass
class FakeHost(_Fake):
    """(server, template) -> answer, or a function of (server, template, args). Templates fail with `failures`
    keyed by template id or 'server/template'."""

    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    handler: Callable[[str, str, Mapping[str, Any]], Any] | None = None

    async def run(self, server: str, template: str, args: Mapping[str, Any]) -> Any:
        failure = self.failures.get(f"{server.lower()}/{template}")
        await self._enter(template, {"server": server, **dict(args)})
        if failure is not None:
            raise failure
        if self.handler is not None:
            return copy.deepcopy(self.handler(server, template, args))
        return copy.deepcopy(self.answers.get((server.lower(), template)))


@dataclass
class FakeMailboxes(_Fake):
    protocol: str = "ews"
    subscriptions: dict[str, list[Subscription]] = field(default_factory=dict)
    permissions: dict[str, list[Permission]] = field(default_factory=dict)
    free_busy_answers: dict[tuple[str, str], FreeBusy] = field(default_factory=dict)

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]:
        await self._enter("subscriptions", mailbox)
        return list(self.subscriptions.get(mailbox.lower(), []))

    async def calendar_permissions(self, mailbox: str) -> list[Permission]:
        await self._enter("permissions", mailbox)
        return list(self.permissions.get(mailbox.lower(), []))

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        await self._enter("free_busy", [requester, target, start.isoformat(), end.isoformat()])
        return self.free_busy_answers.get((requester.lower(), target.lower()), FreeBusy(ok=True, slots=1))


@dataclass
class FakeProbe(_Fake):
    """URL -> answer; any other URL answers `default_status` over good TLS (with `server_header`), or,
    with `default_error`, fails to connect with that error."""

    answers: dict[str, ProbeAnswer] = field(default_factory=dict)
    default_status: int = 200
    default_error: str = ""
    server_header: str = ""

    async def probe(self, url: str) -> ProbeAnswer:
        await self._enter("probe", url)
        if url in self.answers:
            return self.answers[url]
        if self.default_error:
            return ProbeAnswer(url=url, tls_ok=False, error=self.default_error)
        return ProbeAnswer(
            url=url,
            tls_ok=True,
            cert_name_ok=True,
            cert_trusted=True,
            status=self.default_status,
            server_header=self.server_header,
        )


@dataclass
class FakeDirectory(_Fake):
    """App id -> the certificates its service principal accepts; an unknown app is not found."""

    apps: dict[str, list[KeyCredential]] = field(default_factory=dict)

    async def key_credentials(self, app_id: str) -> list[KeyCredential]:
        await self._enter("key_credentials", app_id)
        if app_id.lower() not in self.apps:
            raise NotFound("Microsoft Graph", f"Request_ResourceNotFound: no service principal for {app_id}")
        return list(self.apps[app_id.lower()])


def fixed_ports(ports: Ports) -> PortsFactory:
    """A ports factory that hands out the same ports for every triage (fakes need no opening)."""

    @asynccontextmanager
    async def open_ports() -> AsyncIterator[Ports]:
        yield ports

    return open_ports
