"""Cross-reference checks over a validated scenario: names that must exist, names that must be unique.

Only structural consistency is checked here. Configuration that is merely *wrong* (a missing
certificate, an http:// URL) is what broken scenarios are made of and stays loadable.
"""

from __future__ import annotations

from collections.abc import Iterable

from lab.scenario.model import Scenario

__all__ = ["cross_reference_problems"]


def cross_reference_problems(scenario: Scenario) -> list[str]:
    """Every dangling or duplicated reference, as 'key.path: problem'."""
    return [
        *_unique_names(scenario),
        *_server_refs(scenario),
        *_mailbox_refs(scenario),
        *_pair_refs(scenario),
    ]


def _known(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def _duplicates(where: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for index, name in enumerate(names):
        if name.lower() in seen:
            problems.append(f"{where}[{index}]: duplicate {name!r}")
        seen.add(name.lower())
    return problems


def _unique_names(scenario: Scenario) -> list[str]:
    org = scenario.organization
    problems = [
        *_duplicates("organization.sites", [s.name for s in org.sites]),
        *_duplicates("organization.servers", [s.name for s in org.servers]),
        *_duplicates("organization.servers", [s.fqdn for s in org.servers]),
        *_duplicates("organization.databases", [d.name for d in org.databases]),
        *_duplicates("organization.accepted_domains", [d.domain_name for d in org.accepted_domains]),
        *_duplicates(
            "organization.organization_relationships", [r.name for r in org.organization_relationships]
        ),
        *_duplicates("mailboxes", [m.address for m in scenario.mailboxes]),
    ]
    for index, server in enumerate(org.servers):
        where = f"organization.servers[{index}].certificates"
        problems += _duplicates(where, [c.thumbprint for c in server.certificates])
    if sum(d.default for d in org.accepted_domains) > 1:
        problems.append("organization.accepted_domains: more than one default domain")
    return problems


def _server_refs(scenario: Scenario) -> list[str]:
    org = scenario.organization
    sites = [s.name for s in org.sites]
    servers = [s.name for s in org.servers]
    problems = []
    for index, server in enumerate(org.servers):
        if server.site not in sites:
            problems.append(
                f"organization.servers[{index}].site: unknown site {server.site!r} (known: {_known(sites)})"
            )
    for index, database in enumerate(org.databases):
        if database.server not in servers:
            problems.append(
                f"organization.databases[{index}].server: unknown server {database.server!r} (known: {_known(servers)})"
            )
    for index, override in enumerate(org.setting_overrides):
        problems += [
            f"organization.setting_overrides[{index}].server: unknown server {name!r} (known: {_known(servers)})"
            for name in override.server
            if name not in servers
        ]
    return problems


def _mailbox_refs(scenario: Scenario) -> list[str]:
    databases = [d.name for d in scenario.organization.databases]
    domains = {d.domain_name.lower() for d in scenario.organization.accepted_domains}
    problems = []
    for index, mailbox in enumerate(scenario.mailboxes):
        where = f"mailboxes[{index}]"
        if mailbox.location == "onprem" and mailbox.database is None:
            problems.append(f"{where}.database: an on-premises mailbox needs a database")
        elif mailbox.location == "onprem" and mailbox.database not in databases:
            problems.append(
                f"{where}.database: unknown database {mailbox.database!r} (known: {_known(databases)})"
            )
        elif mailbox.location == "online" and mailbox.database is not None:
            problems.append(f"{where}.database: an Exchange Online mailbox has no on-premises database")
        if mailbox.domain not in domains:
            problems.append(f"{where}.address: {mailbox.domain!r} is not an accepted domain")
    return problems


def _pair_refs(scenario: Scenario) -> list[str]:
    refs: list[tuple[str, str]] = []
    for key in ("failing_pair", "working_pair"):
        pair = getattr(scenario, key)
        if pair is not None:
            refs += [(f"{key}.requester", pair.requester), (f"{key}.target", pair.target)]
    for index, outcome in enumerate(scenario.availability):
        refs += [(f"availability[{index}].requester", outcome.requester)]
        refs += [(f"availability[{index}].target", outcome.target)]
    problems = [
        f"{where}: no mailbox {address!r}" for where, address in refs if scenario.mailbox(address) is None
    ]
    if scenario.expected_causes and scenario.failing_pair is None:
        problems.append("failing_pair: a scenario with expected_causes needs a failing pair")
    return problems
