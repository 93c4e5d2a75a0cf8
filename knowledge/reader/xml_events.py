"""Event-log entries pasted as XML (Event Viewer's Details > XML View, Get-WinEvent's ToXml()).

The XML holds the event's insertion strings (<Data>), not its description. For the events the
triage knows, the description is rebuilt from the event's message template, so the same extractors
read an XML entry and a rendered one alike.
"""

from __future__ import annotations

import html
import re

__all__ = ["MARKERS", "rewrite_xml_event"]

MARKERS = ("<Event", "<Provider", "<EventID", "<Data", "<TimeCreated")

_PROVIDER = re.compile(r"""<Provider\b[^>]{0,300}?\bName=['"]([^'"<>]{1,100})['"][^>]{0,300}>""")
_EVENT_ID = re.compile(r"<EventID\b[^>]{0,100}>[ \t\n]{0,10}(\d{1,6})[ \t\n]{0,10}</EventID>")
_TIME_CREATED = re.compile(r"""<TimeCreated\b[^>]{0,200}?\bSystemTime=['"]([^'"<>]{1,60})['"][^>]{0,200}>""")
_COMPUTER = re.compile(r"<Computer>[ \t\n]{0,10}([^<\n]{1,255}?)[ \t\n]{0,10}</Computer>")
_DATA = re.compile(r"<Data\b[^>]{0,200}?(?:/>|>([^<]{0,100000})</Data>)")
_EVENT_DATA = re.compile(r"<EventData\b[^>]{0,200}>.{0,200000}?</EventData>", re.DOTALL)
_INSERT = re.compile(r"%(\d)")

# Message templates (%1, %2, ...) of the events whose insertion strings the reader needs, by
# (source, event id), as Exchange writes them (first sentences only).
TEMPLATES: dict[tuple[str, int], str] = {
    (
        "msexchange availability",
        4002,
    ): "Process %1: %2 failed. Caller SIDs: %3. The exception returned is %4.",
    ("msexchange owa", 42): (
        'Client Access server "%1" tried to proxy Outlook Web App traffic to Client Access server "%2". '
        "This failed because one of these configuration problems was encountered."
    ),
    ("msexchange owa", 71): (
        "Microsoft Exchange Client Access server %1 tried to proxy Outlook traffic to Client Access "
        "server %2. This failed because the authentication for the connection between the two Client "
        "Access servers failed."
    ),
    ("msexchange owa", 46): (
        'Client Access server "%1", running Microsoft Exchange version "%2", is proxying Outlook Web '
        'Access traffic to Client Access server "%3", which runs Exchange version "%4".'
    ),
    ("msexchange control panel", 28): (
        "Current User: '%1'\nClient Access server \"%2\" tried to proxy Web management traffic to Client "
        'Access server "%3". This failed because one of the following configuration problems was encountered.'
    ),
}


def _description(source: str, event_id: int, data: list[str]) -> str:
    template = TEMPLATES.get((source.casefold(), event_id))
    if template is None:
        return "\n".join(data)

    def insert(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return data[index] if 0 <= index < len(data) else ""

    return _INSERT.sub(insert, template)


def _render(entry: re.Match[str], source: str, event_id: int) -> str:
    data = [html.unescape(m.group(1) or "").strip() for m in _DATA.finditer(entry.group(0))]
    return "\nDescription:\n" + _description(source, event_id, data) + "\n"


def rewrite_xml_event(text: str) -> str:
    """`text` with an XML event entry turned into the labelled lines and description of a rendered one."""
    provider = _PROVIDER.search(text)
    event_id = _EVENT_ID.search(text)
    source = provider.group(1) if provider else ""
    number = int(event_id.group(1)) if event_id else 0
    text = _EVENT_DATA.sub(lambda m: _render(m, source, number), text, count=1)
    text = _PROVIDER.sub(lambda m: f"\nSource: {m.group(1)}\n", text)
    text = _EVENT_ID.sub(lambda m: f"\nEvent ID: {m.group(1)}\n", text)
    text = _TIME_CREATED.sub(lambda m: f"\nTimeCreated: {m.group(1)}\n", text)
    return _COMPUTER.sub(lambda m: f"\nComputer: {m.group(1)}\n", text)
