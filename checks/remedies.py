"""The commands an admin can run and paste back when a check cannot look itself.

Every command prints a marker line first (`## exchange-triage: Get-FederationTrust`), so what it prints
says which cmdlet and parameters produced it (`knowledge.reader.command_output`), and the check can be run
again on the pasted output (`checks.pasted`). A remedy lists its commands under a heading per place
they run (the Exchange Management Shell, Exchange Online PowerShell, each Exchange server); values from
the facts are validated and quoted with `powershell_literal` before they are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.safety import recipient_filter
from knowledge.reader.command_output import MARKER
from knowledge.remediation import powershell_literal
from knowledge.validators import ValueProblem, check_smtp

__all__ = [
    "GraphCommand",
    "HostCommand",
    "PasteCommand",
    "Remedy",
    "commands",
    "pasted_remedy",
    "quoted_address",
    "with_address",
]

SHELL = "# In the Exchange Management Shell (paste back everything it prints):"
ONLINE = "# In Exchange Online PowerShell (Connect-ExchangeOnline; paste back everything it prints):"
GRAPH = "# In Microsoft Graph PowerShell (Connect-MgGraph -Scopes Application.Read.All; paste back everything it prints):"
HOSTS = "# On each Exchange server involved, in an elevated Windows PowerShell (paste back what it prints):"
UNLIMITED = "$FormatEnumerationLimit = -1"


def _ps_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _property(name: str) -> str:
    """A Format-List property; a dotted name is a calculated property reading a nested value."""
    if "." not in name:
        return name
    return f"@{{n='{name}';e={{$_.{name}}}}}"


# per -> (the objects to repeat a command for, its parameter, the value from each object).
LOOPS = {
    "server": ("Get-ExchangeServer", "Server", "$_.Name"),
    "routing-domain": (
        "Get-AcceptedDomain | Where-Object { $_.DomainName -like '*.mail.onmicrosoft.com' }",
        "DomainName",
        "$_.DomainName",
    ),
    "server-identity": ("Get-ExchangeServer", "Identity", "$_.Name"),
    "orgrel-scope": (
        "Get-OrganizationRelationship | Where-Object { $_.FreeBusyAccessScope }",
        "Identity",
        "$_.FreeBusyAccessScope",
    ),
}


@dataclass(frozen=True)
class PasteCommand:
    """One Exchange cmdlet to run and paste back.

    `per` repeats it: "server" for every Exchange server (`-Server`), "routing-domain" for the tenant's
    routing domain among the accepted domains (`-DomainName`), "orgrel-scope" for each organisation
    relationship's FreeBusyAccessScope group (`-Identity`), "requester"/"target" for that address
    (`param`, default -Identity, given `value` with the address in it, e.g. "{address}:\\Calendar"; left out
    while the address is unknown).
    """

    cmdlet: str
    properties: tuple[str, ...]
    params: tuple[tuple[str, str | bool], ...] = ()
    online: bool = False
    table: bool = False
    per: str = ""
    value: str = "{address}"
    param: str = "Identity"

    def _format(self) -> str:
        shown = ",".join(_property(p) for p in self.properties)
        return f"Format-Table {shown} -AutoSize -Wrap" if self.table else f"Format-List {shown}"

    def _params(self, extra: Sequence[tuple[str, str | bool]] = ()) -> tuple[str, str]:
        """(as the marker names them, as PowerShell takes them)."""
        marked, typed = [], []
        for name, value in [*self.params, *extra]:
            if value is True:
                marked.append(f" -{name}")
                typed.append(f" -{name}")
            else:
                shown = str(value)
                bare = shown and " " not in shown and not shown.startswith(("'", "-"))
                marked.append(f" -{name} {shown if bare else _ps_quoted(shown)}")
                typed.append(f" -{name} {powershell_literal(shown)}")
        return "".join(marked), "".join(typed)

    def line(self, facts: Mapping[str, Any]) -> str | None:
        side = "online " if self.online else ""
        loop = LOOPS.get(self.per)
        if loop is not None:
            objects, param, each = loop
            marked, typed = self._params()
            marker = f"{MARKER} {side}{self.cmdlet} -{param} '$({each})'{marked}"
            return (
                f'{objects} | ForEach-Object {{ "{marker}"; '
                f'{self.cmdlet} -{param} "$({each})"{typed} | {self._format()} }}'
            )
        extra: list[tuple[str, str | bool]] = []
        if self.per in ("requester", "target"):
            address = _address(facts, self.per)
            value = self.value.format(address=address, domain=address.rsplit("@", 1)[1]) if address else None
            if value is None or (self.param == "Filter" and recipient_filter(address or "") is None):
                return None
            extra.append((self.param, value))
        marked, typed = self._params(extra)
        marker = _ps_quoted(f"{MARKER} {side}{self.cmdlet}{marked}")
        return f"{marker}; {self.cmdlet}{typed} | {self._format()}"


@dataclass(frozen=True)
class GraphCommand:
    """A read-only Microsoft Graph PowerShell command, named in its marker by `name`."""

    name: str
    script: str

    def line(self, _facts: Mapping[str, Any]) -> str:
        return f"{_ps_quoted(f'{MARKER} graph {self.name}')}; {self.script}"


@dataclass(frozen=True)
class HostCommand:
    """A read-only script to run on each Exchange server, printing what one host template reads."""

    template: str
    script: str

    def line(self, _facts: Mapping[str, Any]) -> str:
        return f'"{MARKER} host $env:COMPUTERNAME {self.template}"; {self.script}'


def _address(facts: Mapping[str, Any], name: str) -> str | None:
    value = facts.get(name)
    try:
        return check_smtp(value) if isinstance(value, str) else None
    except ValueProblem:
        return None


class Remedy:
    """A check's remedy: pasteable commands grouped by where they run, then notes. Called with the facts,
    it gives the text to show."""

    def __init__(
        self,
        shell: Sequence[PasteCommand] = (),
        online: Sequence[PasteCommand] = (),
        hosts: Sequence[HostCommand] = (),
        notes: Sequence[str] = (),
        graph: Sequence[GraphCommand] = (),
    ) -> None:
        self.shell, self.online, self.graph = tuple(shell), tuple(online), tuple(graph)
        self.hosts, self.notes = tuple(hosts), tuple(notes)

    @property
    def commands(self) -> tuple[PasteCommand | GraphCommand | HostCommand, ...]:
        return (*self.shell, *self.online, *self.graph, *self.hosts)

    def __call__(self, facts: Mapping[str, Any]) -> str:
        lines: list[str] = []
        for heading, group, prelude in (
            (SHELL, self.shell, [UNLIMITED]),
            (ONLINE, self.online, [UNLIMITED]),
            (GRAPH, self.graph, []),
            (HOSTS, self.hosts, []),
        ):
            shown = [line for command in group if (line := command.line(facts)) is not None]
            if shown:
                lines += [heading, *prelude, *dict.fromkeys(shown)]
        return "\n".join([*lines, *self.notes])


def pasted_remedy(
    *parts: Sequence[PasteCommand | GraphCommand | HostCommand], notes: Sequence[str] = ()
) -> Remedy:
    """A remedy from groups of commands (shared ones, like the organisation's servers, listed once)."""
    flat = [c for part in parts for c in part]
    return Remedy(
        shell=[c for c in flat if isinstance(c, PasteCommand) and not c.online],
        online=[c for c in flat if isinstance(c, PasteCommand) and c.online],
        graph=[c for c in flat if isinstance(c, GraphCommand)],
        hosts=[c for c in flat if isinstance(c, HostCommand)],
        notes=notes,
    )


def commands(*lines: str) -> Callable[[Mapping[str, Any]], str]:
    """A remedy that does not depend on the facts."""
    text = "\n".join(lines)
    return lambda _facts: text


def quoted_address(facts: Mapping[str, Any], name: str, placeholder: str) -> str:
    value = facts.get(name)
    try:
        return powershell_literal(check_smtp(value)) if isinstance(value, str) else placeholder
    except ValueProblem:
        return placeholder


def with_address(*lines: str) -> Callable[[Mapping[str, Any]], str]:
    """A remedy whose lines name {requester} and {target}, filled with the validated, quoted addresses."""

    def remedy(facts: Mapping[str, Any]) -> str:
        values = {
            "requester": quoted_address(facts, "requester", "<requester address>"),
            "target": quoted_address(facts, "target", "<target address>"),
        }
        return "\n".join(line.format(**values) for line in lines)

    return remedy
