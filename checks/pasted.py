"""Ports that answer from command output an admin pasted back, in front of (or instead of) the live ones.

When a backend is not configured or not reachable, a check offers the commands to run
(`checks.remedies`); `knowledge.reader.command_output` reads what they print into sections (cmdlet,
parameters, objects). These ports answer the same calls the live ones do from those sections, so the
same check logic reads pasted evidence like any other. A call the paste does not answer goes to the
live port behind, or, with none, is reported as not configured (the check is skipped, remedy shown).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.errors import BackendError, CommandFailed, NotConfigured, NotFound
from checks.ports import (
    DirectoryPort,
    ExchangePort,
    FreeBusy,
    HostPort,
    KeyCredential,
    MailboxPort,
    Permission,
    Ports,
    Row,
    Subscription,
)
from checks.values import strings, text, when

__all__ = ["NotPasted", "PastedDirectory", "PastedExchange", "PastedHost", "PastedMailboxes", "with_pasted"]

# Switches that change how a cmdlet reads, not what it returns.
_IGNORED = frozenset({"adpropertiesonly", "bypassadditionaldomainvalidation", "erroraction"})
_SERVER_PROPS = ("ServerName", "Server", "PSComputerName", "Identity")
_IDENTITY_PROPS = (
    "PrimarySmtpAddress",
    "UserPrincipalName",
    "WindowsEmailAddress",
    "Alias",
    "Name",
    "Identity",
)


class NotPasted(NotConfigured):
    """No backend is configured and the pasted output does not hold this command's answer."""

    def __init__(self, backend: str, what: str) -> None:
        BackendError.__init__(
            self,
            backend,
            f"No {backend} connection is configured and the pasted output has no {what}, so this could not be looked up.",
        )


class Incomplete(BackendError):
    """The pasted output cut values off (Format-List's `...`): reading it could mislead."""


@dataclass(frozen=True)
class _Section:
    source: str
    command: str
    params: dict[str, str]
    server: str
    rows: list[Row]
    truncated: list[str]
    error: str
    not_found: bool

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _Section:
        params = {str(k).lower(): str(v).lower() for k, v in dict(data.get("params") or {}).items()}
        return cls(
            source=str(data.get("source", "")),
            command=str(data.get("command", "")).lower(),
            params={k: v for k, v in params.items() if k not in _IGNORED},
            server=str(data.get("server", "")).split(".", 1)[0].lower(),
            rows=[dict(r) for r in data.get("rows") or [] if isinstance(r, Mapping)],
            truncated=[str(t) for t in data.get("truncated") or []],
            error=str(data.get("error") or ""),
            not_found=bool(data.get("not_found")),
        )

    def answer(self, backend: str, shown: str) -> list[Row]:
        if self.error and not self.rows:
            raise (NotFound if self.not_found else CommandFailed)(backend, f"{shown}: {self.error}")
        if self.truncated:
            raise Incomplete(
                backend,
                f"The pasted output of {shown} cut {', '.join(self.truncated)} off ('...'): run "
                "$FormatEnumerationLimit = -1 first, then the command again, and paste it again.",
            )
        return copy.deepcopy(self.rows)


def _normal(params: Mapping[str, Any] | None) -> dict[str, str]:
    return {k.lower(): str(v).lower() for k, v in (params or {}).items() if k.lower() not in _IGNORED}


def _first_label(value: str) -> str:
    return value.split("\\", 1)[0].split(".", 1)[0].lower()


def _matches(row: Row, name: str, wanted: str) -> bool:
    if name == "server":
        return any(_first_label(text(row, p)) == _first_label(wanted) for p in _SERVER_PROPS if text(row, p))
    if name == "identity":
        return any(text(row, p).lower() == wanted for p in _IDENTITY_PROPS)
    if name == "thumbprint":
        return text(row, "Thumbprint").lower() == wanted
    return False


def _filtered(section: _Section, wanted: dict[str, str]) -> list[Row] | None:
    """The rows of a more general section (no -Server, no -Identity) that answer `wanted`; None when it
    cannot say (another parameter differs, or no row names what is asked for)."""
    if any(wanted.get(k) != v for k, v in section.params.items()):
        return None
    extra = {k: v for k, v in wanted.items() if k not in section.params}
    if any(k not in ("server", "identity", "thumbprint") for k in extra):
        return None
    rows = [r for r in section.rows if all(_matches(r, k, v) for k, v in extra.items())]
    return rows or None


class PastedExchange:
    """An ExchangePort answering from pasted sections of one source (exchange or exchange_online)."""

    def __init__(self, sections: Sequence[_Section], inner: ExchangePort | None, backend: str) -> None:
        self._sections, self._inner, self._backend = sections, inner, backend

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        mine = [s for s in self._sections if s.command == cmdlet.lower()]
        wanted = _normal(params)
        shown = " ".join(
            [cmdlet, *(f"-{k}" if v is True else f"-{k} {v}" for k, v in (params or {}).items())]
        )
        for section in reversed(mine):  # the latest paste wins
            if section.params == wanted:
                return section.answer(self._backend, shown)
        for section in reversed(mine):
            rows = _filtered(section, wanted)
            if rows is not None:
                return dataclasses.replace(section, rows=rows).answer(self._backend, shown)
        if self._inner is not None:
            return await self._inner.run(cmdlet, params)
        raise NotPasted(self._backend, f"output of {shown}")


# ---- host templates: the pasted records back into each template's answer ------------------------


def _registry_key(path: str) -> str:
    key = path.strip().lower().removeprefix("microsoft.powershell.core\\").removeprefix("registry::")
    key = key.replace("hkey_local_machine", "hklm:").replace("hklm:\\\\", "hklm:\\")
    return key.replace(":\\\\", ":\\").rstrip("\\")


def _registry_values(rows: list[Row], args: Mapping[str, Any]) -> Any:
    wanted = _registry_key(str(args.get("path", "")))
    row = next((r for r in rows if _registry_key(text(r, "PSPath")) == wanted), {})
    by_name = {k.lower(): v for k, v in row.items()}
    return {name: by_name.get(str(name).lower()) for name in args.get("names") or []}


def _iis_ssl(rows: list[Row], args: Mapping[str, Any]) -> Any:
    by_path = {text(r, "path").strip("/").lower(): r for r in rows}
    out = []
    for path in args.get("paths") or []:
        row = by_path.get(str(path).strip("/").lower())
        if row is not None:
            flags = text(row, "ssl_flags")
            out.append(
                {
                    "path": path,
                    "ssl_flags": flags,
                    "require_ssl": "ssl" in [f.strip() for f in flags.lower().split(",")],
                }
            )
    return out


def _win_events(rows: list[Row], args: Mapping[str, Any]) -> Any:
    providers = {str(p).lower() for p in args.get("providers") or []}
    ids = {int(i) for i in args.get("ids") or []}
    events = []
    for row in rows:
        created = when(row.get("TimeCreated"))
        event_id = row.get("Id")
        if providers and text(row, "ProviderName").lower() not in providers:
            continue
        # No time filter: the command pasted asked for the last day in the admin's own time zone.
        if ids and event_id not in ids:
            continue
        events.append((created or datetime.datetime.min.replace(tzinfo=datetime.UTC), row))
    events.sort(key=lambda pair: pair[0], reverse=True)
    return [
        {
            "time_created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "provider": text(row, "ProviderName"),
            "id": row.get("Id"),
            "level": text(row, "LevelDisplayName"),
            "message": text(row, "Message"),
        }
        for created, row in events[: int(args.get("max") or 100)]
    ]


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _clock(rows: list[Row], args: Mapping[str, Any]) -> Any:
    row = rows[0] if rows else {}
    return {
        "utc": text(row, "utc"),
        "source": text(row, "source"),
        "offset_seconds": _number(row.get("offset_seconds")),
    }


def _outbound(rows: list[Row], args: Mapping[str, Any]) -> Any:
    return [
        {"url": text(r, "url"), "status": int(s) if (s := _number(r.get("status"))) is not None else None,
         "error": text(r, "error") or None}
        for r in rows
    ]  # fmt: skip


def _kind(rows: list[Row], kind: str) -> list[Row]:
    return [r for r in rows if text(r, "kind").lower() == kind]


def _services(rows: list[Row], args: Mapping[str, Any]) -> Any:
    return {
        "stopped_services": [text(r, "name") for r in _kind(rows, "service")],
        "app_pools": [{"name": text(r, "name"), "state": text(r, "state")} for r in _kind(rows, "app pool")],
    }


def _iis_config(rows: list[Row], args: Mapping[str, Any]) -> Any:
    return {
        "back_end": [
            {"binding": text(r, "binding"), "certificate_hash": text(r, "certificate_hash"),
             "certificate_found": r.get("certificate_found") is True}
            for r in _kind(rows, "binding")
        ],
        "handlers": [
            {"path": text(r, "path"), "svc_integrated": r.get("svc_integrated") is True} for r in _kind(rows, "handler")
        ],
    }  # fmt: skip


HostAdapter = Callable[[list[Row], Mapping[str, Any]], Any]
HOST_ADAPTERS: dict[str, HostAdapter] = {
    "registry-values": _registry_values,
    "iis-ssl": _iis_ssl,
    "win-events": _win_events,
    "clock": _clock,
    "outbound": _outbound,
    "services": _services,
    "iis-config": _iis_config,
}


class PastedHost:
    """A HostPort answering a server's templates from sections pasted from that server."""

    def __init__(self, sections: Sequence[_Section], inner: HostPort | None) -> None:
        self._sections, self._inner = sections, inner

    async def run(self, server: str, template: str, args: Mapping[str, Any]) -> Any:
        adapter = HOST_ADAPTERS.get(template)
        wanted = _first_label(server)
        found = [s for s in self._sections if s.command == template and s.server == wanted]
        if adapter is not None and found:
            section = found[-1]
            if section.error and not section.rows:
                raise CommandFailed("Windows remote management (WinRM)", f"{server}: {section.error}")
            return adapter(copy.deepcopy(section.rows), args)
        if self._inner is not None:
            return await self._inner.run(server, template, args)
        raise NotPasted(
            "Windows remote management (WinRM)", f"output of the {template} command from {server}"
        )


class PastedMailboxes:
    """Calendar permissions from a pasted Get-MailboxFolderPermission; the rest from the live port."""

    def __init__(
        self, sections: Sequence[_Section], inner: MailboxPort | None, name: str, protocol: str
    ) -> None:
        self._sections, self._inner, self._name = sections, inner, name
        self.protocol = inner.protocol if inner is not None else protocol
        people = [r for s in sections if s.command in ("get-mailbox", "get-remotemailbox") for r in s.rows]
        self._addresses = {
            text(r, "DisplayName").lower(): text(r, "PrimarySmtpAddress")
            for r in people
            if text(r, "DisplayName")
        }

    def _live(self, what: str) -> MailboxPort:
        if self._inner is None:
            raise NotPasted(self._name, what)
        return self._inner

    async def calendar_permissions(self, mailbox: str) -> list[Permission]:
        wanted = f"{mailbox.lower()}:\\calendar"
        found = [
            s
            for s in self._sections
            if s.command == "get-mailboxfolderpermission" and s.params.get("identity") == wanted
        ]
        if not found:
            return await self._live(f"Get-MailboxFolderPermission output for {mailbox}").calendar_permissions(
                mailbox
            )
        rows = found[-1].answer(self._name, f"Get-MailboxFolderPermission -Identity {mailbox}:\\Calendar")
        return [
            Permission(
                self._addresses.get(text(r, "User").lower(), text(r, "User")),
                ", ".join(strings(r, "AccessRights")),
            )
            for r in rows
            if text(r, "User")
        ]

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]:
        return await self._live("hidden sharing subscriptions").sharing_subscriptions(mailbox)

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        return await self._live("free/busy answer").free_busy(requester, target, start, end)


class PastedDirectory:
    """Applications' certificates from a pasted listing of the service principals that have some."""

    def __init__(self, sections: Sequence[_Section], inner: DirectoryPort | None) -> None:
        self._sections, self._inner = sections, inner

    async def key_credentials(self, app_id: str) -> list[KeyCredential]:
        found = [s for s in self._sections if s.command == "get-mgserviceprincipal" and not s.params]
        if found:
            # The listing holds every service principal with a certificate: one absent has none.
            rows = found[-1].answer("Microsoft Graph", "Get-MgServicePrincipal")
            return [
                KeyCredential(
                    text(r, "Thumbprint").upper(),
                    text(r, "KeyId"),
                    text(r, "DisplayName"),
                    text(r, "EndDateTime"),
                )
                for r in rows
                if text(r, "AppId").lower() == app_id.lower()
            ]
        if self._inner is not None:
            return await self._inner.key_credentials(app_id)
        raise NotPasted("Microsoft Graph (directory)", "output of Get-MgServicePrincipal")


def with_pasted(ports: Ports, pasted: Sequence[Mapping[str, Any]]) -> Ports:
    """`ports` with the pasted sections answering first; `ports` itself when nothing was pasted."""
    if not pasted:
        return ports
    sections = [_Section.of(s) for s in pasted if isinstance(s, Mapping)]

    def of(source: str) -> list[_Section]:
        return [s for s in sections if s.source == source]

    exchange = of("exchange")
    return Ports(
        exchange=PastedExchange(exchange, ports.exchange, "Exchange PowerShell"),
        exchange_online=PastedExchange(
            of("exchange_online"), ports.exchange_online, "Exchange Online PowerShell"
        ),
        host=PastedHost(of("host"), ports.host),
        onprem_mailboxes=PastedMailboxes(
            exchange, ports.onprem_mailboxes, "Exchange Web Services (EWS)", "ews"
        ),
        online_mailboxes=PastedMailboxes(
            of("exchange_online"), ports.online_mailboxes, "Microsoft Graph", "graph"
        ),
        probe=ports.probe,
        directory=PastedDirectory(of("graph"), ports.directory),
    )
