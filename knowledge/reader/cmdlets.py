"""Rows of pasted test-cmdlet output, as Format-List blocks or Format-Table tables.

Test-FederationTrust (Id, Type, Message), Test-OrganizationRelationship (Id, Status, Description),
Test-OAuthConnectivity (Task, Detail, ResultType) and Test-FederationTrustCertificate (Site, Server,
State, Thumbprint). Rows are recognised by their property names, whichever cmdlet printed them.
"""

from __future__ import annotations

import re
from typing import Any

from knowledge.reader.scan import Paste, scan, starts_line
from knowledge.reader.values import MAX_ITEMS, add_all

__all__ = ["read_cmdlet_output"]

_KEYS = "Id|Type|Message|Status|Description|Task|Detail|Error|ResultType|Service|Site|Server|State|Thumbprint"
# "Message     : text" and the indented lines Format-List wraps a long value onto.
_FL_LINE = re.compile(
    rf"[ \t]{{0,8}}({_KEYS})[ \t]{{0,40}}:(?:[ \t]{{1,8}}([^\n]{{0,2000}}))?"
    r"((?:\n[ \t]{10,}[^ \t\n][^\n]{0,2000}){0,20})(?=\n|$)"
)
# Hand-typed Format-List lines ("Type: Error") lack the padding before the colon PowerShell prints.
_FL_TYPED = re.compile(r":[ ](?:Success|Warning|Error)\b")
# The dashes under a table's column names (the line's indent is checked apart).
_UNDERLINE = re.compile(r"-{2,}(?:[ \t]{1,200}-{2,}){1,15}[ \t]*(?=\n|$)")
_DASH_RUN = re.compile(r"-{2,}")
_SPACES = re.compile(r"[ \t\n]{1,400}")
_MAX_ROWS = 200

_FEDTRUST_TYPES = frozenset({"success", "warning", "error"})


def _fl_line_starts(paste: Paste) -> list[int]:
    """Where the lines that may be Format-List properties start.

    PowerShell pads every name before the colon ("Id      : x"), so " :" finds its lines cheaply;
    hand-typed lines ("Type: Error") are found by their result word.
    """
    text = paste.text
    typed = [text.rfind("\n", 0, m.start()) + 1 for m in scan(_FL_TYPED, paste, _MAX_ROWS)]
    return sorted({*paste.padded_lines(), *typed})


def _fl_blocks(paste: Paste) -> list[dict[str, str]]:
    text = paste.text
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    previous_end = 0
    for start in _fl_line_starts(paste):
        match = _FL_LINE.match(text, start)
        if match is None or start < previous_end:
            continue
        key = match.group(1)
        gap = text[previous_end : match.start()]
        if current and (key in current or "\n\n" in gap.replace(" ", "").replace("\t", "")):
            blocks.append(current)
            current = {}
        current[key] = _SPACES.sub(" ", (match.group(2) or "") + match.group(3)).strip()
        previous_end = match.end()
    if current:
        blocks.append(current)
    return blocks


def _table_rows(paste: Paste) -> list[dict[str, str]]:
    text = paste.text
    rows: list[dict[str, str]] = []
    for underline in scan(_UNDERLINE, paste, 20):
        if not starts_line(text, underline.start()):
            continue
        line_start = text.rfind("\n", 0, underline.start()) + 1
        line_end = underline.end()
        header_end = max(line_start - 1, 0)
        header = text[text.rfind("\n", 0, header_end) + 1 : header_end]
        starts = [run.start() - line_start for run in _DASH_RUN.finditer(text, line_start, line_end)]
        names = [header[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        if not all(names):
            continue
        lines = text[line_end + 1 :].split("\n", _MAX_ROWS)[:_MAX_ROWS]
        for line in lines:
            if not line.strip():
                break
            cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
            rows.append(dict(zip(names, cells, strict=True)))
    return rows


def _record(row: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """(fact, record) for a row whose property names identify the cmdlet, else None."""
    if "ResultType" in row:
        service = row.get("Task") or row.get("Service") or ""
        detail = row.get("Detail") or row.get("Error") or ""
        return "test.oauth", {"service": service, "result": row["ResultType"], "detail": detail}
    if {"Id", "Type", "Message"} <= row.keys() and row["Type"].casefold() in _FEDTRUST_TYPES:
        return "test.federation_trust", {"id": row["Id"], "type": row["Type"], "message": row["Message"]}
    if {"Id", "Status"} <= row.keys() and not row["Id"].isdigit():
        return "test.orgrel", {
            "id": row["Id"],
            "status": row["Status"],
            "description": row.get("Description", ""),
        }
    if {"Server", "State"} <= row.keys() and ("Site" in row or "Thumbprint" in row):
        return "test.fedcert", {
            "site": row.get("Site", ""),
            "server": row["Server"],
            "state": row["State"],
            "thumbprint": row.get("Thumbprint", ""),
        }
    return None


def _derive(facts: dict[str, Any]) -> None:
    fedtrust = facts.get("test.federation_trust", [])
    add_all(
        facts, "test.federation_trust.errors", (r["id"] for r in fedtrust if r["type"].casefold() == "error")
    )
    orgrel = facts.get("test.orgrel", [])
    add_all(facts, "test.orgrel.errors", (r["id"] for r in orgrel if r["status"].casefold() != "success"))
    oauth = facts.get("test.oauth", [])
    if oauth:
        results = [r["result"] for r in oauth if r["result"]]
        failed = [r for r in results if r.casefold() == "error"]
        if failed or results:
            facts["test.oauth.result"] = failed[0] if failed else results[0]
    fedcert = facts.get("test.fedcert", [])
    add_all(
        facts,
        "test.fedcert.problem_servers",
        (r["server"] for r in fedcert if r["server"] and r["state"].casefold() != "installed"),
    )


def read_cmdlet_output(paste: Paste, facts: dict[str, Any]) -> None:
    """Add test.* rows (and the lists derived from them) found in the paste."""
    rows = [*_fl_blocks(paste), *_table_rows(paste)]
    found: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        record = _record(row)
        if record is None:
            continue
        fact, value = record
        bucket = found.setdefault(fact, [])
        if value not in bucket and len(bucket) < MAX_ITEMS:
            bucket.append(value)
    facts.update(found)
    _derive(facts)
