"""What every simulator is built from: the scenario, the fault knobs, fresh credentials and the lab PKI."""

from __future__ import annotations

import datetime
import secrets
import uuid
from dataclasses import dataclass, field

from lab.faults import FaultController
from lab.pki import LabPki
from lab.scenario.model import Scenario, resolve_time

__all__ = ["LabContext", "LabCredentials", "new_credentials"]


@dataclass(frozen=True)
class LabCredentials:
    """Generated at every lab start; never stored in the repository and never logged."""

    username: str  # DOMAIN\user, accepted by PSRP, WinRM and EWS (Basic; NTLM where offered)
    password: str = field(repr=False)
    tenant_id: str
    client_id: str  # app registration for Graph client credentials
    client_secret: str = field(repr=False)

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


def new_credentials(scenario: Scenario) -> LabCredentials:
    netbios = scenario.organization.forest.split(".", 1)[0].upper()
    return LabCredentials(
        username=f"{netbios}\\triage-svc",
        password=secrets.token_urlsafe(18),
        tenant_id=scenario.exchange_online.tenant_id,
        client_id=str(uuid.uuid4()),
        client_secret=secrets.token_urlsafe(30),
    )


@dataclass
class LabContext:
    scenario: Scenario
    faults: FaultController
    credentials: LabCredentials
    tls: LabPki
    started_at: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))

    def time(self, value: str) -> datetime.datetime:
        """A scenario time (absolute or relative like 'now-2h') as an aware UTC datetime."""
        return resolve_time(value, self.started_at)
