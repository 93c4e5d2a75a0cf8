"""Pasted output of the commands a check asks an admin to run, read back into cmdlet-shaped objects.

Each command a check offers prints a marker line first (`## exchange-triage: Get-ExchangeCertificate
-Server EX03`), so its output says which cmdlet, with which parameters, on which side (`online`, `graph`) or
server (`host EX03 registry-values`) produced it: an empty answer is then an answer too. Without a
marker, the command echoed after a prompt (`[PS] C:\\>Get-FederationTrust | fl`) names it, and failing
that, the property names the objects carry. Errors PowerShell printed in a command's output are kept
as that command's answer. Prompts, warnings and notes around the output are skipped.

The result is plain JSON (a list of sections) that the conversation stores and `checks.pasted` answers
ports from. Pure, no I/O; the same 1 MiB limit as the error-text reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from knowledge.jsonvalue import JsonObject, JsonValue, json_list
from knowledge.reader.error_text import PasteTooLarge
from knowledge.reader.ps_format import Block, cells, parse_blocks, typed_value

__all__ = ["MARKER", "MAX_PASTE_BYTES", "Section", "read_command_output", "without_command_output"]

MARKER = "## exchange-triage:"
MAX_PASTE_BYTES = 1024 * 1024
MAX_SECTIONS = 300
MAX_ROWS = 2000  # over all sections

_MARKER_LINE = re.compile(r"\s{0,8}## exchange-triage:\s*(.{1,800}?)\s*")
# A parameter's value in a marker: bare, or single-quoted with '' for a quote (a filter has spaces).
_VALUE = r"'(?:[^']|''){0,400}'|[^\s'-]\S{0,300}"
_MARKER_BODY = re.compile(
    r"(?:(?P<online>online|graph)\s+|host\s+(?P<server>[A-Za-z0-9][A-Za-z0-9.-]{0,62})\s+)?"
    rf"(?P<name>[A-Za-z]+-[A-Za-z0-9]+|[a-z][a-z0-9-]{{1,40}})(?P<params>(?:\s+-[A-Za-z]+(?:\s+(?:{_VALUE}))?){{0,8}})"
)
# A marker still holding a variable was echoed with the command, not printed by it.
_UNEXPANDED = re.compile(r"\$[({_]|\$env:", re.IGNORECASE)
_PARAM = re.compile(rf"-([A-Za-z]+)(?:\s+({_VALUE}))?")
_PROMPT = re.compile(
    r"\s{0,4}(?:\[PS\]\s?)?PS(?:\s[^>\n]{0,240})?>\s?(.*)|\s{0,4}\[PS\]\s[A-Za-z]:\\[^>\n]{0,240}>\s?(.*)"
)
_COMMAND = re.compile(
    r"\s*(?P<name>[A-Za-z]+-[A-Za-z0-9]+)(?P<params>(?:\s+-[A-Za-z]+(?:\s+(?:'[^']{0,300}'|[^\s'\"$|;(){}-][^\s'\"$|;(){}]{0,300}))?){0,8})"
    r"\s*(?:\|\s*(?:Format-List|fl|Format-Table|ft|Select-Object|select)\b[^|;]*)?\s*"
)
_PROMPT_PARAM = re.compile(r"-([A-Za-z]+)(?:\s+('[^']*'|[^\s-]\S*))?")
_ERROR_DETAIL = re.compile(r"\s{0,8}\+\s(?:CategoryInfo|FullyQualifiedErrorId|PSComputerName)\s*:\s?(.*)")
_ERROR_CONCISE = re.compile(r"(?P<cmd>[A-Z][a-z]+-[A-Za-z0-9]+)\s?: (?P<msg>.{3,1000})")
_ERROR_NOISE = re.compile(r"\s{0,8}(?:At line:\d+|\+ [~ ]*~|\+ \S)")
# Console copies carry CRLF; chat clients turn spaces into no-break spaces and add invisible characters.
_PLAIN = str.maketrans(
    {"\r": None, "\u00a0": " ", "\u202f": " ", "\u200b": None, "\ufeff": None, "\t": "    "}
)
_NOT_FOUND = re.compile(r"couldn't be found|ManagementObjectNotFound|ObjectNotFound|does not exist", re.I)


@dataclass
class Section:
    """One command's pasted output: which command, its parameters, its objects, its error."""

    source: str  # exchange | exchange_online | graph (Microsoft Graph PowerShell) | host
    command: str  # the cmdlet, or the host template's id
    params: dict[str, JsonValue] = field(default_factory=dict)
    server: str = ""  # host sections: the server it ran on
    by: str = "marker"  # marker | prompt | properties
    lines: list[str] = field(default_factory=list)
    rows: list[dict[str, JsonValue]] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    error: str = ""
    not_found: bool = False

    def as_dict(self) -> JsonObject:
        return {
            "source": self.source,
            "command": self.command,
            "params": self.params,
            "server": self.server,
            "by": self.by,
            "rows": json_list(self.rows),
            "truncated": json_list(self.truncated),
            "error": self.error,
            "not_found": self.not_found,
        }


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _marker(line: str) -> Section | None:
    match = _MARKER_LINE.fullmatch(line)
    if match is None:
        return None
    body = None if _UNEXPANDED.search(match[1]) else _MARKER_BODY.fullmatch(match[1])
    if body is None:
        return None  # an unexpanded marker ($_.Name) echoed with the command, or damaged
    params: dict[str, Any] = {}
    for name, value in _PARAM.findall(body["params"]):
        params[name] = _unquoted(value) if value else True
    if body["server"]:
        return Section("host", body["name"], params, server=body["server"].upper())
    source = {"online": "exchange_online", "graph": "graph"}.get(body["online"] or "", "exchange")
    return Section(source, body["name"], params)


def _prompted(line: str) -> Section | None:
    """The section a prompt line's command opens (unnamed when it names no cmdlet we can trust);
    None for a line that is no prompt."""
    match = _PROMPT.fullmatch(line.rstrip())
    if match is None:
        return None
    command = (match[1] if match[1] is not None else match[2] or "").strip()
    found = _COMMAND.fullmatch(command) if MARKER not in command else None
    if found is None:
        return Section("", "", by="properties")  # our own commands print their marker next
    params: dict[str, Any] = {}
    for name, value in _PROMPT_PARAM.findall(found["params"]):
        params[name] = _unquoted(value) if value else True
    return Section("exchange", found["name"], params, by="prompt")


def _split(lines: list[str]) -> list[Section]:
    """The paste cut into sections at marker and prompt lines; text before any opens an unnamed one."""
    sections = [Section("", "", by="properties")]
    for line in lines:
        if len(sections) > MAX_SECTIONS:
            break
        opened = _marker(line) if MARKER in line else _prompted(line)
        if opened is not None:
            sections.append(opened)
        elif MARKER not in line:  # (a line holding the marker that opens nothing is an echoed command)
            sections[-1].lines.append(line)
    return sections


def _error_of(section: Section) -> None:
    """The error PowerShell printed in a section, if any; its lines are removed from the section."""
    kept: list[str] = []
    message: list[str] = []
    details: list[str] = []
    for line in section.lines:
        detail = _ERROR_DETAIL.fullmatch(line)
        concise = _ERROR_CONCISE.fullmatch(line.strip())
        if detail is not None:
            details.append(detail[1])
            if not message and kept:
                # The message is the text just above the details (PowerShell 5.1's NormalView).
                while kept and (not kept[-1].strip() or _ERROR_NOISE.match(kept[-1])):
                    kept.pop()
                if kept:
                    message.append(kept.pop().strip())
        elif concise is not None and concise["cmd"].split("-")[0] in ("Get", "Test", "Write"):
            message.append(concise["msg"].strip())
        elif _ERROR_NOISE.match(line) and (details or (kept and kept[-1].startswith(("Get-", "Test-")))):
            continue
        else:
            kept.append(line)
    if message or details:
        text = " ".join(message) or " ".join(details)
        section.error = re.sub(r"^[A-Z][a-z]+-[A-Za-z0-9]+ : ", "", text)[:500]
        section.not_found = bool(_NOT_FOUND.search(" ".join([*message, *details])))
    section.lines = kept


def _row(block: Block, truncated: set[str]) -> dict[str, Any]:
    """A block's values typed; dotted names (calculated properties like OrgCertificate.NotAfter) nest."""
    row: dict[str, Any] = {}
    for name, raw in block.values.items():
        value, cut = typed_value(raw)
        if cut or name in block.truncated:
            truncated.add(name)
        head, _, rest = name.partition(".")
        if rest and head:
            nested = row.setdefault(head, {})
            if isinstance(nested, dict):
                nested[rest] = value
                continue
        row[name] = value
    return row


# Property names that identify a cmdlet's objects when no marker or prompt names it, most specific first.
SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (name, frozenset(props.split()))
    for name, props in (
        ("Test-FederationTrustCertificate", "Site Server State Thumbprint"),
        ("Get-ExchangeCertificate", "Thumbprint Services"),
        ("Get-ExchangeCertificate", "Thumbprint HasPrivateKey NotAfter"),
        ("Get-ExchangeServer", "Name Fqdn AdminDisplayVersion"),
        ("Get-ExchangeServer", "Name Site ServerRole"),
        ("Get-FederationTrust", "OrgPrivCertificate"),
        ("Get-FederatedOrganizationIdentifier", "AccountNamespace Domains"),
        ("Get-FederationInformation", "TargetApplicationUri TargetAutodiscoverEpr TokenIssuerUris"),
        ("Get-OrganizationRelationship", "DomainNames FreeBusyAccessEnabled"),
        ("Get-IntraOrganizationConnector", "TargetAddressDomains DiscoveryEndpoint"),
        ("Get-AuthConfig", "CurrentCertificateThumbprint"),
        ("Get-AuthServer", "IssuerIdentifier"),
        ("Get-PartnerApplication", "ApplicationIdentifier UseAuthServer"),
        ("Get-PartnerApplication", "ApplicationIdentifier LinkedAccount"),
        ("Get-SettingOverride", "SectionName Parameters"),
        ("Get-SettingOverride", "Section Parameters"),
        ("Get-AvailabilityAddressSpace", "ForestName AccessMethod"),
        ("Get-SharingPolicy", "Domains Default"),
        ("Get-AcceptedDomain", "DomainName DomainType"),
        ("Get-RemoteMailbox", "PrimarySmtpAddress RemoteRoutingAddress"),
        ("Get-Mailbox", "PrimarySmtpAddress Database"),
        ("Test-FederationTrust", "Id Type Message"),
    )
)
_VDIR_NAMES = (
    ("Get-OwaVirtualDirectory", "owa ("),
    ("Get-EcpVirtualDirectory", "ecp ("),
    ("Get-WebServicesVirtualDirectory", "ews ("),
    ("Get-AutodiscoverVirtualDirectory", "autodiscover ("),
)


def _recognised(block: Block) -> str:
    names = set(block.values)
    for cmdlet, needed in SIGNATURES:
        if needed <= names:
            return cmdlet
    shown = block.values.get("Name", "").lower()
    if "InternalUrl" in names:
        return next((cmdlet for cmdlet, prefix in _VDIR_NAMES if shown.startswith(prefix)), "")
    return ""


def _sections_of(section: Section, width: int, budget: list[int]) -> list[Section]:
    """`section` with its objects read; an unnamed one becomes one section per recognised cmdlet."""
    blocks = parse_blocks(section.lines, width)
    if section.command:
        truncated: set[str] = set()
        section.rows = [_row(b, truncated) for b in blocks[: max(budget[0], 0)]]
        section.truncated = sorted(truncated)
        budget[0] -= len(section.rows)
        return [section]
    found: dict[str, Section] = {}
    for block in blocks:
        cmdlet = _recognised(block)
        if not cmdlet or budget[0] <= 0:
            continue
        named = found.setdefault(cmdlet, Section("exchange", cmdlet, by="properties"))
        cut: set[str] = set(named.truncated)
        named.rows.append(_row(block, cut))
        named.truncated = sorted(cut)
        budget[0] -= 1
    return list(found.values())


def _width(lines: list[str]) -> int:
    return max((cells(line.rstrip()) for line in lines), default=0)


def _lines(text: str) -> list[str]:
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_PASTE_BYTES:
        raise PasteTooLarge(size)
    return text.replace("\r\n", "\n").translate(_PLAIN).split("\n")


def without_command_output(text: str) -> str:
    """`text` less the output of the commands a marker or prompt names (their listings are check evidence,
    not error messages), except Test-* cmdlets' results, which the error-text reader reads."""
    kept: list[str] = []
    for section in _split(_lines(text)):
        if not section.command or section.command.lower().startswith("test-"):
            kept += section.lines
    return "\n".join(kept)


def read_command_output(text: str) -> list[JsonObject]:
    """Every command output found in `text`, as plain-JSON sections (see `Section.as_dict`).

    Raises PasteTooLarge over 1 MiB. Text that holds no command output gives [].
    """
    sections = _split(_lines(text))
    budget = [MAX_ROWS]
    out: list[JsonObject] = []
    for section in sections:
        _error_of(section)
        width = _width(section.lines)
        for read in _sections_of(section, width, budget):
            if read.command and (read.rows or read.error or read.by == "marker"):
                out.append(read.as_dict())
    return out
