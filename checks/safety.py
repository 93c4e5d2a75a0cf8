"""What the ports may send: a read-only cmdlet allow-list with typed parameters, values validated first.

Every port call goes through `guard_cmdlet` (the per-triage memo and each Exchange backend call it), so a
cmdlet that changes anything, an unknown parameter or a value that fails its validator never leaves
the process. Values travel as parameters (PSRP arguments, JSON in the WinRM template contract), never as
script text; the validation is the second line, not the only one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from checks.errors import Refused
from knowledge.validators import (
    ValueProblem,
    check_domain,
    check_server,
    check_smtp,
    check_thumbprint,
    check_url,
)

__all__ = [
    "EXCHANGE_CMDLETS",
    "EXCHANGE_ONLINE_CMDLETS",
    "check_anr",
    "check_group",
    "check_name",
    "check_recipient_filter",
    "guard_cmdlet",
    "recipient_filter",
    "text_param",
    "valid_address",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


def check_name(value: str) -> str:
    """A database, site or object name as Exchange prints it."""
    if not _NAME.match(value):
        raise ValueProblem(f"'{value[:64]}' is not a plain object name.")
    return value


_ADDRESS = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}"
# The one recipient filter the checks send: an address as proxy (SMTP or SIP) or UPN. Nothing else passes,
# so a filter can only ever ask for the objects using one address.
_RECIPIENT_FILTER = re.compile(
    rf"EmailAddresses -eq 'smtp:({_ADDRESS})' -or EmailAddresses -eq 'sip:\1' -or UserPrincipalName -eq '\1'"
)
_GROUP_NAME = re.compile(r"^[^'\"`$;|<>\r\n]{1,256}$")


def check_recipient_filter(value: str) -> str:
    if not _RECIPIENT_FILTER.fullmatch(value):
        raise ValueProblem("only the duplicate-address recipient filter is allowed")
    return value


_ANR = re.compile(r"^[^'\"`$;|<>(){}\[\]*\\\r\n]{1,64}$")


def check_anr(value: str) -> str:
    """Text for ambiguous name resolution: a name, an alias or the start of an address (letters of any
    script, spaces, dots, dashes, @); no quoting, wildcard or script characters."""
    if not _ANR.match(value) or not value.strip():
        raise ValueProblem(f"'{value[:64]}' is not a name to look up.")
    return value


def check_group(value: str) -> str:
    """A group's name, alias, address or distinguished name, as a FreeBusyAccessScope names it."""
    if not _GROUP_NAME.match(value):
        raise ValueProblem(f"'{value[:64]}' is not a group name.")
    return value


def recipient_filter(address: str) -> str | None:
    """The filter that finds every object using `address` (None for an address it cannot carry)."""
    candidate = f"EmailAddresses -eq 'smtp:{address}' -or EmailAddresses -eq 'sip:{address}' -or UserPrincipalName -eq '{address}'"
    return candidate if _RECIPIENT_FILTER.fullmatch(candidate) else None


def _switch(value: Any) -> Any:
    if value is not True:
        raise ValueProblem("a switch parameter takes only $true")
    return value


def text_param(check: Callable[[str], str]) -> Callable[[Any], Any]:
    """A parameter validator: text that `check` accepts (ValueProblem otherwise)."""

    def checked(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueProblem(f"expected text, got {type(value).__name__}")
        return check(value)

    return checked


_SMTP = text_param(check_smtp)
_SERVER = text_param(check_server)
_DOMAIN = text_param(check_domain)
_THUMB = text_param(check_thumbprint)
_URL = text_param(check_url)
_NAMED = text_param(check_name)

_GROUP = text_param(check_group)
_VDIR = {"Server": _SERVER, "ADPropertiesOnly": _switch, "ShowMailboxVirtualDirectories": _switch}
_NONE: dict[str, Callable[[Any], Any]] = {}

# cmdlet -> its allowed parameters and the validator of each. Read-only Get-*/Test-* only.
EXCHANGE_CMDLETS: Mapping[str, Mapping[str, Callable[[Any], Any]]] = {
    "Get-ExchangeServer": {"Identity": _SERVER},
    "Get-Mailbox": {"Identity": _SMTP},
    "Get-RemoteMailbox": {"Identity": _SMTP},
    "Get-MailboxDatabase": {"Identity": _NAMED, "Status": _switch},
    "Get-AcceptedDomain": _NONE,
    "Get-ExchangeCertificate": {"Server": _SERVER, "Thumbprint": _THUMB},
    "Get-FederationTrust": _NONE,
    "Get-FederatedOrganizationIdentifier": _NONE,
    "Get-FederationInformation": {"DomainName": _DOMAIN, "BypassAdditionalDomainValidation": _switch},
    "Test-FederationTrust": _NONE,
    "Test-FederationTrustCertificate": _NONE,
    "Get-OrganizationRelationship": _NONE,
    "Get-IntraOrganizationConnector": _NONE,
    "Get-AuthConfig": _NONE,
    "Get-AuthServer": _NONE,
    "Get-PartnerApplication": _NONE,
    "Get-SettingOverride": _NONE,
    "Get-AvailabilityAddressSpace": _NONE,
    "Get-SharingPolicy": _NONE,
    "Get-OwaVirtualDirectory": _VDIR,
    "Get-EcpVirtualDirectory": _VDIR,
    "Get-WebServicesVirtualDirectory": _VDIR,
    "Get-AutodiscoverVirtualDirectory": _VDIR,
    "Test-OAuthConnectivity": {"Service": _NAMED, "TargetUri": _URL, "Mailbox": _SMTP},
    "Get-Recipient": {
        "Identity": _SMTP,
        "Filter": text_param(check_recipient_filter),
        "Anr": text_param(check_anr),
    },
    "Get-CASMailbox": {"Identity": _SMTP},
    "Get-DistributionGroupMember": {"Identity": _GROUP},
    "Get-AvailabilityConfig": _NONE,
    "Get-OrganizationConfig": _NONE,
    "Get-ServerComponentState": {"Identity": _SERVER},
}

# Exchange Online configuration cmdlets the management host may run (parameterless Gets).
EXCHANGE_ONLINE_CMDLETS: Mapping[str, Mapping[str, Callable[[Any], Any]]] = {
    "Get-OrganizationConfig": _NONE,
    "Get-OrganizationRelationship": _NONE,
    "Get-IntraOrganizationConnector": _NONE,
    "Get-SharingPolicy": _NONE,
    "Get-AcceptedDomain": _NONE,
    "Get-FederationTrust": _NONE,
    "Get-Recipient": {"Identity": _SMTP},
    "Get-DistributionGroupMember": {"Identity": _GROUP},
}


def guard_cmdlet(
    cmdlet: str,
    params: Mapping[str, Any] | None,
    allowed: Mapping[str, Mapping[str, Callable[[Any], Any]]] = EXCHANGE_CMDLETS,
    *,
    backend: str = "Exchange",
) -> dict[str, Any]:
    """The parameters, validated; raises `Refused` for anything outside the allow-list."""
    spec = allowed.get(cmdlet)
    if spec is None:
        raise Refused(backend, f"The cmdlet {cmdlet[:60]!r} is not on the read-only list this tool may run.")
    checked: dict[str, Any] = {}
    for name, value in (params or {}).items():
        validator = spec.get(name)
        if validator is None:
            raise Refused(backend, f"{cmdlet} takes no parameter {name[:40]!r} here.")
        try:
            checked[name] = validator(value)
        except ValueProblem as problem:
            raise Refused(backend, f"{cmdlet} -{name}: {problem}") from None
    return checked


def valid_address(value: Any) -> str:
    """An address from the facts, validated; raises `Refused` with the validator's message."""
    if not isinstance(value, str):
        raise Refused("input", "The address is missing or not text.")
    try:
        return check_smtp(value)
    except ValueProblem as problem:
        raise Refused("input", str(problem)) from None
