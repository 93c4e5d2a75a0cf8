"""The pasteable commands behind the shared views: each reads what the port call of the same name reads.

Most checks need the servers, the sites, the pair's mailboxes and the accepted domains (`checks.views`),
so their remedies include these; a remedy shown for several checks lists each command once.
"""

from __future__ import annotations

from checks.remedies import PasteCommand

__all__ = [
    "ACCEPTED_DOMAINS",
    "AUTH_SERVERS",
    "CERTIFICATES",
    "EWS_BACK_END",
    "ORG",
    "PAIR",
    "PAIR_IDENTITY",
    "VDIRS",
]

ADP: tuple[tuple[str, str | bool], ...] = (("ADPropertiesOnly", True),)
_VDIR = ("Server", "Name", "InternalUrl", "ExternalUrl", "InternalAuthenticationMethods")
_OAUTH = ("OAuthAuthentication", "WSSecurityAuthentication")
_SIGN_IN = ("FormsAuthentication", "BasicAuthentication", "WindowsAuthentication", "AdfsAuthentication")

SERVERS = PasteCommand(
    "Get-ExchangeServer",
    ("Name", "Fqdn", "Domain", "Site", "ServerRole", "AdminDisplayVersion", "InternetWebProxy"),
)
VDIRS = {
    "owa": PasteCommand("Get-OwaVirtualDirectory", (*_VDIR, *_SIGN_IN), ADP),
    "ecp": PasteCommand("Get-EcpVirtualDirectory", (*_VDIR, *_SIGN_IN), ADP),
    "ews": PasteCommand("Get-WebServicesVirtualDirectory", (*_VDIR, *_OAUTH, "InternalNLBBypassUrl"), ADP),
    "autodiscover": PasteCommand("Get-AutodiscoverVirtualDirectory", (*_VDIR, *_OAUTH), ADP),
}
EWS_BACK_END = PasteCommand(
    "Get-WebServicesVirtualDirectory",
    ("Server", "Name", "InternalUrl", "InternalNLBBypassUrl"),
    (("ShowMailboxVirtualDirectories", True), *ADP),
)
ORG = (SERVERS, VDIRS["ews"], VDIRS["owa"])

_IDENTITY = ("EmailAddresses", "UserPrincipalName", "DistinguishedName")
_MAILBOX = (
    "PrimarySmtpAddress",
    "Alias",
    "DisplayName",
    "RecipientTypeDetails",
    "Database",
    "ServerName",
    *_IDENTITY,
)
_REMOTE = (
    "PrimarySmtpAddress",
    "Alias",
    "DisplayName",
    "RecipientTypeDetails",
    "RemoteRoutingAddress",
    *_IDENTITY,
)
ACCEPTED_DOMAINS = PasteCommand("Get-AcceptedDomain", ("Name", "DomainName", "DomainType", "Default"))
PAIR = (
    *(PasteCommand("Get-Mailbox", _MAILBOX, per=role) for role in ("requester", "target")),
    *(PasteCommand("Get-RemoteMailbox", _REMOTE, per=role) for role in ("requester", "target")),
    ACCEPTED_DOMAINS,
)
DUPLICATES = "EmailAddresses -eq 'smtp:{address}' -or EmailAddresses -eq 'sip:{address}' -or UserPrincipalName -eq '{address}'"
_RECIPIENT = (
    "Name",
    "RecipientTypeDetails",
    "PrimarySmtpAddress",
    "DistinguishedName",
    "EmailAddresses",
    "UserPrincipalName",
)
PAIR_IDENTITY = (
    *(
        PasteCommand("Get-Recipient", _RECIPIENT[:3], online=True, per=role)
        for role in ("requester", "target")
    ),
    *(
        PasteCommand("Get-Recipient", _RECIPIENT, per=role, param="Filter", value=DUPLICATES)
        for role in ("requester", "target")
    ),
    PasteCommand(
        "Get-CASMailbox",
        ("Name", "PrimarySmtpAddress", "MAPIBlockOutlookExternalConnectivity", "MAPIBlockOutlookRpcHttp"),
        per="target",
    ),
)
CERTIFICATES = PasteCommand(
    "Get-ExchangeCertificate",
    ("Thumbprint", "Subject", "Services", "NotAfter", "HasPrivateKey", "Status"),
    per="server",
)
AUTH_SERVERS = PasteCommand(
    "Get-AuthServer", ("Name", "Type", "Enabled", "IssuerIdentifier", "ApplicationIdentifier")
)
