"""A Kerberos realm for a lab scenario: the service account and every server's HTTP/ and WSMAN/ SPN.

The listeners all run on loopback, so the loopback names (`localhost`, `127.0.0.1`) have SPNs too: a client
in its default settings derives the SPN from the URL it dials. A server named in the scenario's
`access.missing_spns` gets none (the "unknown SPN" case).
"""

from __future__ import annotations

from lab.auth.kdc import RunningKdc, start_kdc
from lab.context import LabKerberos, realm_of
from lab.scenario.model import Scenario

__all__ = ["LOOPBACK_NAMES", "SERVICE_ACCOUNT", "lab_kerberos", "service_principals", "start_realm"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1")
SERVICE_ACCOUNT = "triage-svc"


def service_principals(scenario: Scenario) -> list[str]:
    missing = {name.lower() for name in scenario.access.missing_spns}
    hosts = [s.fqdn for s in scenario.organization.servers if s.name.lower() not in missing]
    hosts += [s.name for s in scenario.organization.servers if s.name.lower() not in missing]
    hosts += LOOPBACK_NAMES
    return [f"{service}/{host.lower()}" for host in hosts for service in ("HTTP", "WSMAN", "host")]


def start_realm(scenario: Scenario) -> RunningKdc:
    """A KDC for the scenario's forest (contoso.com -> CONTOSO.COM) on a free loopback port."""
    domains = {scenario.organization.forest.lower()} | {
        s.fqdn.split(".", 1)[1].lower() for s in scenario.organization.servers if "." in s.fqdn
    }
    return start_kdc(
        realm_of(scenario),
        user=SERVICE_ACCOUNT,
        services=service_principals(scenario),
        domains=sorted(domains),
    )


def lab_kerberos(kdc: RunningKdc) -> LabKerberos:
    return LabKerberos(realm=kdc.realm, keytab=kdc.acceptor_keytab)
