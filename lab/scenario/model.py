"""The scenario model: one hybrid organisation described the way Exchange reports it.

The model is strict (unknown keys are errors); `lab.scenario.load` loads it from YAML and adds the file name
and key path to every error. Names are snake_case here; the simulators render them with Exchange's own
property names.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lab.faults import FaultSpec

__all__ = [
    "AcceptedDomain",
    "Access",
    "AuthConfig",
    "AuthServer",
    "AvailabilityAddressSpace",
    "AvailabilityConfig",
    "AvailabilityError",
    "AvailabilityOutcome",
    "CalendarEvent",
    "CalendarPermission",
    "Certificate",
    "ConfigCondition",
    "Database",
    "EventLogEntry",
    "EwsPolicy",
    "ExchangeOnline",
    "FederatedOrganizationIdentifier",
    "FederationInformation",
    "FederationTrust",
    "Group",
    "IntraOrganizationConnector",
    "LabTime",
    "Mailbox",
    "Organization",
    "OrganizationRelationship",
    "Pair",
    "PartnerApplication",
    "Recipient",
    "Scenario",
    "Server",
    "ServicePrincipal",
    "SettingOverride",
    "SharingPolicy",
    "SharingSubscription",
    "Site",
    "VirtualDirectories",
    "VirtualDirectory",
    "resolve_time",
]

_RELATIVE = re.compile(
    r"^(?P<base>now|today)(?:(?P<sign>[+-])(?P<n>\d+)(?P<unit>[smhd]))?(?:@(?P<hm>\d{2}:\d{2}))?$"
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _time_text(value: object) -> object:
    """YAML turns unquoted timestamps into datetimes; keep every time as text until it is resolved."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.isoformat()
    if isinstance(value, str) and not _RELATIVE.match(value):
        try:
            datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither an ISO 8601 time nor a relative one like 'now-2h' or 'today+1d@09:00'"
            ) from None
    return value


# An absolute ISO 8601 time, or one relative to the lab's start: `now`, `now-2h`, `now+400d`,
# `today@09:00`, `today+1d@13:30` (today = midnight UTC of the start day). Relative times keep event
# logs "recent" and certificates valid whenever the lab runs.
LabTime = Annotated[str, BeforeValidator(_time_text)]


def resolve_time(value: str, anchor: datetime.datetime) -> datetime.datetime:
    """The datetime (UTC-aware) a `LabTime` stands for, relative times counted from `anchor`."""
    match = _RELATIVE.match(value)
    if match is None:
        parsed = datetime.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    base = anchor.astimezone(datetime.UTC)
    if match["base"] == "today":
        base = base.replace(hour=0, minute=0, second=0, microsecond=0)
    if match["n"]:
        delta = datetime.timedelta(**{_UNITS[match["unit"]]: int(match["n"])})
        base = base + delta if match["sign"] == "+" else base - delta
    if match["hm"]:
        hour, minute = (int(part) for part in match["hm"].split(":"))
        base = base.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return base


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Thumbprint = Annotated[str, Field(pattern=r"^[0-9A-F]{40}$")]
Address = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
RegistryValue = int | str | list[str] | None


class Pair(_Model):
    requester: Address
    target: Address


class AcceptedDomain(_Model):
    domain_name: str
    domain_type: Literal["Authoritative", "InternalRelay", "ExternalRelay"] = "Authoritative"
    default: bool = False


class Site(_Model):
    name: str
    internet_facing: bool


class Certificate(_Model):
    thumbprint: Thumbprint
    subject: str
    issuer: str | None = None  # None: self-signed (Issuer equals Subject)
    services: list[Literal["None", "IIS", "SMTP", "IMAP", "POP", "UM", "UMCallRouter", "Federation"]]
    certificate_domains: list[str] = []
    not_before: LabTime = "now-365d"
    not_after: LabTime
    has_private_key: bool = True
    status: Literal["Valid", "Invalid", "Revoked", "DateInvalid", "Untrusted", "PendingRequest"] = "Valid"


class VirtualDirectory(_Model):
    internal_url: str | None
    external_url: str | None = None
    authentication: list[str] = []  # InternalAuthenticationMethods
    external_authentication: list[str] | None = None  # None: same as internal
    oauth_authentication: bool | None = None  # EWS and Autodiscover only
    svc_handler: bool = True  # EWS and Autodiscover: IIS has the svc-Integrated handler mapping
    internal_nlb_bypass_url: str | None = None  # EWS only: the back-end vdir's value
    require_ssl: bool = True  # IIS SSL settings of the vdir
    answer_status: int = 200  # what IIS answers to an HTTPS request on the vdir


class VirtualDirectories(_Model):
    owa: VirtualDirectory
    ecp: VirtualDirectory
    ews: VirtualDirectory
    autodiscover: VirtualDirectory


class EventLogEntry(_Model):
    log: str = "Application"
    provider: str
    id: int
    level: Literal["Critical", "Error", "Warning", "Information"] = "Error"
    task_category: str | None = None
    time_created: LabTime
    message: str


class Server(_Model):
    name: str
    fqdn: str
    site: str
    admin_display_version: str = Field(pattern=r"^Version \d+\.\d+ \(Build \d+\.\d+\)$")
    edition: str = "Enterprise"
    roles: list[Literal["Mailbox", "Edge", "ClientAccess"]] = ["Mailbox"]
    internet_web_proxy: str | None = None
    certificates: list[Certificate] = []
    virtual_directories: VirtualDirectories
    registry: dict[str, dict[str, RegistryValue]] = {}
    events: list[EventLogEntry] = []
    # What the host-level reads see on this server (clock, Internet reachability, services, IIS).
    clock_offset_seconds: int = 0  # from the domain's time source
    unreachable_urls: list[str] = []  # outbound endpoints it cannot reach; "*" for none
    stopped_services: list[str] = []  # automatic MSExchange* services not running
    stopped_app_pools: list[str] = []
    inactive_components: list[str] = []  # Get-ServerComponentState beyond the two inactive by default
    back_end_certificate: Thumbprint | Literal["auto"] | None = "auto"  # the Exchange Back End https binding


class Database(_Model):
    name: str
    server: str


class FederationTrust(_Model):
    name: str = "Microsoft Federation Gateway"
    org_certificate: Thumbprint
    org_prev_certificate: Thumbprint | None = None
    org_next_certificate: Thumbprint | None = None
    application_uri: str
    application_identifier: str
    token_issuer_uri: str = "urn:federation:MicrosoftOnline"
    token_issuer_certificate_thumbprint: Thumbprint | None = None
    token_issuer_certificate_not_after: LabTime | None = None
    token_issuer_metadata_epr: str = (
        "https://nexus.microsoftonline-p.com/FederationMetadata/2006-12/FederationMetadata.xml"
    )
    token_issuer_epr: str = "https://login.microsoftonline.com/extSTS.srf"


class FederatedOrganizationIdentifier(_Model):
    account_namespace: str
    domains: list[str]
    enabled: bool = True
    delegation_trust_link: str = "Microsoft Federation Gateway"


class FederationInformation(_Model):
    domain_name: str  # the -DomainName it answers for
    target_application_uri: str | None
    target_autodiscover_epr: str | None
    domain_names: list[str] = []
    token_issuer_uris: list[str] = ["urn:federation:MicrosoftOnline"]


class OrganizationRelationship(_Model):
    name: str
    domain_names: list[str]
    enabled: bool = True
    free_busy_access_enabled: bool = True
    free_busy_access_level: Literal["None", "AvailabilityOnly", "LimitedDetails"] = "LimitedDetails"
    free_busy_access_scope: str | None = None
    target_application_uri: str | None = None
    target_autodiscover_epr: str | None = None
    target_sharing_epr: str | None = None
    target_owa_url: str | None = None


class IntraOrganizationConnector(_Model):
    name: str
    target_address_domains: list[str]
    discovery_endpoint: str
    target_sharing_epr: str | None = None
    enabled: bool = True


class AuthConfig(_Model):
    current_certificate_thumbprint: Thumbprint | None
    previous_certificate_thumbprint: Thumbprint | None = None
    next_certificate_thumbprint: Thumbprint | None = None
    service_name: str = "00000002-0000-0ff1-ce00-000000000000"
    realm: str | None = None


class AuthServer(_Model):
    name: str
    type: Literal["Unknown", "MicrosoftACS", "AzureAD", "ADFS"] = "AzureAD"
    issuer_identifier: str
    token_issuing_endpoint: str
    auth_metadata_url: str
    realm: str | None = None
    application_identifier: str | None = None  # the dedicated Exchange hybrid app on the EvoSTS server
    domain_name: list[str] = []
    enabled: bool = True
    is_default_authorization_endpoint: bool = False


class PartnerApplication(_Model):
    name: str
    application_identifier: str
    enabled: bool = True
    linked_account: str | None = None
    use_auth_server: bool = True
    realm: str = ""


class SettingOverride(_Model):
    name: str
    component: str
    section: str
    parameters: list[str]
    reason: str = ""
    server: list[str] = []  # empty: organisation-wide


class AvailabilityAddressSpace(_Model):
    forest_name: str
    access_method: Literal[
        "PerUserFB", "OrgWideFB", "OrgWideFBToken", "OrgWideFBBasic", "InternalProxy", "PublicFolder"
    ]
    proxy_url: str | None = None
    target_autodiscover_epr: str | None = None
    use_service_account: bool = True
    user_name: str | None = None


class SharingPolicy(_Model):
    name: str
    domains: list[str]
    enabled: bool = True
    default: bool = False


class Recipient(_Model):
    """A directory object other than the scenario's mailboxes: a contact, a user, a stale copy."""

    name: str
    recipient_type: Literal["MailContact", "MailUser", "User", "UserMailbox"] = "MailContact"
    email_addresses: list[str] = []  # with prefixes: SMTP:, smtp:, sip:
    user_principal_name: str | None = None


class Group(_Model):
    name: str
    members: list[str]  # addresses


class AvailabilityConfig(_Model):
    per_user_account: str | None = None
    org_wide_account: str | None = None


class EwsPolicy(_Model):
    """Set-OrganizationConfig's EWS application policy."""

    enabled: bool | None = None  # EwsEnabled
    application_access_policy: Literal["EnforceAllowList", "EnforceBlockList"] | None = None
    allow_list: list[str] = []
    block_list: list[str] = []


class Organization(_Model):
    name: str
    forest: str
    accepted_domains: list[AcceptedDomain]
    sites: list[Site]
    servers: list[Server]
    databases: list[Database]
    federation_trust: FederationTrust | None = None
    federated_organization_identifier: FederatedOrganizationIdentifier | None = None
    federation_information: list[FederationInformation] = []
    organization_relationships: list[OrganizationRelationship] = []
    intra_organization_connectors: list[IntraOrganizationConnector] = []
    auth_config: AuthConfig | None = None
    auth_servers: list[AuthServer] = []
    partner_applications: list[PartnerApplication] = []
    setting_overrides: list[SettingOverride] = []
    availability_address_spaces: list[AvailabilityAddressSpace] = []
    sharing_policies: list[SharingPolicy] = []
    recipients: list[Recipient] = []
    groups: list[Group] = []
    availability_config: AvailabilityConfig = AvailabilityConfig()
    ews_policy: EwsPolicy = EwsPolicy()


class ServicePrincipal(_Model):
    """An Entra application's service principal: the certificates it accepts (keyCredentials)."""

    app_id: str
    display_name: str = ""
    key_thumbprints: list[Thumbprint] = []


class ExchangeOnline(_Model):
    tenant: str  # contoso.onmicrosoft.com
    tenant_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    routing_domain: str  # contoso.mail.onmicrosoft.com
    ews_enabled: bool = True
    federation_trust_application_id: str = "260563"  # 292841: the outdated trust
    groups: list[Group] = []
    service_principals: list[ServicePrincipal] = []
    organization_relationships: list[OrganizationRelationship] = []
    intra_organization_connectors: list[IntraOrganizationConnector] = []
    sharing_policies: list[SharingPolicy] = []


class CalendarPermission(_Model):
    user: str  # "Default", "Anonymous" or an address
    access_rights: list[str]
    sharing_permission_flags: list[str] = []


class SharingSubscription(_Model):
    """A hidden IPM.ExternalSharingSubscription item in the mailbox's \\root\\Sharing folder."""

    sharer_identity: Address
    sharer_name: str | None = None
    url: str
    remote_folder_name: str = "Calendar"
    remote_folder_id: str | None = None
    data_type: str = "calendar"


class CalendarEvent(_Model):
    start: LabTime
    end: LabTime
    busy_type: Literal["Free", "Tentative", "Busy", "OOF", "WorkingElsewhere", "NoData"] = "Busy"
    subject: str = ""
    location: str = ""


class Mailbox(_Model):
    address: Address  # primary SMTP address
    display_name: str
    alias: str | None = None  # default: the address's local part
    location: Literal["onprem", "online"]
    database: str | None = None  # onprem only; server and site derive from it
    remote_routing_address: Address | None = None  # online only: the tenant routing address
    calendar_permissions: list[CalendarPermission] = [
        CalendarPermission(user="Default", access_rights=["AvailabilityOnly"]),
        CalendarPermission(user="Anonymous", access_rights=["None"]),
    ]
    sharing_subscriptions: list[SharingSubscription] = []
    calendar: list[CalendarEvent] = []
    email_addresses: list[str] | None = None  # None: SMTP:address and smtp:<alias>@<routing domain>
    user_principal_name: str | None = None  # None: the address
    synced_to_cloud: bool = True  # onprem: Entra Connect made its mail user in Exchange Online
    block_external_outlook: bool = False  # Get-CASMailbox MAPIBlockOutlookExternalConnectivity

    @property
    def local_part(self) -> str:
        return self.address.split("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.split("@", 1)[1].lower()


class AvailabilityError(_Model):
    code: str  # EWS ResponseCode, e.g. ErrorProxyRequestProcessingFailed
    message: str
    http_status: int | None = None  # for a transport-level failure instead of a per-mailbox error


class ConfigCondition(_Model):
    """A test of the organisation as the lab serves it now (see `lab.scenario.paths`). Exactly one test."""

    path: str
    absent: bool | None = None  # true: the path leads nowhere (or to None or an empty list)
    equals: str | int | bool | None = None
    startswith: str | None = None  # case-insensitive
    lacks: str | None = None  # a list at the path does not hold this value (case-insensitive)

    @model_validator(mode="after")
    def _one_test(self) -> ConfigCondition:
        given = [n for n in ("absent", "startswith", "lacks") if getattr(self, n) is not None]
        if "equals" in self.model_fields_set:
            given.append("equals")
        if len(given) != 1:
            raise ValueError(f"give exactly one of absent, equals, startswith, lacks (got {len(given)})")
        from lab.scenario.paths import check_path

        check_path(self.path)
        return self

    def holds(self, scenario: Scenario) -> bool:
        from lab.scenario.paths import MISSING, resolve

        value = resolve(scenario, self.path)
        if self.absent is not None:
            gone = value is MISSING or value is None or value == []
            return gone if self.absent else not gone
        if value is MISSING:
            return False
        if self.startswith is not None:
            return isinstance(value, str) and value.lower().startswith(self.startswith.lower())
        if self.lacks is not None:
            return isinstance(value, list) and self.lacks.lower() not in [str(v).lower() for v in value]
        return bool(value == self.equals)


class AvailabilityOutcome(_Model):
    """What a free/busy request for a broken pair answers instead of the target's schedule: always, or
    only `while` every one of the conditions holds (the lab's configuration still has the fault)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    requester: Address
    target: Address
    error: AvailabilityError
    while_: list[ConfigCondition] = Field(default=[], alias="while")


class Access(_Model):
    """How the lab's WinRM and Exchange PowerShell listeners let clients in (Windows' defaults unless set)."""

    basic: bool = False  # Basic over HTTPS (never over HTTP)
    ntlm: bool = True  # NTLM, raw or inside Negotiate; false: "NTLM refused by policy"
    allow_unencrypted: bool = False  # plain-HTTP messages without message encryption
    missing_spns: list[str] = []  # servers (name) whose HTTP/ and WSMAN/ SPNs are not registered in the KDC
    missing_roles: list[str] = []  # cmdlets the service account's management roles do not grant


class Scenario(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    failing_pair: Pair | None = None
    working_pair: Pair
    expected_causes: list[str] = []
    organization: Organization
    exchange_online: ExchangeOnline
    mailboxes: list[Mailbox]
    availability: list[AvailabilityOutcome] = []
    faults: list[FaultSpec] = []
    access: Access = Access()

    def mailbox(self, address: str) -> Mailbox | None:
        wanted = address.lower()
        return next((m for m in self.mailboxes if m.address.lower() == wanted), None)

    def server(self, name_or_fqdn: str) -> Server | None:
        wanted = name_or_fqdn.lower()
        servers = self.organization.servers
        return next((s for s in servers if wanted in (s.name.lower(), s.fqdn.lower())), None)

    def database(self, name: str) -> Database | None:
        wanted = name.lower()
        return next((d for d in self.organization.databases if d.name.lower() == wanted), None)

    def mailbox_server(self, mailbox: Mailbox) -> Server | None:
        """The server hosting an on-premises mailbox's database (None for online mailboxes)."""
        database = self.database(mailbox.database) if mailbox.database else None
        return self.server(database.server) if database else None

    def availability_error(self, requester: str, target: str) -> AvailabilityError | None:
        pair = (requester.lower(), target.lower())
        for outcome in self.availability:
            if (outcome.requester.lower(), outcome.target.lower()) != pair:
                continue
            if all(c.holds(self) for c in outcome.while_):
                return outcome.error
        return None
