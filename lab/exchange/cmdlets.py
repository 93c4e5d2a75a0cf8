"""The read-only Exchange cmdlets the lab answers, from scenario data, as a restricted endpoint would.

`run_pipeline` takes the commands of one PSRP pipeline and returns output objects, non-terminating
error records (an identity that does not resolve) or a terminating error (an unknown cmdlet or
parameter), the way the `Microsoft.Exchange` endpoint reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from lab.context import LabContext
from lab.exchange import cmdlet_tests, directory, writes
from lab.exchange import objects as xo
from lab.psrp.wire import Command, ErrorInfo, PsObject, PsValue
from lab.scenario.model import Server

__all__ = ["CmdletResult", "cmdlet_names", "run_pipeline"]

_COMMON = frozenset(
    name.lower()
    for name in (
        "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable", "WarningVariable",
        "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "Verbose", "Debug",
        "DomainController", "ResultSize",
    )
)  # fmt: skip
_RUNTIME = (
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
    "System.Exception",
    "System.Object",
)
_NOT_FOUND_TYPES = (
    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
    "Microsoft.Exchange.Data.Common.LocalizedException",
    *_RUNTIME[2:],
)


@dataclass
class CmdletResult:
    objects: list[PsValue] = field(default_factory=list)
    errors: list[ErrorInfo] = field(default_factory=list)
    failure: ErrorInfo | None = None  # terminating: the pipeline ends Failed


@dataclass(frozen=True)
class Call:
    ctx: LabContext
    name: str
    params: dict[str, PsValue]  # keys lower-cased
    online: bool = False  # the Exchange Online view of the tenant instead of the on-premises one

    def text(self, key: str) -> str | None:
        value = self.params.get(key.lower())
        return None if value is None else str(value)

    @property
    def identity(self) -> str | None:
        return self.text("Identity")

    def failure_id(self, category: str) -> str:
        server = _connected_server(self.ctx)
        return f"[Server={server}] [FailureCategory=Cmdlet-{category}] 5F6D3A21,{self.name}"

    def not_found(self, identity: str) -> ErrorInfo:
        domain_controller = f"dc01.{self.ctx.scenario.organization.forest}"
        return ErrorInfo(
            message=f"The operation couldn't be performed because object '{identity}' couldn't be found on '{domain_controller}'.",
            exception_types=_NOT_FOUND_TYPES,
            fully_qualified_error_id=self.failure_id("ManagementObjectNotFoundException"),
            category=13,
            category_reason="ManagementObjectNotFoundException",
            target_name=identity,
            category_text="ObjectNotFound",
        )


Output = Iterable[PsObject | ErrorInfo]
Handler = Callable[[Call], Output]


@dataclass(frozen=True)
class Cmdlet:
    handler: Handler
    parameters: frozenset[str]


def _connected_server(ctx: LabContext) -> str:
    """The server a remote session lands on: the first one in an Internet-facing site."""
    org = ctx.scenario.organization
    facing = {site.name for site in org.sites if site.internet_facing}
    return next((s.name for s in org.servers if s.site in facing), org.servers[0].name)


def _by_identity(call: Call, objects: Iterable[PsObject]) -> Output:
    """All objects, or the one whose Name or Identity matches -Identity (else a not-found error)."""
    wanted = call.identity
    objects = list(objects)
    if wanted is None:
        return objects
    match = [
        o
        for o in objects
        if wanted.lower() in (str(o.properties.get("Name", "")).lower(), o.to_string.lower())
    ]
    return match or [call.not_found(wanted)]


def _servers(call: Call) -> list[str] | ErrorInfo:
    """Names of the servers -Server selects (all without it)."""
    servers = call.ctx.scenario.organization.servers
    wanted = call.text("Server")
    if wanted is None:
        return [s.name for s in servers]
    server = call.ctx.scenario.server(wanted)
    return [server.name] if server else call.not_found(wanted)


# ---- organisation configuration ----------------------------------------------------------------


def _exchange_servers(call: Call) -> Output:
    return _by_identity(
        call, (xo.exchange_server(call.ctx, s) for s in call.ctx.scenario.organization.servers)
    )


def _ad_sites(call: Call) -> Output:
    return _by_identity(call, (xo.ad_site(call.ctx, s.name) for s in call.ctx.scenario.organization.sites))


def _certificates(call: Call) -> Output:
    names = _servers(call) if call.text("Server") else [_connected_server(call.ctx)]
    if isinstance(names, ErrorInfo):
        return [names]
    thumbprint = (call.text("Thumbprint") or "").upper() or None
    out: list[PsObject | ErrorInfo] = []
    for name in names:
        server = call.ctx.scenario.server(name)
        assert server is not None
        found = [c for c in server.certificates if thumbprint in (None, c.thumbprint)]
        out += [xo.certificate(call.ctx, server, c) for c in found]
        if thumbprint and not found:
            out.append(call.not_found(thumbprint))
    return out


def _federation_trust_certificates(call: Call) -> Output:
    trust = call.ctx.scenario.organization.federation_trust
    if trust is None:
        return []
    thumbprints = [
        t for t in (trust.org_certificate, trust.org_prev_certificate, trust.org_next_certificate) if t
    ]
    org = call.ctx.scenario.organization
    rows = []
    for server in org.servers:
        for thumbprint in thumbprints:
            installed = any(c.thumbprint == thumbprint and c.has_private_key for c in server.certificates)
            props: dict[str, PsValue] = {
                "Site": xo.site_id(org, server.site),
                "Server": server.name,
                "State": "Installed" if installed else "NotInstalled",
                "Thumbprint": thumbprint,
            }
            type_name = (
                "Microsoft.Exchange.Management.SystemConfigurationTasks.FederationTrustCertificateState"
            )
            rows.append(PsObject((type_name, "System.Object"), props, server.name))
    return rows


def _federation_information(call: Call) -> Output:
    domain = call.text("DomainName")
    if domain is None:
        return [_missing_argument(call, "DomainName")]
    info = xo.federation_information(call.ctx, domain)
    if info is not None:
        return [info]
    exception = "Microsoft.Exchange.Management.SystemConfigurationTasks.FederationInformationException"
    return [
        ErrorInfo(
            "Federation information could not be received from the external organization.",
            (exception, "Microsoft.Exchange.Data.Common.LocalizedException", *_RUNTIME[2:]),
            call.failure_id("FederationInformationException"),
            14,
            "FederationInformationException",
            domain,
            "InvalidOperation",
        )
    ]


def _organization_relationships(call: Call) -> Output:
    source = call.ctx.scenario.exchange_online if _online(call) else call.ctx.scenario.organization
    return _by_identity(call, (xo.organization_relationship(r) for r in source.organization_relationships))


def _intra_organization_connectors(call: Call) -> Output:
    source = call.ctx.scenario.exchange_online if _online(call) else call.ctx.scenario.organization
    connectors = source.intra_organization_connectors
    return _by_identity(
        call,
        (
            xo.intra_organization_connector(c.name, c.target_address_domains, c.discovery_endpoint,
                                            c.target_sharing_epr, c.enabled)
            for c in connectors
        ),
    )  # fmt: skip


def _sharing_policies(call: Call) -> Output:
    source = call.ctx.scenario.exchange_online if _online(call) else call.ctx.scenario.organization
    return _by_identity(
        call, (xo.sharing_policy(p.name, p.domains, p.enabled, p.default) for p in source.sharing_policies)
    )


def _indexed(
    builder: Callable[[LabContext, int], PsObject], items: Callable[[LabContext], list[object]]
) -> Handler:
    def handler(call: Call) -> Output:
        return _by_identity(call, (builder(call.ctx, i) for i in range(len(items(call.ctx)))))

    return handler


def _virtual_directories(kind: str) -> Handler:
    def handler(call: Call) -> Output:
        names = _servers(call)
        if isinstance(names, ErrorInfo):
            return [names]
        back_end = bool(call.params.get("showmailboxvirtualdirectories"))
        objects = []
        for name in names:
            server = call.ctx.scenario.server(name)
            assert server is not None
            objects += xo.virtual_directories(server, kind, back_end=back_end)
        return _by_identity(call, objects)

    return handler


# ---- recipients ---------------------------------------------------------------------------------


def _online(call: Call) -> bool:
    return call.online


def _find_mailbox(call: Call, identity: str, location: str) -> PsObject | ErrorInfo:
    wanted = identity.lower()
    for box in call.ctx.scenario.mailboxes:
        names = {
            box.address.lower(),
            box.local_part.lower(),
            box.display_name.lower(),
            (box.alias or "").lower(),
        }
        if box.location == location and wanted in names:
            return (
                xo.remote_mailbox(call.ctx, box)
                if call.name == "Get-RemoteMailbox"
                else xo.mailbox(call.ctx, box)
            )
    return call.not_found(identity)


def _mailboxes(call: Call) -> Output:
    location = "online" if _online(call) or call.name == "Get-RemoteMailbox" else "onprem"
    if call.identity is not None:
        return [_find_mailbox(call, call.identity, location)]
    boxes = [b for b in call.ctx.scenario.mailboxes if b.location == location]
    return [_find_mailbox(call, b.address, location) for b in boxes]


def _mailbox_databases(call: Call) -> Output:
    names = _servers(call)
    if isinstance(names, ErrorInfo):
        return [names]
    databases = [d for d in call.ctx.scenario.organization.databases if d.server in names]
    return _by_identity(call, (xo.mailbox_database(call.ctx, d.name, d.server) for d in databases))


def _folder_permissions(call: Call) -> Output:
    identity = call.identity
    if identity is None:
        return [_missing_argument(call, "Identity")]
    address, _, folder = identity.partition(":\\")
    location = "online" if _online(call) else "onprem"
    box = call.ctx.scenario.mailbox(address)
    if box is None or box.location != location or folder.lower() not in ("calendar", ""):
        return [call.not_found(identity)]
    user = (call.text("User") or "").lower()
    rows = []
    for entry in box.calendar_permissions:
        row = xo.permission(call.ctx, box, entry.user, entry.access_rights, entry.sharing_permission_flags)
        if not user or user in (entry.user.lower(), str(row.properties["User"]).lower()):
            rows.append(row)
    return rows


def _connected(call: Call) -> Server:
    server = call.ctx.scenario.server(_connected_server(call.ctx))
    assert server is not None
    return server


def _test_federation_trust(call: Call) -> Output:
    return cmdlet_tests.federation_trust_results(call.ctx, _connected(call))


def _test_oauth_connectivity(call: Call) -> Output:
    service, target = call.text("Service"), call.text("TargetUri")
    if service is None or target is None:
        return [_missing_argument(call, "Service" if service is None else "TargetUri")]
    return cmdlet_tests.oauth_connectivity_results(call.ctx, _connected(call), service, target)


def _online_accepted_domains(call: Call) -> Output:
    """The tenant's domains: the organisation's, plus its initial onmicrosoft.com domain."""
    online = call.ctx.scenario.exchange_online
    domains = [
        (d.domain_name, d.domain_type, d.default) for d in call.ctx.scenario.organization.accepted_domains
    ]
    domains.append((online.tenant, "Authoritative", False))
    return _by_identity(call, (xo.accepted_domain_of(*domain) for domain in domains))


def _organization_config(call: Call) -> Output:
    return [xo.organization_config(call.ctx.scenario.exchange_online)]


def _missing_argument(call: Call, parameter: str) -> ErrorInfo:
    return ErrorInfo(
        f"Cannot process command because of one or more missing mandatory parameters: {parameter}.",
        ("System.Management.Automation.ParameterBindingException", *_RUNTIME),
        f"MissingMandatoryParameter,{call.name}",
        5,
        "ParameterBindingException",
        call.name,
        "InvalidArgument",
    )


def _params(*names: str) -> frozenset[str]:
    return frozenset(n.lower() for n in ("Identity", *names)) | _COMMON


_VDIR_PARAMS = _params("Server", "ShowMailboxVirtualDirectories", "ADPropertiesOnly")
_ON_PREMISES: dict[str, Cmdlet] = {
    "Get-ExchangeServer": Cmdlet(_exchange_servers, _params("Status")),
    "Get-ADSite": Cmdlet(_ad_sites, _params()),
    "Get-ExchangeCertificate": Cmdlet(_certificates, _params("Server", "Thumbprint")),
    "Get-FederationTrust": Cmdlet(lambda call: _by_identity(call, xo.federation_trust(call.ctx)), _params()),
    "Test-FederationTrustCertificate": Cmdlet(_federation_trust_certificates, _params()),
    "Get-FederatedOrganizationIdentifier": Cmdlet(
        lambda call: xo.federated_organization_identifier(call.ctx), _params("IncludeExtendedDomainInfo")
    ),
    "Get-FederationInformation": Cmdlet(
        _federation_information, _params("DomainName", "BypassAdditionalDomainValidation", "TrustedHostnames")
    ),
    "Get-OrganizationRelationship": Cmdlet(_organization_relationships, _params()),
    "Get-IntraOrganizationConnector": Cmdlet(_intra_organization_connectors, _params()),
    "Get-AuthConfig": Cmdlet(lambda call: xo.auth_config(call.ctx), _params()),
    "Get-AuthServer": Cmdlet(
        _indexed(xo.auth_server, lambda c: list(c.scenario.organization.auth_servers)), _params()
    ),
    "Get-PartnerApplication": Cmdlet(
        _indexed(xo.partner_application, lambda c: list(c.scenario.organization.partner_applications)),
        _params(),
    ),
    "Get-SettingOverride": Cmdlet(
        _indexed(xo.setting_override, lambda c: list(c.scenario.organization.setting_overrides)), _params()
    ),
    "Get-AvailabilityAddressSpace": Cmdlet(
        _indexed(
            xo.availability_address_space, lambda c: list(c.scenario.organization.availability_address_spaces)
        ),
        _params(),
    ),
    "Get-AcceptedDomain": Cmdlet(
        _indexed(xo.accepted_domain, lambda c: list(c.scenario.organization.accepted_domains)), _params()
    ),
    "Get-SharingPolicy": Cmdlet(_sharing_policies, _params()),
    "Get-Mailbox": Cmdlet(_mailboxes, _params()),
    "Get-RemoteMailbox": Cmdlet(_mailboxes, _params()),
    "Get-MailboxDatabase": Cmdlet(_mailbox_databases, _params("Server", "Status")),
    "Get-MailboxFolderPermission": Cmdlet(_folder_permissions, _params("User")),
    "Get-Recipient": Cmdlet(directory.recipients, _params("Filter", "Anr")),
    "Get-CASMailbox": Cmdlet(directory.cas_mailboxes, _params()),
    "Get-DistributionGroupMember": Cmdlet(directory.group_members, _params()),
    "Get-AvailabilityConfig": Cmdlet(directory.availability_config, _params()),
    "Get-OrganizationConfig": Cmdlet(directory.organization_config, _params()),
    "Get-ServerComponentState": Cmdlet(directory.component_states, _params("Component")),
    "Test-FederationTrust": Cmdlet(_test_federation_trust, _params("UserIdentity", "MonitoringContext")),
    "Test-OAuthConnectivity": Cmdlet(
        _test_oauth_connectivity,
        _params("Service", "TargetUri", "Mailbox", "OrganizationDomain", "UseCachedToken"),
    ),
    **{
        f"Get-{noun}": Cmdlet(_virtual_directories(kind), _VDIR_PARAMS)
        for kind, (noun, _app, _type) in xo.VDIR_KINDS.items()
    },
}
_ONLINE: dict[str, Cmdlet] = {
    name: _ON_PREMISES[name]
    for name in (
        "Get-OrganizationRelationship",
        "Get-IntraOrganizationConnector",
        "Get-SharingPolicy",
        "Get-Mailbox",
        "Get-MailboxFolderPermission",
        "Get-Recipient",
        "Get-CASMailbox",
        "Get-DistributionGroupMember",
    )
} | {
    "Get-FederationTrust": Cmdlet(directory.online_federation_trust, _params()),
    "Get-OrganizationConfig": Cmdlet(_organization_config, _params()),
    "Get-AcceptedDomain": Cmdlet(_online_accepted_domains, _params()),
}


def cmdlet_names(*, online: bool = False) -> list[str]:
    return sorted(_ONLINE if online else _ON_PREMISES)


def _command_not_found(name: str) -> ErrorInfo:
    return ErrorInfo(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again.",
        ("System.Management.Automation.CommandNotFoundException", *_RUNTIME),
        "CommandNotFoundException",
        13,
        "CommandNotFoundException",
        name,
        "ObjectNotFound",
    )


def _parameter_not_found(cmdlet: str, parameter: str) -> ErrorInfo:
    return ErrorInfo(
        f"A parameter cannot be found that matches parameter name '{parameter}'.",
        ("System.Management.Automation.ParameterBindingException", *_RUNTIME),
        f"NamedParameterNotFound,{cmdlet}",
        5,
        "ParameterBindingException",
        parameter,
        "InvalidArgument",
    )


def _get_command(online: bool, denied: set[str]) -> list[PsValue]:
    """Get-Command in the restricted endpoint: the cmdlets the account's management roles grant."""
    return [
        PsObject(
            (
                "System.Management.Automation.CmdletInfo",
                "System.Management.Automation.CommandInfo",
                "System.Object",
            ),
            {
                "Name": name,
                "CommandType": "Cmdlet",
                "ModuleName": "Microsoft.Exchange.Management.PowerShell.E2010",
            },
            name,
        )
        for name in cmdlet_names(online=online)
        if name.lower() not in denied
    ]


def _lookup(name: str, online: bool) -> tuple[str, Cmdlet] | None:
    table = _ONLINE if online else _ON_PREMISES
    return next(((known, c) for known, c in table.items() if known.lower() == name.lower()), None)


_ONLINE_WRITES = frozenset(
    ("Set-OrganizationRelationship", "Set-IntraOrganizationConnector", "Set-MailboxFolderPermission",
     "Add-MailboxFolderPermission", "Remove-MailboxFolderPermission")
)  # fmt: skip


def _write_cmdlet(name: str, online: bool) -> tuple[str, Cmdlet] | None:
    for known, (handler, extra) in writes.WRITE_CMDLETS.items():
        if known.lower() == name.lower() and (not online or known in _ONLINE_WRITES):
            return known, Cmdlet(_as_handler(handler), _params(*extra))
    return None


def _as_handler(write: Callable[[writes.WriteCall], writes.Output]) -> Handler:
    def handler(call: Call) -> Output:
        return write(writes.WriteCall(call))

    return handler


def run_pipeline(
    ctx: LabContext, commands: list[Command], *, online: bool = False, writer: bool = False
) -> CmdletResult:
    """Run `Get-X [params] [| Select-Object ...]` against the scenario; with the write roles (`writer`),
    also the write cmdlets a remediation uses. Without them a write cmdlet does not exist, as in a
    restricted endpoint whose roles do not grant it."""
    if not commands:
        return CmdletResult()
    first, rest = commands[0], commands[1:]
    denied = {name.lower() for name in ctx.scenario.access.missing_roles}
    if first.name.lower() == "get-command" and not rest:
        return CmdletResult(objects=_get_command(online, denied))
    found = _lookup(first.name, online) if first.name.lower() not in denied else None
    if found is None and writer and first.name.lower() not in denied:
        found = _write_cmdlet(first.name, online)
    if found is None:
        return CmdletResult(failure=_command_not_found(first.name))
    name, cmdlet = found
    params = {key.lower(): value for key, value in first.parameters.items()}
    if first.positional:
        params.setdefault("identity", first.positional[0])
    unknown = next((key for key in first.parameters if key.lower() not in cmdlet.parameters), None)
    if unknown is not None:
        return CmdletResult(failure=_parameter_not_found(name, unknown))
    result = CmdletResult()
    for item in cmdlet.handler(Call(ctx, name, params, online)):
        if isinstance(item, ErrorInfo):
            result.errors.append(item)
        else:
            result.objects.append(item)
    for command in rest:
        if command.name.lower() != "select-object":
            return CmdletResult(failure=_command_not_found(command.name))
        result.objects = list(_select(result.objects, command))
    return result


def _select(objects: list[PsValue], command: Command) -> Iterator[PsValue]:
    params = {key.lower(): value for key, value in command.parameters.items()}
    wanted = params.get("property", command.positional[0] if command.positional else None)
    names = [str(n) for n in (wanted if isinstance(wanted, list) else [wanted] if wanted else [])]
    first = params.get("first")
    for index, obj in enumerate(objects):
        if isinstance(first, int) and index >= first:
            return
        if not names or not isinstance(obj, PsObject):
            yield obj
            continue
        props = {n: obj.properties.get(n) for n in names}
        yield PsObject(
            ("Selected." + obj.type_names[0], "System.Management.Automation.PSCustomObject", "System.Object"),
            props,
            obj.to_string,
        )
