"""What a check sees: the facts known so far, the triage's memoised ports, the clock, shared views."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from checks.api import CheckStatus, Evidence
from checks.ports import DirectoryPort, ExchangePort, HostPort, MailboxPort, Ports, ProbePort
from checks.safety import valid_address

__all__ = ["CheckContext", "Finding"]

T = TypeVar("T")


@dataclass(frozen=True)
class Finding:
    """What a check function returns; the runner adds the id, duration and remedy."""

    status: CheckStatus
    summary: str
    evidence: tuple[Evidence, ...] | list[Evidence] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class CheckContext:
    facts: Mapping[str, Any]
    ports: Ports
    now: datetime.datetime
    _views: dict[str, asyncio.Task[Any]] = field(default_factory=dict)

    def address(self, name: str) -> str | None:
        """The validated address in fact `name` (requester, target), None when unknown."""
        value = self.facts.get(name)
        return None if value in (None, "") else valid_address(value)

    async def view(self, key: str, build: Callable[[CheckContext], Awaitable[T]]) -> T:
        """A derived view (the organisation, the pair) built once per triage and shared by every check."""
        result: T = await asyncio.shield(self.start(key, build))
        return result

    def start(self, key: str, build: Callable[[CheckContext], Awaitable[T]]) -> asyncio.Task[T]:
        """Start building a view now, for a check that will want it later."""
        task = self._views.get(key)
        if task is None:
            task = asyncio.ensure_future(build(self))
            task.add_done_callback(_retrieved)  # a failure is reported by whoever awaits the view
            self._views[key] = task
        return task

    async def drain(self) -> None:
        for task in self._views.values():
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._views.values(), return_exceptions=True)

    @property
    def exchange(self) -> ExchangePort:
        return _present(self.ports.exchange)

    @property
    def exchange_online(self) -> ExchangePort:
        return _present(self.ports.exchange_online)

    @property
    def host(self) -> HostPort:
        return _present(self.ports.host)

    def mailboxes(self, location: str) -> MailboxPort:
        port = self.ports.online_mailboxes if location == "online" else self.ports.onprem_mailboxes
        return _present(port)

    @property
    def probe(self) -> ProbePort:
        return _present(self.ports.probe)

    @property
    def directory(self) -> DirectoryPort:
        return _present(self.ports.directory)


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _present(port: T | None) -> T:
    # The runner memoises the ports, which turns a missing backend into one raising NotConfigured.
    if port is None:
        raise RuntimeError("the runner hands checks memoised ports; a missing port means it was bypassed")
    return port
