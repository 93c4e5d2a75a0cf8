"""Scenario data rendered as the objects Exchange cmdlets return, with Exchange's property names.

Values carry PowerShell-like types: DateTime for dates, bool, lists for multi-valued properties,
`Uri` for URLs. Enum-valued properties (ServerRole, AccessRights entries, Services entries...) are
their names as strings, which is what a deserialized remote object shows.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from lab.context import LabContext
from lab.psrp.wire import PsObject, PsValue, Uri
from lab.scenario.model import (
    Certificate,
    ExchangeOnline,
    Mailbox,
    Organization,
    OrganizationRelationship,
    Server,
    VirtualDirectory,
)

__all__ = [
    "VDIR_KINDS",
    "accepted_domain",
    "accepted_domain_of",
    "ad_site",
    "auth_config",
    "auth_server",
    "availability_address_space",
    "certificate",
    "exchange_server",
    "federated_organization_identifier",
    "federation_information",
    "federation_trust",
    "intra_organization_connector",
    "mailbox",
    "mailbox_database",
    "organization_config",
    "organization_relationship",
    "partner_application",
    "permission",
    "remote_mailbox",
    "setting_override",
    "sharing_policy",
    "site_id",
    "virtual_directories",
]

_DS = "Microsoft.Exchange.Data.Directory"
_CONFIG = f"{_DS}.SystemConfiguration"
_MANAGEMENT = f"{_DS}.Management"
_BASE = (
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.ConfigurableObject",
    "System.Object",
)
_X509 = (
    "System.Security.Cryptography.X509Certificates.X509Certificate2",
    "System.Security.Cryptography.X509Certificates.X509Certificate",
    "System.Object",
)
_ADMIN_GROUP = "Exchange Administrative Group (FYDIBOHF23SPDLT)"

# kind -> (cmdlet noun, IIS application, type name)
VDIR_KINDS: dict[str, tuple[str, str, str]] = {
    "owa": ("OwaVirtualDirectory", "owa", "ADOwaVirtualDirectory"),
    "ecp": ("EcpVirtualDirectory", "ecp", "ADEcpVirtualDirectory"),
    "ews": ("WebServicesVirtualDirectory", "EWS", "ADWebServicesVirtualDirectory"),
    "autodiscover": ("AutodiscoverVirtualDirectory", "Autodiscover", "ADAutodiscoverVirtualDirectory"),
}


def _obj(type_name: str, props: dict[str, PsValue], to_string: str) -> PsObject:
    props.setdefault("Identity", to_string)
    return PsObject((type_name, *_BASE), props, to_string)


def _uri(value: str | None) -> Uri | None:
    return Uri(value) if value else None


def site_id(org: Organization, site: str) -> str:
    """How Exchange shows an AD site reference (an ADObjectId's canonical name)."""
    return f"{org.forest}/Configuration/Sites/{site}"


def _server_dn(org: Organization, server: str) -> str:
    dc = ",".join(f"DC={part}" for part in org.forest.split("."))
    return (
        f"CN={server},CN=Servers,CN={_ADMIN_GROUP},CN=Administrative Groups,CN={org.name},"
        f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{dc}"
    )


def exchange_server(ctx: LabContext, server: Server) -> PsObject:
    org = ctx.scenario.organization
    props: dict[str, PsValue] = {
        "Name": server.name,
        "Fqdn": server.fqdn,
        "Domain": org.forest,
        "Site": site_id(org, server.site),
        "ServerRole": ", ".join(server.roles),
        "AdminDisplayVersion": server.admin_display_version,
        "Edition": server.edition,
        "IsMailboxServer": "Mailbox" in server.roles,
        "IsClientAccessServer": "Mailbox" in server.roles or "ClientAccess" in server.roles,
        "IsEdgeServer": "Edge" in server.roles,
        "IsExchange2007OrLater": True,
        "IsE14OrLater": True,
        "IsE15OrLater": True,
        "InternetWebProxy": _uri(server.internet_web_proxy),
        "DistinguishedName": _server_dn(org, server.name),
    }
    return _obj(f"{_MANAGEMENT}.ExchangeServer", props, server.name)


def ad_site(ctx: LabContext, name: str) -> PsObject:
    org = ctx.scenario.organization
    props: dict[str, PsValue] = {"Name": name, "HubSiteEnabled": False, "InboundMailEnabled": True}
    return _obj(f"{_CONFIG}.ADSite", props, site_id(org, name))


def _x509(ctx: LabContext, cert: Certificate) -> dict[str, PsValue]:
    return {
        "Thumbprint": cert.thumbprint,
        "Subject": cert.subject,
        "Issuer": cert.issuer or cert.subject,
        "NotBefore": ctx.time(cert.not_before),
        "NotAfter": ctx.time(cert.not_after),
        "HasPrivateKey": cert.has_private_key,
    }


def certificate(ctx: LabContext, server: Server, cert: Certificate) -> PsObject:
    props: dict[str, PsValue] = {
        **_x509(ctx, cert),
        "Services": list(cert.services),
        "Status": cert.status,
        "CertificateDomains": list(cert.certificate_domains),
        "IsSelfSigned": cert.issuer is None,
        "FriendlyName": cert.subject.split(",", 1)[0].removeprefix("CN="),
        "ServerName": server.name,
        "Identity": f"{server.fqdn}\\{cert.thumbprint}",
    }
    return PsObject(
        ("Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate", *_X509),
        props,
        f"[Subject]\n  {cert.subject}\n\n[Thumbprint]\n  {cert.thumbprint}",
    )


def _find_certificate(org: Organization, thumbprint: str | None) -> Certificate | None:
    for server in org.servers:
        for cert in server.certificates:
            if cert.thumbprint == thumbprint:
                return cert
    return None


def _trust_certificate(ctx: LabContext, thumbprint: str | None) -> PsObject | None:
    """An Org*Certificate of the trust: the public part published in AD, wherever the key lives."""
    if thumbprint is None:
        return None
    cert = _find_certificate(ctx.scenario.organization, thumbprint)
    props: dict[str, PsValue] = {"Thumbprint": thumbprint, "Subject": "CN=Federation", "NotAfter": None}
    if cert is not None:
        props = _x509(ctx, cert)
        props["HasPrivateKey"] = False
    return PsObject(_X509, props, f"[Subject]\n  {props['Subject']!s}\n\n[Thumbprint]\n  {thumbprint}")


def federation_trust(ctx: LabContext) -> list[PsObject]:
    trust = ctx.scenario.organization.federation_trust
    if trust is None:
        return []
    issuer_cert: PsObject | None = None
    if trust.token_issuer_certificate_thumbprint:
        not_after = trust.token_issuer_certificate_not_after
        issuer_props: dict[str, PsValue] = {
            "Thumbprint": trust.token_issuer_certificate_thumbprint,
            "Subject": "CN=login.microsoftonline.com",
            "NotAfter": ctx.time(not_after) if not_after else None,
        }
        issuer_cert = PsObject(_X509, issuer_props, "[Subject]\n  CN=login.microsoftonline.com")
    props: dict[str, PsValue] = {
        "Name": trust.name,
        "ApplicationUri": trust.application_uri,
        "ApplicationIdentifier": trust.application_identifier,
        "OrgCertificate": _trust_certificate(ctx, trust.org_certificate),
        "OrgPrevCertificate": _trust_certificate(ctx, trust.org_prev_certificate),
        "OrgNextCertificate": _trust_certificate(ctx, trust.org_next_certificate),
        "OrgPrivCertificate": trust.org_certificate,
        "OrgPrevPrivCertificate": trust.org_prev_certificate,
        "OrgNextPrivCertificate": trust.org_next_certificate,
        "TokenIssuerUri": Uri(trust.token_issuer_uri),
        "TokenIssuerCertificate": issuer_cert,
        "TokenIssuerMetadataEpr": Uri(trust.token_issuer_metadata_epr),
        "TokenIssuerEpr": Uri(trust.token_issuer_epr),
    }
    return [_obj(f"{_CONFIG}.FederationTrust", props, trust.name)]


def federated_organization_identifier(ctx: LabContext) -> list[PsObject]:
    fed = ctx.scenario.organization.federated_organization_identifier
    if fed is None:
        return []
    props: dict[str, PsValue] = {
        "AccountNamespace": fed.account_namespace,
        "Domains": list(fed.domains),
        "Enabled": fed.enabled,
        "DelegationTrustLink": fed.delegation_trust_link,
    }
    return [
        _obj(
            f"{_MANAGEMENT}.FederatedOrganizationIdWithDomainStatus", props, "FederatedOrganizationIdentifier"
        )
    ]


def federation_information(ctx: LabContext, domain: str) -> PsObject | None:
    for info in ctx.scenario.organization.federation_information:
        if info.domain_name.lower() == domain.lower():
            props: dict[str, PsValue] = {
                "DomainNames": list(info.domain_names),
                "TargetApplicationUri": _uri(info.target_application_uri),
                "TargetAutodiscoverEpr": _uri(info.target_autodiscover_epr),
                "TokenIssuerUris": list(info.token_issuer_uris),
            }
            return PsObject(("Microsoft.Exchange.Data.FederationInformation", "System.Object"), props, domain)
    return None


def organization_relationship(rel: OrganizationRelationship) -> PsObject:
    props: dict[str, PsValue] = {
        "Name": rel.name,
        "DomainNames": list(rel.domain_names),
        "Enabled": rel.enabled,
        "FreeBusyAccessEnabled": rel.free_busy_access_enabled,
        "FreeBusyAccessLevel": rel.free_busy_access_level,
        "FreeBusyAccessScope": rel.free_busy_access_scope,
        "TargetApplicationUri": _uri(rel.target_application_uri),
        "TargetAutodiscoverEpr": _uri(rel.target_autodiscover_epr),
        "TargetSharingEpr": _uri(rel.target_sharing_epr),
        "TargetOwaURL": _uri(rel.target_owa_url),
        "MailTipsAccessEnabled": True,
        "MailTipsAccessLevel": "All",
        "DeliveryReportEnabled": True,
        "PhotosEnabled": True,
    }
    return _obj(f"{_MANAGEMENT}.OrganizationRelationship", props, rel.name)


def intra_organization_connector(
    name: str, domains: list[str], endpoint: str, sharing: str | None, enabled: bool
) -> PsObject:
    props: dict[str, PsValue] = {
        "Name": name,
        "TargetAddressDomains": list(domains),
        "DiscoveryEndpoint": Uri(endpoint),
        "TargetSharingEpr": _uri(sharing),
        "Enabled": enabled,
    }
    return _obj(f"{_CONFIG}.IntraOrganizationConnector", props, name)


def auth_config(ctx: LabContext) -> list[PsObject]:
    config = ctx.scenario.organization.auth_config
    if config is None:
        return []
    props: dict[str, PsValue] = {
        "Name": "Auth Configuration",
        "CurrentCertificateThumbprint": config.current_certificate_thumbprint,
        "PreviousCertificateThumbprint": config.previous_certificate_thumbprint,
        "NextCertificateThumbprint": config.next_certificate_thumbprint,
        "NextCertificateEffectiveDate": None,
        "ServiceName": config.service_name,
        "Realm": config.realm,
    }
    return [_obj(f"{_CONFIG}.AuthConfig", props, "Auth Configuration")]


def auth_server(ctx: LabContext, index: int) -> PsObject:
    server = ctx.scenario.organization.auth_servers[index]
    props: dict[str, PsValue] = {
        "Name": server.name,
        "Type": server.type,
        "IssuerIdentifier": server.issuer_identifier,
        "TokenIssuingEndpoint": server.token_issuing_endpoint,
        "AuthMetadataUrl": server.auth_metadata_url,
        "ApplicationIdentifier": server.application_identifier,
        "DomainName": list(server.domain_name),
        "Realm": server.realm,
        "Enabled": server.enabled,
        "IsDefaultAuthorizationEndpoint": server.is_default_authorization_endpoint,
    }
    return _obj(f"{_CONFIG}.AuthServer", props, server.name)


def partner_application(ctx: LabContext, index: int) -> PsObject:
    app = ctx.scenario.organization.partner_applications[index]
    props: dict[str, PsValue] = {
        "Name": app.name,
        "ApplicationIdentifier": app.application_identifier,
        "Enabled": app.enabled,
        "LinkedAccount": app.linked_account,
        "UseAuthServer": app.use_auth_server,
        "Realm": app.realm,
        "AcceptSecurityIdentifierInformation": False,
    }
    return _obj(f"{_CONFIG}.PartnerApplication", props, app.name)


def setting_override(ctx: LabContext, index: int) -> PsObject:
    override = ctx.scenario.organization.setting_overrides[index]
    props: dict[str, PsValue] = {
        "Name": override.name,
        "ComponentName": override.component,
        "SectionName": override.section,
        "Parameters": list(override.parameters),
        "Reason": override.reason,
        "Server": list(override.server) or None,
    }
    return _obj(f"{_CONFIG}.SettingOverride", props, override.name)


def availability_address_space(ctx: LabContext, index: int) -> PsObject:
    space = ctx.scenario.organization.availability_address_spaces[index]
    props: dict[str, PsValue] = {
        "Name": space.forest_name,
        "ForestName": space.forest_name,
        "AccessMethod": space.access_method,
        "ProxyUrl": _uri(space.proxy_url),
        "TargetAutodiscoverEpr": _uri(space.target_autodiscover_epr),
        "UseServiceAccount": space.use_service_account,
        "UserName": space.user_name,
    }
    return _obj(f"{_CONFIG}.AvailabilityAddressSpace", props, space.forest_name)


def accepted_domain(ctx: LabContext, index: int) -> PsObject:
    domain = ctx.scenario.organization.accepted_domains[index]
    return accepted_domain_of(domain.domain_name, domain.domain_type, domain.default)


def accepted_domain_of(name: str, domain_type: str, default: bool) -> PsObject:
    props: dict[str, PsValue] = {
        "Name": name,
        "DomainName": name,
        "DomainType": domain_type,
        "Default": default,
    }
    return _obj(f"{_CONFIG}.AcceptedDomain", props, name)


def sharing_policy(name: str, domains: list[str], enabled: bool, default: bool) -> PsObject:
    props: dict[str, PsValue] = {
        "Name": name,
        "Domains": list(domains),
        "Enabled": enabled,
        "Default": default,
    }
    return _obj(f"{_CONFIG}.SharingPolicy", props, name)


def organization_config(online: ExchangeOnline) -> PsObject:
    props: dict[str, PsValue] = {
        "Name": online.tenant.split(".", 1)[0],
        "EwsEnabled": online.ews_enabled,
        "IsDehydrated": False,
        "OAuth2ClientProfileEnabled": True,
    }
    return _obj(f"{_MANAGEMENT}.OrganizationConfig", props, online.tenant)


def _vdir_props(server: Server, kind: str, vdir: VirtualDirectory, web_site: str) -> dict[str, PsValue]:
    _noun, app, _type = VDIR_KINDS[kind]
    back_end = web_site == "Exchange Back End"
    path = urlsplit(vdir.internal_url).path if vdir.internal_url else f"/{app}"
    internal = f"https://{server.fqdn}:444{path}" if back_end else vdir.internal_url
    methods = list(vdir.authentication)
    props: dict[str, PsValue] = {
        "Name": f"{app} ({web_site})",
        "Server": server.name,
        "InternalUrl": _uri(internal),
        "ExternalUrl": None if back_end else _uri(vdir.external_url),
        "InternalAuthenticationMethods": list[PsValue](methods),
        "ExternalAuthenticationMethods": list(vdir.external_authentication or methods),
        "BasicAuthentication": "Basic" in methods,
        "WindowsAuthentication": "WindowsIntegrated" in methods or "Ntlm" in methods,
        "MetabasePath": f"IIS://{server.fqdn}/W3SVC/{2 if back_end else 1}/ROOT/{app}",
        "Identity": f"{server.name}\\{app} ({web_site})",
    }
    if kind in ("owa", "ecp"):
        props["FormsAuthentication"] = "Fba" in methods
    if kind in ("ews", "autodiscover"):
        props["OAuthAuthentication"] = bool(vdir.oauth_authentication)
        props["WSSecurityAuthentication"] = "WSSecurity" in methods
    if kind == "ews":
        props["InternalNLBBypassUrl"] = _uri(vdir.internal_nlb_bypass_url) if back_end else None
        props["MRSProxyEnabled"] = False
    return props


def virtual_directories(server: Server, kind: str, *, back_end: bool) -> list[PsObject]:
    """A server's front-end vdir of this kind, and its back-end twin when asked for."""
    vdir = getattr(server.virtual_directories, kind)
    type_name = f"{_CONFIG}.{VDIR_KINDS[kind][2]}"
    sites = ["Default Web Site", "Exchange Back End"] if back_end else ["Default Web Site"]
    objects = []
    for web_site in sites:
        props = _vdir_props(server, kind, vdir, web_site)
        objects.append(_obj(type_name, props, str(props["Identity"])))
    return objects


def _exchange_guid(address: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"mailbox:{address.lower()}")


def user_dn(org: Organization, name: str) -> str:
    return f"CN={name},CN=Users," + ",".join(f"DC={part}" for part in org.forest.split("."))


def email_addresses(ctx: LabContext, box: Mailbox) -> list[str]:
    """A mailbox's proxy addresses: the scenario's, else its primary and its tenant routing address."""
    if box.email_addresses is not None:
        return list(box.email_addresses)
    routing = box.remote_routing_address or f"{box.local_part}@{ctx.scenario.exchange_online.routing_domain}"
    return [f"SMTP:{box.address}", f"smtp:{routing}"]


def _recipient_props(ctx: LabContext, box: Mailbox) -> dict[str, PsValue]:
    alias = box.alias or box.local_part
    return {
        "Name": box.display_name,
        "Alias": alias,
        "DisplayName": box.display_name,
        "PrimarySmtpAddress": box.address,
        "EmailAddresses": list[PsValue](email_addresses(ctx, box)),
        "UserPrincipalName": box.user_principal_name or box.address,
        "ExchangeGuid": _exchange_guid(box.address),
        "DistinguishedName": user_dn(ctx.scenario.organization, box.display_name),
        "Identity": f"{ctx.scenario.organization.forest}/Users/{box.display_name}",
    }


def mailbox(ctx: LabContext, box: Mailbox) -> PsObject:
    props = _recipient_props(ctx, box)
    server = ctx.scenario.mailbox_server(box)
    props.update(
        {
            "RecipientTypeDetails": "UserMailbox",
            "Database": box.database,
            "ServerName": server.name.lower() if server else None,
            "Site": site_id(ctx.scenario.organization, server.site) if server else None,
        }
    )
    return _obj(f"{_MANAGEMENT}.Mailbox", props, box.display_name)


def remote_mailbox(ctx: LabContext, box: Mailbox) -> PsObject:
    props = _recipient_props(ctx, box)
    routing = box.remote_routing_address or f"{box.local_part}@{ctx.scenario.exchange_online.routing_domain}"
    props.update({"RecipientTypeDetails": "RemoteUserMailbox", "RemoteRoutingAddress": f"SMTP:{routing}"})
    return _obj(f"{_MANAGEMENT}.RemoteMailbox", props, box.display_name)


def mailbox_database(ctx: LabContext, name: str, server: str) -> PsObject:
    props: dict[str, PsValue] = {
        "Name": name,
        "Server": server,
        "MasterServerOrAvailabilityGroup": server,
        "Recovery": False,
        "AdminDisplayVersion": (
            ctx.scenario.server(server) or ctx.scenario.organization.servers[0]
        ).admin_display_version,
    }
    return _obj(f"{_CONFIG}.MailboxDatabase", props, name)


def permission(ctx: LabContext, box: Mailbox, user: str, rights: list[str], flags: list[str]) -> PsObject:
    """One Get-MailboxFolderPermission row; User is shown by display name, as Exchange does."""
    grantee = ctx.scenario.mailbox(user) if "@" in user else None
    props: dict[str, PsValue] = {
        "FolderName": "Calendar",
        "User": grantee.display_name if grantee else user,
        "AccessRights": list(rights),
        "SharingPermissionFlags": ", ".join(flags) or None,
        "Identity": f"{box.address}:\\Calendar",
    }
    return PsObject(
        ("Microsoft.Exchange.Management.StoreTasks.MailboxFolderPermission", *_BASE[1:]),
        props,
        str(props["User"]),
    )
