"""What every simulator is built from: the scenario, the fault knobs, fresh credentials and the lab PKI."""

from __future__ import annotations

import datetime
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lab.faults import FaultController
from lab.pki import LabPki
from lab.scenario.model import Scenario, resolve_time

__all__ = ["LabContext", "LabCredentials", "LabKerberos", "new_credentials", "realm_of"]


@dataclass(frozen=True)
class LabCredentials:
    """Generated at every lab start; never stored in the repository and never logged."""

    username: str  # DOMAIN\user, accepted by PSRP, WinRM and EWS (Basic; NTLM where offered)
    password: str = field(repr=False)
    tenant_id: str
    client_id: str  # app registration for Graph client credentials
    client_secret: str = field(repr=False)
    # The separate account that holds the write roles a remediation needs (never the read-only one).
    writer_username: str = ""
    writer_password: str = field(default="", repr=False)

    @property
    def writer_user(self) -> str:
        return self.writer_username.split("\\", 1)[-1]

    @property
    def domain(self) -> str:
        return self.username.split("\\", 1)[0] if "\\" in self.username else ""

    @property
    def user(self) -> str:
        return self.username.split("\\", 1)[-1]

    def accepts(self, username: str, password: str) -> bool:
        """Basic-auth check: DOMAIN\\user, user@domain or the bare user name, case-insensitive."""
        given = username.lower()
        names = {self.username.lower(), self.user.lower()}
        if self.domain:
            names.add(f"{self.user}@{self.domain}".lower())
        return given in names and secrets.compare_digest(password.encode(), self.password.encode())


def realm_of(scenario: Scenario) -> str:
    """The Kerberos realm of the scenario's Active Directory forest (contoso.com -> CONTOSO.COM)."""
    return scenario.organization.forest.upper()


def new_credentials(scenario: Scenario, password: str | None = None) -> LabCredentials:
    netbios = scenario.organization.forest.split(".", 1)[0].upper()
    return LabCredentials(
        username=f"{netbios}\\triage-svc",
        password=password if password is not None else secrets.token_urlsafe(18),
        tenant_id=scenario.exchange_online.tenant_id,
        client_id=str(uuid.uuid4()),
        client_secret=secrets.token_urlsafe(30),
        writer_username=f"{netbios}\\triage-fix",
        writer_password=secrets.token_urlsafe(18),
    )


@dataclass(frozen=True)
class LabKerberos:
    """The realm a lab's listeners accept Kerberos in: its name and the keytab of their SPNs."""

    realm: str
    keytab: Path


@dataclass
class LabContext:
    scenario: Scenario
    faults: FaultController
    credentials: LabCredentials
    tls: LabPki
    started_at: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    kerberos: LabKerberos | None = None
    # Remote PowerShell shells one account may hold at once (Exchange's PowerShellMaxConcurrency, 18 by
    # default); the PSRP simulator refuses one more with Exchange's own error.
    shell_limit: int = 18

    def time(self, value: str) -> datetime.datetime:
        """A scenario time (absolute or relative like 'now-2h') as an aware UTC datetime."""
        return resolve_time(value, self.started_at)
