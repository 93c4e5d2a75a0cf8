"""The ports checks talk to. Live backends and the fakes in `checks.testing` implement them.

Every port is read-only and async; a backend that cannot answer raises a `checks.errors.BackendError`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "DirectoryPort",
    "ExchangePort",
    "FreeBusy",
    "HostPort",
    "KeyCredential",
    "MailboxPort",
    "Permission",
    "Ports",
    "PortsFactory",
    "ProbeAnswer",
    "ProbePort",
    "Row",
    "Subscription",
]

Row = dict[str, Any]
"""One object a cmdlet returned: Exchange's property names to plain JSON-like values."""


class ExchangePort(Protocol):
    """Exchange cmdlets (a read-only allow-list) with named parameters; never script text."""

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...


class HostPort(Protocol):
    """Fixed read-only PowerShell templates (`checks.host_templates`) run on one Windows server."""

    async def run(self, server: str, template: str, args: Mapping[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Permission:
    """One entry of a calendar's permission set. `user` is Default, Anonymous or an address."""

    user: str
    access_rights: str  # Exchange's role name: None, AvailabilityOnly, LimitedDetails, Reviewer, ...


@dataclass(frozen=True)
class Subscription:
    """A hidden IPM.ExternalSharingSubscription item in a mailbox's \\root\\Sharing folder."""

    sharer: str
    url: str
    folder: str = ""


@dataclass(frozen=True)
class FreeBusy:
    """What a live free/busy request answered: the schedule, or the error the server returned."""

    ok: bool
    error_code: str = ""
    error_message: str = ""
    slots: int = 0


class MailboxPort(Protocol):
    """A mailbox's calendar as the mail server shows it (EWS on-premises, Graph online)."""

    protocol: str

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]: ...

    async def calendar_permissions(self, mailbox: str) -> list[Permission]: ...

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy: ...


@dataclass(frozen=True)
class ProbeAnswer:
    url: str
    tls_ok: bool
    cert_name_ok: bool | None = None
    cert_trusted: bool | None = None
    status: int | None = None
    error: str = ""
    cert_subject: str = ""
    server_header: str = ""


@dataclass(frozen=True)
class KeyCredential:
    """A certificate an Entra application (service principal) accepts: its SHA-1 thumbprint, upper-case."""

    thumbprint: str
    key_id: str = ""
    display_name: str = ""
    end: str = ""


class DirectoryPort(Protocol):
    """Microsoft Entra ID, read-only: the certificates an application's service principal accepts."""

    async def key_credentials(self, app_id: str) -> list[KeyCredential]: ...


class ProbePort(Protocol):
    """An HTTPS request to a URL: TLS handshake, certificate name and trust, HTTP status."""

    async def probe(self, url: str) -> ProbeAnswer: ...


@dataclass(frozen=True)
class Ports:
    """The ports one triage uses; None where no backend is configured."""

    exchange: ExchangePort | None = None
    exchange_online: ExchangePort | None = None
    host: HostPort | None = None
    onprem_mailboxes: MailboxPort | None = None
    online_mailboxes: MailboxPort | None = None
    probe: ProbePort | None = None
    directory: DirectoryPort | None = None

    def as_mapping(self) -> Mapping[str, object | None]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class PortsFactory(Protocol):
    """Opens the ports for one triage (one WinRM shell per server, PSRP pools...) and closes them after."""

    def __call__(self) -> AbstractAsyncContextManager[Ports]: ...
