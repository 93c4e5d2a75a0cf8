"""The write cmdlets the lab takes from an account holding the write roles, changing the organisation it serves.

Each handler validates what Exchange would (the identity resolves, the values are of the right kind),
then replaces `ctx.scenario` with a copy that carries the change, so every simulator (PSRP, WS-Management,
EWS, Graph, IIS) answers from the new configuration at once. With -WhatIf nothing changes. A scenario's
`faults` can make a write fail (kind `error` on the cmdlet's name), to test a fix that stops halfway.
An exported certificate is a small blob naming the server and thumbprint, protected by the password it was
exported with: importing it with another password fails as Exchange does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from lab.exchange import objects as xo
from lab.psrp.wire import ErrorInfo, PsObject, PsValue
from lab.scenario.model import AvailabilityAddressSpace, CalendarPermission, Mailbox, Scenario, Server

__all__ = ["WRITE_CMDLETS", "Output", "WriteCall"]

_RUNTIME = (
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
    "System.Exception",
    "System.Object",
)


class WriteCall:
    """What a write handler gets: the lab context's scenario, the call's parameters, and a way to commit."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.ctx = call.ctx
        self.what_if = bool(call.params.get("whatif"))

    def text(self, key: str) -> str | None:
        value = self.call.params.get(key.lower())
        return None if value is None else str(value)

    def value(self, key: str) -> Any:
        return self.call.params.get(key.lower())

    def has(self, key: str) -> bool:
        return key.lower() in self.call.params

    def commit(self, scenario: Scenario) -> None:
        if not self.what_if:
            self.ctx.scenario = scenario

    def failed(self, message: str, category: str = "InvalidOperationException") -> ErrorInfo:
        return ErrorInfo(
            message,
            (f"Microsoft.Exchange.Configuration.Tasks.{category}", *_RUNTIME[2:]),
            self.call.failure_id(category),
            7,
            category,
            self.text("Identity") or "",
            "InvalidOperation",
        )


Output = list[PsObject | ErrorInfo]
_M = TypeVar("_M", bound=BaseModel)


def _replace(items: list[Any], match: Callable[[Any], bool], change: Callable[[Any], Any]) -> list[Any]:
    return [change(item) if match(item) else item for item in items]


def _update(model: _M, **changes: Any) -> _M:
    return model.model_copy(update=changes)


def _with_server(scenario: Scenario, server: Server, new: Server) -> Scenario:
    org = scenario.organization
    servers = _replace(org.servers, lambda s: s.name == server.name, lambda _s: new)
    return _update(scenario, organization=_update(org, servers=servers))


def _vdir_target(w: WriteCall, kind: str) -> tuple[Server, Any] | ErrorInfo:
    identity = w.text("Identity") or ""
    server_name, _, rest = identity.partition("\\")
    server = w.ctx.scenario.server(server_name)
    app = xo.VDIR_KINDS[kind][1]
    if server is None or not rest.lower().startswith(app.lower() + " ("):
        return cast(ErrorInfo, w.call.not_found(identity))
    return server, getattr(server.virtual_directories, kind)


def _set_vdir(kind: str) -> Callable[[WriteCall], Output]:
    def handler(w: WriteCall) -> Output:
        found = _vdir_target(w, kind)
        if isinstance(found, ErrorInfo):
            return [found]
        server, vdir = found
        changes: dict[str, Any] = {}
        if w.has("InternalUrl"):
            url = w.text("InternalUrl")
            if url is not None and not url.lower().startswith(("https://", "http://")):
                return [
                    w.failed(
                        f"Cannot bind parameter 'InternalUrl'. '{url}' is not a valid URL.",
                        "ParameterBindingException",
                    )
                ]
            changes["internal_url"] = url
        vdirs = _update(server.virtual_directories, **{kind: _update(vdir, **changes)})
        w.commit(_with_server(w.ctx.scenario, server, _update(server, virtual_directories=vdirs)))
        return []

    return handler


def _relationship_source(w: WriteCall) -> Any:
    return w.ctx.scenario.exchange_online if w.call.online else w.ctx.scenario.organization


def _commit_source(w: WriteCall, source: Any) -> None:
    if w.call.online:
        w.commit(_update(w.ctx.scenario, exchange_online=source))
    else:
        w.commit(_update(w.ctx.scenario, organization=source))


def _named(items: list[Any], identity: str | None) -> Any:
    wanted = (identity or "").lower()
    return next((i for i in items if i.name.lower() == wanted), None)


def _set_relationship(w: WriteCall) -> Output:
    source = _relationship_source(w)
    rel = _named(source.organization_relationships, w.text("Identity"))
    if rel is None:
        return [w.call.not_found(w.text("Identity") or "")]
    changes: dict[str, Any] = {}
    for param, field in (("Enabled", "enabled"), ("FreeBusyAccessEnabled", "free_busy_access_enabled")):
        if w.has(param):
            changes[field] = bool(w.value(param))
    if w.has("FreeBusyAccessLevel"):
        level = w.text("FreeBusyAccessLevel")
        if level not in ("None", "AvailabilityOnly", "LimitedDetails"):
            return [
                w.failed(
                    f"Cannot process argument transformation on parameter 'FreeBusyAccessLevel'. '{level}'",
                    "ParameterBindingException",
                )
            ]
        changes["free_busy_access_level"] = level
    new = _update(rel, **changes)
    rels = _replace(source.organization_relationships, lambda r: r is rel, lambda _r: new)
    _commit_source(w, _update(source, organization_relationships=rels))
    return []


def _add_remove(current: list[str], value: Any) -> list[str] | None:
    if not isinstance(value, dict):
        return None
    out = list(current)
    for item in _as_list(value.get("Add")):
        if item.lower() not in (d.lower() for d in out):
            out.append(item)
    removed = {item.lower() for item in _as_list(value.get("Remove"))}
    return [d for d in out if d.lower() not in removed]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _set_connector(w: WriteCall) -> Output:
    source = _relationship_source(w)
    ioc = _named(source.intra_organization_connectors, w.text("Identity"))
    if ioc is None:
        return [w.call.not_found(w.text("Identity") or "")]
    changes: dict[str, Any] = {}
    if w.has("TargetAddressDomains"):
        domains = _add_remove(ioc.target_address_domains, w.value("TargetAddressDomains"))
        if domains is None:
            domains = _as_list(w.value("TargetAddressDomains"))
        changes["target_address_domains"] = domains
    if w.has("Enabled"):
        changes["enabled"] = bool(w.value("Enabled"))
    new = _update(ioc, **changes)
    iocs = _replace(source.intra_organization_connectors, lambda c: c is ioc, lambda _c: new)
    _commit_source(w, _update(source, intra_organization_connectors=iocs))
    return []


def _set_exchange_server(w: WriteCall) -> Output:
    server = w.ctx.scenario.server(w.text("Identity") or "")
    if server is None:
        return [w.call.not_found(w.text("Identity") or "")]
    if w.has("InternetWebProxy"):
        w.commit(
            _with_server(
                w.ctx.scenario, server, _update(server, internet_web_proxy=w.text("InternetWebProxy"))
            )
        )
    return []


def _calendar_of(w: WriteCall) -> Mailbox | ErrorInfo:
    identity = w.text("Identity") or ""
    address, _, folder = identity.partition(":\\")
    box: Mailbox | None = w.ctx.scenario.mailbox(address)
    location = "online" if w.call.online else "onprem"
    if box is None or box.location != location or folder.lower() != "calendar":
        return cast(ErrorInfo, w.call.not_found(identity))
    return box


def _with_mailbox(scenario: Scenario, box: Mailbox, new: Mailbox) -> Scenario:
    return _update(
        scenario, mailboxes=_replace(scenario.mailboxes, lambda m: m.address == box.address, lambda _m: new)
    )


def _rights(w: WriteCall) -> list[str] | ErrorInfo:
    rights = _as_list(w.value("AccessRights"))
    allowed = {"None", "AvailabilityOnly", "LimitedDetails", "Reviewer", "Editor", "Author", "Owner"}
    if not rights or any(r not in allowed for r in rights):
        return w.failed(
            f"Cannot bind parameter 'AccessRights' to '{','.join(rights)}'.", "ParameterBindingException"
        )
    return rights


def _permission_user(w: WriteCall) -> str:
    user = w.text("User") or ""
    return "Default" if user.lower() == "default" else user


def _folder_permission(mode: str) -> Callable[[WriteCall], Output]:
    def handler(w: WriteCall) -> Output:
        box = _calendar_of(w)
        if isinstance(box, ErrorInfo):
            return [box]
        user = _permission_user(w)
        existing = next((p for p in box.calendar_permissions if p.user.lower() == user.lower()), None)
        if mode == "remove":
            if existing is None:
                return [
                    w.failed(
                        f"There is no existing permission entry found for user: {user}.",
                        "UserNotFoundInPermissionEntryException",
                    )
                ]
            permissions = [p for p in box.calendar_permissions if p is not existing]
        else:
            rights = _rights(w)
            if isinstance(rights, ErrorInfo):
                return [rights]
            if mode == "add" and existing is not None:
                return [
                    w.failed(
                        f"An existing permission entry was found for user: {user}.",
                        "UserAlreadyExistsInPermissionEntryException",
                    )
                ]
            if mode == "set" and existing is None:
                return [
                    w.failed(
                        f"There is no existing permission entry found for user: {user}.",
                        "UserNotFoundInPermissionEntryException",
                    )
                ]
            entry = CalendarPermission(user=user, access_rights=rights)
            permissions = (
                [entry if p is existing else p for p in box.calendar_permissions]
                if existing is not None
                else [*box.calendar_permissions, entry]
            )
        w.commit(_with_mailbox(w.ctx.scenario, box, _update(box, calendar_permissions=permissions)))
        return []

    return handler


def _remove_address_space(w: WriteCall) -> Output:
    org = w.ctx.scenario.organization
    wanted = (w.text("Identity") or "").lower()
    space = next((s for s in org.availability_address_spaces if s.forest_name.lower() == wanted), None)
    if space is None:
        return [w.call.not_found(w.text("Identity") or "")]
    spaces = [s for s in org.availability_address_spaces if s is not space]
    w.commit(_update(w.ctx.scenario, organization=_update(org, availability_address_spaces=spaces)))
    return []


def _add_address_space(w: WriteCall) -> Output:
    org = w.ctx.scenario.organization
    forest = w.text("ForestName") or ""
    if any(s.forest_name.lower() == forest.lower() for s in org.availability_address_spaces):
        return [
            w.failed(
                f"An availability address space for {forest} already exists.",
                "ADObjectAlreadyExistsException",
            )
        ]
    space = AvailabilityAddressSpace(
        forest_name=forest,
        access_method=w.text("AccessMethod") or "PerUserFB",  # type: ignore[arg-type]
        proxy_url=w.text("ProxyUrl"),
        use_service_account=bool(w.value("UseServiceAccount")),
    )
    spaces = [*org.availability_address_spaces, space]
    w.commit(_update(w.ctx.scenario, organization=_update(org, availability_address_spaces=spaces)))
    return []


def _blob_key(password: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), b"lab-pfx", 1000)


def _export_certificate(w: WriteCall) -> Output:
    server = w.ctx.scenario.server(w.text("Server") or "")
    thumbprint = (w.text("Thumbprint") or "").upper()
    if server is None:
        return [w.call.not_found(w.text("Server") or "")]
    cert = next((c for c in server.certificates if c.thumbprint == thumbprint), None)
    if cert is None:
        return [w.call.not_found(thumbprint)]
    password = w.value("Password")
    if not isinstance(password, str) or not password:
        return [w.failed("A password is required to export a certificate with its private key.")]
    if not cert.has_private_key:
        return [
            w.failed("The private key couldn't be exported as PKCS-12.", "PrivateKeyNotExportableException")
        ]
    body = json.dumps({"server": server.name, "thumbprint": thumbprint}).encode()
    mac = hmac.new(_blob_key(password), body, "sha256").digest()
    data = b"LABPFX1" + mac + body
    props: dict[str, PsValue] = {"FileData": data, "Thumbprint": thumbprint}
    return [
        PsObject(
            ("System.Management.Automation.PSCustomObject", "System.Object"), props, "BinaryFileDataObject"
        )
    ]


def _import_certificate(w: WriteCall) -> Output:
    server = w.ctx.scenario.server(w.text("Server") or "")
    if server is None:
        return [w.call.not_found(w.text("Server") or "")]
    data, password = w.value("FileData"), w.value("Password")
    if not isinstance(data, bytes) or not data.startswith(b"LABPFX1") or not isinstance(password, str):
        return [w.failed("The certificate data is not a valid PKCS-12 file.", "InvalidOperationException")]
    mac, body = data[7:39], data[39:]
    if not hmac.compare_digest(mac, hmac.new(_blob_key(password), body, "sha256").digest()):
        return [w.failed("The specified network password is not correct.", "CryptographicException")]
    origin = json.loads(body)
    source = w.ctx.scenario.server(origin["server"])
    cert = next(
        (c for c in (source.certificates if source else []) if c.thumbprint == origin["thumbprint"]), None
    )
    if cert is None:
        return [w.failed("The certificate data refers to a certificate that no longer exists.")]
    if any(c.thumbprint == cert.thumbprint for c in server.certificates):
        return [
            w.failed(
                f"The certificate with thumbprint {cert.thumbprint} already exists.",
                "CertificateAlreadyExistsException",
            )
        ]
    w.commit(_with_server(w.ctx.scenario, server, _update(server, certificates=[*server.certificates, cert])))
    new_server = w.ctx.scenario.server(server.name) if not w.what_if else server
    assert new_server is not None
    return [] if w.what_if else [xo.certificate(w.ctx, new_server, cert)]


# cmdlet -> (handler, its parameters beyond Identity and the common ones)
WRITE_CMDLETS: dict[str, tuple[Callable[[WriteCall], Output], tuple[str, ...]]] = {
    "Set-OwaVirtualDirectory": (_set_vdir("owa"), ("InternalUrl", "WhatIf")),
    "Set-EcpVirtualDirectory": (_set_vdir("ecp"), ("InternalUrl", "WhatIf")),
    "Set-OrganizationRelationship": (
        _set_relationship,
        ("Enabled", "FreeBusyAccessEnabled", "FreeBusyAccessLevel", "WhatIf"),
    ),
    "Set-IntraOrganizationConnector": (_set_connector, ("TargetAddressDomains", "Enabled", "WhatIf")),
    "Set-ExchangeServer": (_set_exchange_server, ("InternetWebProxy", "WhatIf")),
    "Set-MailboxFolderPermission": (_folder_permission("set"), ("User", "AccessRights", "WhatIf")),
    "Add-MailboxFolderPermission": (_folder_permission("add"), ("User", "AccessRights", "WhatIf")),
    "Remove-MailboxFolderPermission": (_folder_permission("remove"), ("User", "Confirm", "WhatIf")),
    "Remove-AvailabilityAddressSpace": (_remove_address_space, ("Confirm", "WhatIf")),
    "Add-AvailabilityAddressSpace": (
        _add_address_space,
        ("ForestName", "AccessMethod", "UseServiceAccount", "ProxyUrl", "WhatIf"),
    ),
    "Export-ExchangeCertificate": (
        _export_certificate,
        ("Server", "Thumbprint", "BinaryEncoded", "Password"),
    ),
    "Import-ExchangeCertificate": (_import_certificate, ("Server", "FileData", "Password")),
}
