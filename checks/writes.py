"""The write path: a separate port, credential and allow-list for applying an approved remediation.

Nothing here is reachable from the read-only checks. A write is allowed only when (1) the remediation is
enabled by configuration, (2) the cmdlet and each parameter name appear in that remediation's own `apply`
steps or rollback, and (3) every value passes the validator of its parameter in `WRITE_CMDLETS` (or
`WRITE_TEMPLATES`, `WRITE_EWS`). Anything else is refused before it leaves the process. Values travel as PSRP parameters, never as script text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from checks.errors import Refused
from checks.ports import Row
from checks.safety import check_name, text_param
from knowledge.fix_plan import CAPTURED, SECRET, FixPlan
from knowledge.validators import (
    ValueProblem,
    check_domain,
    check_server,
    check_smtp,
    check_thumbprint,
    check_url,
)

__all__ = [
    "SUBSCRIPTION_CLASS",
    "WRITE_CMDLETS",
    "WRITE_EWS",
    "WRITE_TEMPLATES",
    "SecretValue",
    "WritePort",
    "check_item_id",
    "guard_write",
    "plan_cmdlets",
    "plan_problems",
]


class SecretValue(str):
    """A value sent as a SecureString (the exported certificate's one-time password)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SecretValue(<hidden>)"


class WritePort(Protocol):
    """Runs one allow-listed write cmdlet with the write account; answers its output rows."""

    async def run(self, cmdlet: str, params: Mapping[str, Any]) -> list[Row]: ...

    async def close(self) -> None: ...


def _bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueProblem("expected $true or $false")
    return value


def _one_of(*allowed: str | bool) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        if value not in allowed:
            raise ValueProblem("expected one of " + ", ".join(str(a) for a in allowed))
        return value

    return checked


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        return None if value is None else check(value)

    return checked


_VDIR_IDENTITY = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}\\(owa|ecp|EWS|Autodiscover) \((Default Web Site|Exchange Back End)\)$"
)
_FOLDER = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}:\\Calendar$")


def _vdir(value: Any) -> Any:
    if not isinstance(value, str) or not _VDIR_IDENTITY.match(value):
        raise ValueProblem("expected a virtual directory as SERVER\\owa (Default Web Site)")
    return value


def _folder(value: Any) -> Any:
    if not isinstance(value, str) or not _FOLDER.match(value):
        raise ValueProblem("expected a calendar folder as address:\\Calendar")
    return value


def _https(value: Any) -> Any:
    checked = text_param(check_url)(value)
    if not checked.lower().startswith("https://"):
        raise ValueProblem("the URL must be https")
    return checked


def _bytes(value: Any) -> Any:
    if not isinstance(value, bytes) or not value:
        raise ValueProblem("expected the exported certificate's data")
    return value


def _secret(value: Any) -> Any:
    if not isinstance(value, str) or len(value) < 16:
        raise ValueProblem("expected the run's one-time password")
    return value


def _hashtable(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        if not isinstance(value, dict) or not value or set(value) - {"Add", "Remove"}:
            raise ValueProblem("expected @{Add=...} or @{Remove=...}")
        return {key: check(item) for key, item in value.items()}

    return checked


_RIGHTS = _one_of("AvailabilityOnly", "LimitedDetails", "Reviewer", "None")
_LEVEL = _one_of("None", "AvailabilityOnly", "LimitedDetails")
_FALSE = _one_of(False)

# cmdlet -> parameter -> validator. Only what the bundled remediations write; a remediation's own steps
# narrow this further (see `guard_write`).
WRITE_CMDLETS: Mapping[str, Mapping[str, Callable[[Any], Any]]] = {
    # http is allowed for a rollback to the value found; the forward step's value comes from the check's
    # suggested https URL.
    "Set-OwaVirtualDirectory": {"Identity": _vdir, "InternalUrl": text_param(check_url)},
    "Set-EcpVirtualDirectory": {"Identity": _vdir, "InternalUrl": text_param(check_url)},
    "Set-OrganizationRelationship": {
        "Identity": text_param(check_name),
        "Enabled": _bool,
        "FreeBusyAccessEnabled": _bool,
        "FreeBusyAccessLevel": _LEVEL,
    },
    "Set-IntraOrganizationConnector": {
        "Identity": text_param(check_name),
        "TargetAddressDomains": _hashtable(text_param(check_domain)),
    },
    "Set-ExchangeServer": {
        "Identity": text_param(check_server),
        "InternetWebProxy": _optional(text_param(check_url)),
    },
    "Set-MailboxFolderPermission": {"Identity": _folder, "User": _one_of("Default"), "AccessRights": _RIGHTS},
    "Add-MailboxFolderPermission": {
        "Identity": _folder,
        "User": text_param(check_smtp),
        "AccessRights": _RIGHTS,
    },
    "Remove-MailboxFolderPermission": {
        "Identity": _folder,
        "User": text_param(check_smtp),
        "Confirm": _FALSE,
    },
    "Remove-AvailabilityAddressSpace": {"Identity": text_param(check_domain), "Confirm": _FALSE},
    "Add-AvailabilityAddressSpace": {
        "ForestName": text_param(check_domain),
        "AccessMethod": _one_of("InternalProxy"),
        "UseServiceAccount": _bool,
        "ProxyUrl": _https,
    },
    "Export-ExchangeCertificate": {
        "Server": text_param(check_server),
        "Thumbprint": text_param(check_thumbprint),
        "BinaryEncoded": _one_of(True),
        "Password": _secret,
    },
    "Import-ExchangeCertificate": {
        "Server": text_param(check_server),
        "FileData": _bytes,
        "Password": _secret,
    },
}
_COMMON = {"WhatIf": _one_of(True)}

# EWS operation -> its parameters, every one required: only DeleteItem of the hidden sharing subscription of
# one sharer, in the \root\Sharing folder of the named mailbox, soft-deleted (to Recoverable Items, so an
# administrator can recover it within the deleted item retention period; MoveToDeletedItems would leave a
# hidden item in Deleted Items that no one sees or empties, HardDelete could not be undone). The writer
# (`checks.backends.ews_write`) deletes only items it found there with that class, by their ItemId
# (`check_item_id`).
SUBSCRIPTION_CLASS = "IPM.ExternalSharingSubscription"
WRITE_EWS: Mapping[str, Mapping[str, Callable[[Any], Any]]] = {
    "DeleteItem": {
        "Mailbox": text_param(check_smtp),
        "Folder": _one_of("Sharing"),
        "ItemClass": _one_of(SUBSCRIPTION_CLASS),
        "Sharer": text_param(check_smtp),
        "DeleteType": _one_of("SoftDelete"),
    },
}
_ITEM_ID = re.compile(r"^[A-Za-z0-9+/_=-]{8,512}$")


def check_item_id(value: Any) -> str:
    """An EWS ItemId as Exchange gives it (base64, bounded); raises `ValueProblem` for anything else."""
    if not isinstance(value, str) or not _ITEM_ID.match(value):
        raise ValueProblem("expected an EWS ItemId (base64)")
    return value


# write host template -> its parameters (Server is the host; the others become the template's arguments)
WRITE_TEMPLATES: Mapping[str, Mapping[str, Callable[[Any], Any]]] = {
    "iis-require-ssl": {
        "Server": text_param(check_server),
        "Site": _one_of("Default Web Site"),
        "Path": _one_of("owa", "ecp"),
    },
}


def plan_cmdlets(plan: FixPlan) -> dict[str, set[str]]:
    """The cmdlets a plan may run and the parameter names each may take: the remediation's allow-list."""
    allowed: dict[str, set[str]] = {}
    for step in (*plan.steps, *plan.rollback):
        allowed.setdefault(step.key, set()).update(step.params)
    return allowed


def guard_write(
    cmdlet: str,
    params: Mapping[str, Any],
    allowed: Mapping[str, set[str]],
    *,
    backend: str = "Exchange (write)",
) -> dict[str, Any]:
    """The parameters, validated; raises `Refused` for any cmdlet, parameter or value outside the lists."""
    name = cmdlet.removeprefix("template:").removeprefix("ews:")
    spec = (
        WRITE_TEMPLATES.get(name)
        if cmdlet.startswith("template:")
        else WRITE_EWS.get(name)
        if cmdlet.startswith("ews:")
        else WRITE_CMDLETS.get(cmdlet)
    )
    if spec is None or cmdlet not in allowed:
        raise Refused(backend, f"The cmdlet {cmdlet[:60]!r} is not a write this remediation may make.")
    if cmdlet.startswith("ews:") and (missing := sorted(set(spec) - set(params))):
        raise Refused(backend, f"{cmdlet} needs -{missing[0]}: every parameter of an EWS write is named.")
    checked: dict[str, Any] = {}
    for name, value in params.items():
        validator = _COMMON.get(name) or (spec.get(name) if name in allowed[cmdlet] else None)
        if validator is None:
            raise Refused(backend, f"{cmdlet} may not be given -{name[:40]} by this remediation.")
        if isinstance(value, dict) and (CAPTURED in value or SECRET in value):
            raise Refused(backend, f"{cmdlet} -{name}: a value that was never filled in.")
        try:
            checked[name] = validator(value)
        except ValueProblem as problem:
            raise Refused(backend, f"{cmdlet} -{name}: {problem}") from None
    return checked


def plan_problems(plan: FixPlan) -> list[str]:
    """Why a plan's filled steps would be refused (empty when every step passes the allow-list)."""
    allowed = plan_cmdlets(plan)
    problems = []
    for step in (*plan.steps, *plan.rollback):
        filled = {
            k: v
            for k, v in step.params.items()
            if not (isinstance(v, dict) and (CAPTURED in v or SECRET in v))
        }
        try:
            guard_write(step.key, filled, allowed)
        except Refused as refusal:
            problems.append(str(refusal))
    return problems
