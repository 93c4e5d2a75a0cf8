"""A healthy two-site hybrid organisation as Exchange's cmdlets print it, for tests over fake ports.

HQ (EX01, EX02) is Internet-facing; Branch (EX03) is not. alice is in Exchange Online, bjorn on EX03.
Tests change one thing and expect the check that looks at it to notice.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from checks.errors import NotFound
from checks.ports import FreeBusy, KeyCredential, Permission, Ports, Subscription
from checks.testing import (
    FakeDirectory,
    FakeExchange,
    FakeHost,
    FakeMailboxes,
    FakeProbe,
    by_identity,
    by_server,
)

NOW = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
FED = "3226500C943B6235AEB493A307F084710FD1D5D0"
AUTH = "CB875168889265EF7B0BD124DB43D388AB2EF6B1"
MAIL = "ED887CD230B2F5B695A3281ADF301F46B245A9E8"
SERVERS = {"EX01": "HQ", "EX02": "HQ", "EX03": "Branch"}
CLOUD = "contoso.mail.onmicrosoft.com"
REQUESTER, TARGET = "alice@contoso.com", "bjorn@contoso.com"
CLOUD_AUTODISCOVER = "https://autodiscover-s.outlook.com/autodiscover/autodiscover.svc"
ONPREM_AUTODISCOVER = "https://mail.contoso.com/autodiscover/autodiscover.svc"
SCHANNEL = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"


def _cert(thumbprint: str, subject: str, services: str, days: int = 400) -> dict[str, Any]:
    return {
        "Thumbprint": thumbprint,
        "Subject": subject,
        "Services": services,
        "HasPrivateKey": True,
        "NotAfter": (NOW + datetime.timedelta(days=days)).isoformat(),
        "Status": "Valid",
    }


def _vdir(server: str, kind: str, path: str, internal: bool = True) -> dict[str, Any]:
    fqdn = f"{server.lower()}.contoso.com"
    facing = SERVERS[server] == "HQ"
    row: dict[str, Any] = {
        "Server": server,
        "Name": f"{kind} (Default Web Site)",
        "InternalUrl": f"https://{fqdn}/{path}" if internal else None,
        "ExternalUrl": f"https://mail.contoso.com/{path}" if facing and internal else None,
        "InternalAuthenticationMethods": ["Ntlm", "WindowsIntegrated", "WSSecurity", "OAuth"],
    }
    if kind in ("ews", "autodiscover"):
        row["OAuthAuthentication"] = True
    return row


def _back_end(server: str) -> dict[str, Any]:
    fqdn = f"{server.lower()}.contoso.com"
    return {
        "Server": server,
        "Name": "EWS (Exchange Back End)",
        "InternalUrl": f"https://{fqdn}:444/EWS/Exchange.asmx",
        "ExternalUrl": None,
        "InternalNLBBypassUrl": f"https://{fqdn}:444/ews/exchange.asmx",
    }


def _registry(path: str) -> dict[str, Any]:
    if path.startswith(SCHANNEL):
        return {"Enabled": 1, "DisabledByDefault": 0}
    if "NETFramework" in path:
        return {"SchUseStrongCrypto": 1, "SystemDefaultTlsVersions": 1}
    return {"AllowProxyingWithoutSsl": None}


@dataclass
class FakeOrg:
    servers: list[dict[str, Any]] = field(default_factory=list)
    certificates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mailboxes: list[dict[str, Any]] = field(default_factory=list)
    remote_mailboxes: list[dict[str, Any]] = field(default_factory=list)
    vdirs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cmdlets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    online: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    registry: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    iis: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    subscriptions: dict[str, list[Subscription]] = field(default_factory=dict)
    permissions: dict[str, list[Permission]] = field(default_factory=dict)
    free_busy: dict[tuple[str, str], FreeBusy] = field(default_factory=dict)
    probe_status: int = 200
    probe_error: str = ""
    others: list[dict[str, Any]] = field(default_factory=list)  # contacts and users beside the mailboxes
    cloud_recipients: list[dict[str, Any]] = field(default_factory=list)  # Exchange Online's Get-Recipient
    cas: dict[str, dict[str, Any]] = field(default_factory=dict)  # Get-CASMailbox by address
    # Server health (host-settings): what differs from a healthy server, by server name.
    clock_offsets: dict[str, float] = field(default_factory=dict)
    outbound_blocked: set[str] = field(default_factory=set)
    stopped_services: dict[str, list[str]] = field(default_factory=dict)
    inactive_components: dict[str, list[str]] = field(default_factory=dict)
    back_end_broken: set[str] = field(default_factory=set)
    svc_handler_missing: set[str] = field(default_factory=set)
    groups: dict[str, list[str]] = field(default_factory=dict)  # group name -> member addresses
    entra: dict[str, list[KeyCredential]] = field(
        default_factory=lambda: {"00000002-0000-0ff1-ce00-000000000000": [KeyCredential(AUTH)]}
    )  # app id -> the certificates Entra accepts for it

    def ports(self, *, latency: float = 0.0, with_online: bool = True) -> tuple[Ports, dict[str, Any]]:
        answers: dict[str, Any] = {
            "Get-ExchangeServer": self.servers,
            "Get-ExchangeCertificate": by_server(self.certificates),
            "Get-Mailbox": by_identity(self.mailboxes),
            "Get-RemoteMailbox": by_identity(self.remote_mailboxes),
            "Get-OwaVirtualDirectory": self.vdirs["owa"],
            "Get-EcpVirtualDirectory": self.vdirs["ecp"],
            "Get-WebServicesVirtualDirectory": self._ews,
            "Get-AutodiscoverVirtualDirectory": self.vdirs["autodiscover"],
            "Get-Recipient": self._recipients,
            "Get-CASMailbox": self._cas,
            "Get-ServerComponentState": self._components,
            "Get-DistributionGroupMember": self._members,
            **self.cmdlets,
        }
        exchange = FakeExchange(latency=latency, answers=answers)
        online = FakeExchange(
            latency=latency,
            answers={
                "Get-Recipient": by_identity(self.cloud_recipients),
                "Get-DistributionGroupMember": self._members,
                **self.online,
            },
        )
        host = FakeHost(latency=latency, handler=self._host)
        onprem = FakeMailboxes(
            latency=latency,
            protocol="ews",
            subscriptions=self.subscriptions,
            permissions=self.permissions,
            free_busy_answers=self.free_busy,
        )
        cloud = FakeMailboxes(
            latency=latency,
            protocol="graph",
            subscriptions=self.subscriptions,
            permissions=self.permissions,
            free_busy_answers=self.free_busy,
        )
        probe = FakeProbe(
            latency=latency,
            default_status=self.probe_status,
            default_error=self.probe_error,
            server_header="Microsoft-IIS/10.0",
        )
        directory = FakeDirectory(latency=latency, apps=self.entra)
        ports = Ports(exchange, online if with_online else None, host, onprem, cloud, probe, directory)
        return ports, {
            "exchange": exchange,
            "online": online,
            "host": host,
            "onprem": onprem,
            "cloud": cloud,
            "probe": probe,
            "directory": directory,
        }

    def _recipients(self, params: Any) -> list[dict[str, Any]]:
        """Get-Recipient -Filter: the duplicate-address filter the topology check sends."""
        everyone = [*self.mailboxes, *self.remote_mailboxes, *self.others]
        if "Identity" in params:  # an address as Exchange resolves it: any proxy address
            wanted = str(params["Identity"]).lower()
            found = [
                r
                for r in everyone
                if wanted in {str(a).split(":", 1)[-1].lower() for a in r.get("EmailAddresses", [])}
            ]
            if not found:
                raise NotFound(
                    "Exchange",
                    f"The operation couldn't be performed because object '{wanted}' couldn't be found.",
                )
            return found
        address = str(params["Filter"]).split("'smtp:", 1)[1].split("'", 1)[0].lower()
        return [
            r
            for r in everyone
            if address in {str(a).split(":", 1)[-1].lower() for a in r.get("EmailAddresses", [])}
            or str(r.get("UserPrincipalName", "")).lower() == address
        ]

    def _members(self, params: Any) -> list[dict[str, Any]]:
        members = self.groups.get(str(params["Identity"]))
        if members is None:
            raise NotFound("Exchange", f"The group '{params['Identity']}' couldn't be found.")
        return [{"Name": m.split("@")[0], "PrimarySmtpAddress": m} for m in members]

    def _components(self, params: Any) -> list[dict[str, Any]]:
        server = str(params["Identity"]).upper()
        inactive = {"ForwardSyncDaemon", "ProvisioningRps", *self.inactive_components.get(server, [])}
        names = ["ServerWideOffline", "HubTransport", "EwsProxy", "ForwardSyncDaemon", "ProvisioningRps"]
        return [
            {"Component": n, "State": "Inactive" if n in inactive else "Active"}
            for n in dict.fromkeys([*names, *inactive])
        ]

    def _health(self, server: str, template: str, args: Any) -> Any:
        if template == "clock":
            return {
                "utc": NOW.isoformat(),
                "source": "dc01.contoso.com",
                "offset_seconds": self.clock_offsets.get(server, 0.4),
            }
        if template == "outbound":
            blocked = server in self.outbound_blocked
            return [
                {"url": u, "status": None if blocked else 200, "error": "timed out" if blocked else None}
                for u in args["urls"]
            ]
        if template == "services":
            pools = [{"name": p, "state": "Started"} for p in args["app_pools"]]
            return {"stopped_services": self.stopped_services.get(server, []), "app_pools": pools}
        broken = server in self.back_end_broken
        binding = {
            "binding": "*:444:",
            "certificate_hash": "" if broken else MAIL,
            "certificate_found": not broken,
        }
        handlers = [
            {"path": p, "svc_integrated": server not in self.svc_handler_missing}
            for p in args["handler_paths"]
        ]
        return {"back_end": [binding], "handlers": handlers}

    def _cas(self, params: Any) -> list[dict[str, Any]]:
        wanted = str(params["Identity"]).lower()
        return [
            self.cas.get(
                wanted, {"MAPIBlockOutlookExternalConnectivity": False, "MAPIBlockOutlookRpcHttp": False}
            )
        ]

    def _ews(self, params: Any) -> list[dict[str, Any]]:
        back = self.vdirs["ews_back"] if params.get("ShowMailboxVirtualDirectories") else []
        return self.vdirs["ews"] + back

    def _host(self, server: str, template: str, args: Any) -> Any:
        if template == "registry-values":
            values = self.registry.get((server.upper(), args["path"]), _registry(args["path"]))
            return {name: values.get(name) for name in args["names"]}
        if template == "iis-ssl":
            return self.iis.get(
                server.upper(), [{"path": p, "ssl_flags": "Ssl", "require_ssl": True} for p in args["paths"]]
            )
        if template == "win-events":
            return [e for e in self.events.get(server.upper(), []) if _in_window(e["time_created"], args)]
        if template in ("clock", "outbound", "services", "iis-config"):
            return self._health(server.upper(), template, args)
        raise AssertionError(f"unexpected template {template}")


def _in_window(created: str, args: Any) -> bool:
    """Get-WinEvent's StartTime/EndTime filter, as the win-events template passes them."""
    when = datetime.datetime.fromisoformat(created)
    since, until = args.get("since"), args.get("until")
    return (not since or when >= datetime.datetime.fromisoformat(since)) and (
        not until or when <= datetime.datetime.fromisoformat(until)
    )


def healthy() -> FakeOrg:
    org = FakeOrg()
    for name, site in SERVERS.items():
        org.servers.append(
            {
                "Name": name,
                "Fqdn": f"{name.lower()}.contoso.com",
                "Site": f"contoso.com/Configuration/Sites/{site}",
                "ServerRole": "Mailbox",
                "AdminDisplayVersion": "Version 15.2 (Build 2562.17)",
                "InternetWebProxy": "http://proxy.contoso.com:8080/",
                "Domain": "contoso.com",
            }
        )
        org.certificates[name] = [
            _cert(MAIL, "CN=mail.contoso.com", "IIS, SMTP"),
            _cert(FED, "CN=Federation", "Federation", 1125),
            _cert(AUTH, "CN=Microsoft Exchange Server Auth Certificate", "SMTP", 1125),
        ]
    for kind, path in (
        ("owa", "owa"),
        ("ecp", "ecp"),
        ("ews", "EWS/Exchange.asmx"),
        ("autodiscover", "Autodiscover/Autodiscover.xml"),
    ):
        org.vdirs[kind] = [_vdir(s, kind, path, internal=kind != "autodiscover") for s in SERVERS]
    org.vdirs["ews_back"] = [_back_end(s) for s in SERVERS]
    org.mailboxes = [
        {
            "PrimarySmtpAddress": TARGET,
            "Database": "DB03",
            "ServerName": "ex03",
            "RecipientTypeDetails": "UserMailbox",
        },
        {
            "PrimarySmtpAddress": "carol@contoso.com",
            "Database": "DB01",
            "ServerName": "ex01",
            "RecipientTypeDetails": "UserMailbox",
        },
    ]
    for box in org.mailboxes:
        address = box["PrimarySmtpAddress"]
        box.update(
            EmailAddresses=[f"SMTP:{address}", f"smtp:{address.split('@')[0]}@{CLOUD}"],
            UserPrincipalName=address,
            DistinguishedName=f"CN={address.split('@')[0]},CN=Users,DC=contoso,DC=com",
            DisplayName=address.split("@")[0].capitalize(),
        )
    org.remote_mailboxes = [
        {
            "PrimarySmtpAddress": REQUESTER,
            "RemoteRoutingAddress": f"SMTP:alice@{CLOUD}",
            "EmailAddresses": [f"SMTP:{REQUESTER}", f"smtp:alice@{CLOUD}"],
            "UserPrincipalName": REQUESTER,
            "DistinguishedName": "CN=alice,CN=Users,DC=contoso,DC=com",
            "DisplayName": "Alice Martin",
        }
    ]
    org.cloud_recipients = [
        {"PrimarySmtpAddress": REQUESTER, "RecipientTypeDetails": "UserMailbox"},
        *(
            {"PrimarySmtpAddress": b["PrimarySmtpAddress"], "RecipientTypeDetails": "MailUser"}
            for b in org.mailboxes
        ),
    ]
    org.cmdlets = {
        "Get-AcceptedDomain": [{"DomainName": d} for d in ("contoso.com", "fabrikam.com", CLOUD)],
        "Get-FederationTrust": [
            {
                "Name": "Microsoft Federation Gateway",
                "OrgPrivCertificate": FED,
                "TokenIssuerCertificate": {"NotAfter": (NOW + datetime.timedelta(days=300)).isoformat()},
            }
        ],
        "Get-FederatedOrganizationIdentifier": [
            {"AccountNamespace": "FYDIBOHF25SPDLT.contoso.com", "Domains": ["contoso.com", "fabrikam.com"]}
        ],
        "Test-FederationTrust": [
            {
                "Id": "FederationTrustConfiguration",
                "Type": "Success",
                "Message": "FederationTrustConfiguration is valid.",
            }
        ],
        "Test-FederationTrustCertificate": [
            {"Site": SERVERS[s], "Server": s, "State": "Installed", "Thumbprint": FED} for s in SERVERS
        ],
        "Get-FederationInformation": [
            {
                "TargetApplicationUri": "outlook.com",
                "TargetAutodiscoverEpr": "https://autodiscover-s.outlook.com/autodiscover/autodiscover.svc/WSSecurity",
            }
        ],
        "Get-OrganizationRelationship": [
            {
                "Name": "On-premises to O365",
                "DomainNames": [CLOUD],
                "Enabled": True,
                "FreeBusyAccessEnabled": True,
                "FreeBusyAccessLevel": "LimitedDetails",
                "TargetApplicationUri": "outlook.com",
                "TargetAutodiscoverEpr": "https://autodiscover-s.outlook.com/autodiscover/autodiscover.svc/WSSecurity",
            }
        ],
        "Get-IntraOrganizationConnector": [
            {
                "Name": "HybridIOC",
                "TargetAddressDomains": [CLOUD],
                "Enabled": True,
                "DiscoveryEndpoint": CLOUD_AUTODISCOVER,
            }
        ],
        "Get-AuthConfig": [{"CurrentCertificateThumbprint": AUTH}],
        "Get-AuthServer": [{"Name": "EvoSts", "Type": "AzureAD", "Enabled": True}],
        "Get-PartnerApplication": [
            {
                "Name": "Exchange Online",
                "ApplicationIdentifier": "00000002-0000-0ff1-ce00-000000000000",
                "Enabled": True,
            }
        ],
        "Get-SettingOverride": [
            {
                "Name": "EnableExchangeHybrid3PAppFeature",
                "ComponentName": "Global",
                "SectionName": "ExchangeOnpremAsThirdPartyAppId",
                "Parameters": ["Enabled=True"],
            }
        ],
        "Get-AvailabilityAddressSpace": [
            {
                "ForestName": CLOUD,
                "AccessMethod": "InternalProxy",
                "ProxyUrl": "https://ex01.contoso.com/EWS/Exchange.asmx",
            }
        ],
        "Get-AvailabilityConfig": [{"PerUserAccount": "CONTOSO\\Exchange Servers", "OrgWideAccount": None}],
        "Get-OrganizationConfig": [
            {"Name": "Contoso", "EwsEnabled": None, "EwsApplicationAccessPolicy": None}
        ],
        "Get-SharingPolicy": [
            {
                "Name": "Default Sharing Policy",
                "Default": True,
                "Enabled": True,
                "Domains": ["Anonymous:CalendarSharingFreeBusyReviewer", "*:CalendarSharingFreeBusySimple"],
            }
        ],
    }
    org.online = {
        "Get-OrganizationConfig": [{"Name": "contoso.onmicrosoft.com", "EwsEnabled": True}],
        "Get-FederationTrust": [{"Name": "Microsoft Federation Gateway", "ApplicationIdentifier": "260563"}],
        "Get-AcceptedDomain": [
            {"DomainName": "contoso.onmicrosoft.com", "InitialDomain": True},
            {"DomainName": "contoso.com", "InitialDomain": False},
        ],
        "Get-OrganizationRelationship": [
            {
                "Name": "O365 to On-premises",
                "DomainNames": ["contoso.com", "fabrikam.com"],
                "Enabled": True,
                "FreeBusyAccessEnabled": True,
                "FreeBusyAccessLevel": "LimitedDetails",
            }
        ],
        "Get-IntraOrganizationConnector": [
            {
                "Name": "HybridIOC",
                "TargetAddressDomains": ["contoso.com", "fabrikam.com"],
                "Enabled": True,
                "DiscoveryEndpoint": ONPREM_AUTODISCOVER,
            }
        ],
    }
    org.permissions = {
        TARGET: [Permission("Default", "AvailabilityOnly"), Permission("Anonymous", "None")],
        REQUESTER: [Permission("Default", "AvailabilityOnly"), Permission("Anonymous", "None")],
    }
    return org


PAIR = {"requester": REQUESTER, "target": TARGET}
