"""Event-log facts: source, IDs, computer, and the servers an OWA/ECP proxy event names."""

from __future__ import annotations

import re
from typing import Any

from knowledge.reader.ps_format import iso_date
from knowledge.reader.scan import Paste, scan, search, starts_line
from knowledge.reader.values import add_all, is_placeholder, real_host, url_parts

__all__ = ["read_events"]

# "Event ID: 4002", "EventID : 42", "event ID 4002 entry", "Event ID\n\n42" (documentation tables).
_EVENT_ID = re.compile(r"\bEvent[ \t]?ID\b[ \t]{0,20}[:#=]?[ \t\n]{0,20}(\d{1,5})\b", re.IGNORECASE)
# In a sentence: "event 43 on the CAS", "events 4002 and 4003", "event #71". Numbers of two digits or more.
_EVENT_WORD = re.compile(r"\bevents?[ \t]{1,3}(?:#[ \t]?|no\.?[ \t]?)?(\d{2,5})\b(?![.:/-]\d)", re.IGNORECASE)
# Get-WinEvent's default table: "11/20/2026 9:14:02 AM          4002 Error            Process ..." under
# "   ProviderName: MSExchange Availability" (any date order, 12 or 24 hours).
_TABLE_ROW = re.compile(
    r"^[ \t]{0,8}\d{1,4}[./-]\d{1,2}[./-]\d{1,4}[ \t]{1,4}\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]?[AaPp]\.?[Mm]\.?)?"
    r"[ \t]{1,40}(\d{1,5})[ \t]{1,20}(?:Error|Warning|Information|Critical|Verbose)\b",
    re.MULTILINE,
)
# Get-WinEvent | Format-List prints "Id : 4002"; only a number counts (Test-* output has word ids).
_FL_ID = re.compile(r"[ \t]{0,8}Id[ \t]{0,20}:[ \t]{0,8}(\d{1,5})[ \t]*(?=\n|$)")
# Event reference headings: "MSExchange OWA 42", "MSExchange Control Panel 28".
_HEADING = re.compile(r"\b(MSExchange(?:[ ]?[A-Z][A-Za-z]{1,30}){1,3})[ ](\d{1,5})\b")
_SOURCE = re.compile(
    r"\b(?:Event[ \t]Source|Source|ProviderName|Provider[ \t]Name)[ \t]{0,20}:[ \t]{0,20}"
    r"([A-Za-z][\w .()/-]{0,60}?)[ \t]*(?=$|\n|,|;|\(|[ \t]{2})",
    re.MULTILINE,
)
_MSEXCHANGE_SOURCE = re.compile(r"\b(MSExchange[ ]?(?:[A-Z][A-Za-z]{1,30})(?:[ ][A-Z][A-Za-z]{1,30}){0,2})\b")
# When the event was logged: Event Viewer's "Date:" (or "Logged:" on the General tab), Get-WinEvent's
# "TimeCreated :", Get-EventLog's "TimeGenerated :", and the XML's SystemTime (rewritten to TimeCreated).
_TIME = re.compile(
    r"^[ \t]{0,8}(?:Date|Logged|TimeCreated|TimeGenerated)[ \t]{0,20}:[ \t]{0,20}"
    r"([0-9][^\n]{5,60}?)(?=[ \t]*(?:\n|$)|[ \t]{2})",
    re.MULTILINE,
)
# A time the paste gives in UTC ("Z") or with its offset; any other is local to the server, as written.
_ZONE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_COMPUTER = re.compile(
    r"\b(?:Computer|MachineName)[ \t]{0,20}:[ \t]{0,20}([^\s,;]{1,255})",
)
_ORIGIN = re.compile(
    r"Name of the server where (?:the )?exception originated:[ \t\n]{0,10}([A-Za-z0-9][\w.-]{0,254}?)\.*(?=\s|$|['\"<])",
    re.IGNORECASE,
)
# OWA 42/43/71, OWA 46 ("is proxying"), ECP 28 ("Web management traffic").
_SERVER = r'(?:"([^"\n]{0,255})"|([^\s"]{1,255}?)(?=[\s,;]|\.(?:\s|$)))'
_PROXY_SERVERS = re.compile(
    rf"Client Access server {_SERVER},?[ \t\n]{{1,5}}"
    r"(?:running Microsoft Exchange version \"?[^\"\n]{0,60}\"?,[ \t\n]{1,5})?"
    r"(?:tried to proxy|is proxying)[ \t\n]{1,5}[^\n]{0,80}?traffic[ \t\n]{1,5}"
    rf"(?:for user [^\n]{{0,120}}?[ \t\n]{{1,5}})?to Client Access server {_SERVER}",
)


def _event_ids(paste: Paste) -> list[int]:
    found: list[tuple[int, int]] = []
    # The table's rows are read only under its header (the pattern has no literal to anchor a scan on).
    table = ((_TABLE_ROW, 1),) if "LevelDisplayName" in paste.text else ()
    for pattern, group in ((_EVENT_ID, 1), (_HEADING, 2), (_EVENT_WORD, 1), *table):
        for match in scan(pattern, paste):
            found.append((match.start(), int(match.group(group))))
    # Get-WinEvent's Format-List output: "Id           : 4002" on a padded line.
    for start in paste.padded_lines():
        listed = _FL_ID.match(paste.text, start)
        if listed:
            found.append((listed.start(), int(listed.group(1))))
    found.sort()
    return [value for _, value in found if value > 0]


def _source(paste: Paste) -> str | None:
    for match in scan(_SOURCE, paste, 20):
        value = match.group(1).strip()
        # A "Source:" label in prose is not an event's; an entry's label starts its line.
        labelled = starts_line(paste.text, match.start()) or value.startswith("MSExchange")
        if labelled and not is_placeholder(value):
            return value
    heading = search(_HEADING, paste)
    if heading:
        return heading.group(1)
    other = search(_MSEXCHANGE_SOURCE, paste)
    return other.group(1) if other else None


def _event_time(paste: Paste) -> str | None:
    """The first event's time as ISO 8601: with Z or the offset when the paste gives one, else as written."""
    for match in scan(_TIME, paste, 20):
        raw = match.group(1).strip()
        iso = iso_date(raw)
        if iso is None:
            continue  # an HTTP or mail "Date:" header, not an event's
        zone = _ZONE.search(raw)
        if zone is None:
            return iso.removesuffix("+00:00")
        return iso.removesuffix("+00:00") + "Z" if zone.group(0) == "Z" else iso
    return None


def _set_server(facts: dict[str, Any], fact: str, value: str) -> None:
    value = value.strip().strip("\"'")
    if not value or is_placeholder(value):
        return
    parts = url_parts(value)
    if parts is None:
        if real_host(value):
            facts.setdefault(fact, value)
        return
    scheme, host, _port = parts
    facts.setdefault(fact, host)
    if fact == "proxy.target_server":
        facts.setdefault("target.url", value)
        facts.setdefault("target.fqdn", host)
        facts.setdefault("target.url_scheme", scheme)


def read_events(paste: Paste, facts: dict[str, Any]) -> None:
    """Add event facts found in the paste."""
    ids = _event_ids(paste)
    if ids:
        facts["event.id"] = ids[0]
        add_all(facts, "event.ids", ids)
    source = _source(paste)
    if source:
        facts["event.source"] = source
    when = _event_time(paste)
    if when:
        facts["event.time"] = when
    computer = search(_COMPUTER, paste)
    if computer and real_host(computer.group(1)):
        facts["event.computer"] = computer.group(1)
    origin = search(_ORIGIN, paste)
    if origin and real_host(origin.group(1)):
        facts["origin.server"] = origin.group(1)
    servers = search(_PROXY_SERVERS, paste)
    if servers:
        _set_server(facts, "proxy.source_server", servers.group(1) or servers.group(2) or "")
        _set_server(facts, "proxy.target_server", servers.group(3) or servers.group(4) or "")
