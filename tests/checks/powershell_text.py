"""What the Exchange Management Shell prints for a remedy's commands, from the answers a backend gave.

Format-List and Format-Table are rendered the way PowerShell's ListWriter/TableWriter do (label padding,
word wrap at the console width with long words split, `{a, b}` lists, dates in the shell's culture),
so tests can paste realistic output back. `transcript` renders a check's remedy from recorded calls.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checks.errors import BackendError, NotFound
from checks.ports import KeyCredential
from checks.remedies import GraphCommand, HostCommand, PasteCommand, Remedy
from knowledge.reader.command_output import MARKER
from knowledge.reader.ps_format import cells

PROMPT = "[PS] C:\\Windows\\system32>"


def _date(value: datetime.datetime, culture: str) -> str:
    value = value.astimezone(datetime.UTC)
    if culture == "en-US":
        hour = value.hour % 12 or 12
        return (
            f"{value.month}/{value.day}/{value.year} {hour}:{value:%M:%S} {'AM' if value.hour < 12 else 'PM'}"
        )
    if culture == "de-DE":
        return value.strftime("%d.%m.%Y %H:%M:%S")
    return value.strftime("%d/%m/%Y %H:%M:%S")  # en-GB


def _as_date(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return None


def shown(value: Any, culture: str = "en-US") -> str:
    """A value as Format-List prints a deserialised property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(shown(v, culture) for v in value) + "}"
    if isinstance(value, Mapping):
        return str(value.get("ToString") or value.get("Name") or "")
    when = _as_date(value)
    if when is not None:
        return _date(when, culture)
    return str(value)


def prop(row: Mapping[str, Any], name: str) -> Any:
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def wrap(text: str, first: int, following: int) -> list[str]:
    """PowerShell's word wrap (Western cultures): words with their trailing space, a word longer than a
    line split where the line ends."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if cells(paragraph) <= first:
            lines.append(paragraph)
            continue
        room, current, words = first, "", paragraph.split(" ")
        for index, word in enumerate(words):
            piece = word + (" " if index < len(words) - 1 else "")
            if cells(piece) > following:
                for char in piece:
                    if room < 1:
                        lines.append(current)
                        current, room = "", following
                    current += char
                    room -= 1
            elif cells(piece) > room:
                lines.append(current)
                current, room = piece, following - cells(piece)
            else:
                current += piece
                room -= cells(piece)
        lines.append(current)
    return [line.rstrip(" ") for line in lines]


def format_list(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], *, width: int = 120, culture: str = "en-US"
) -> str:
    if not rows:
        return ""
    label = max(len(n) for n in names)
    out = ["", ""]
    for row in rows:
        for name in names:
            value = wrap(shown(prop(row, name), culture), width - label - 3, width - label - 3)
            out.append(f"{name.ljust(label)} : {value[0]}".rstrip())
            out += [(" " * (label + 3) + more).rstrip() for more in value[1:]]
        out.append("")
    return "\n".join([*out, ""])


def format_table(rows: Sequence[Mapping[str, Any]], names: Sequence[str], culture: str = "en-US") -> str:
    if not rows:
        return ""
    texts = [[shown(prop(r, n), culture) for n in names] for r in rows]
    widths = [max(len(n), *(cells(t[i]) for t in texts)) for i, n in enumerate(names)]

    def line(values: Sequence[str]) -> str:
        return " ".join(v + " " * (w - cells(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    body = [line(names), line(["-" * len(n) for n in names]), *(line(t) for t in texts)]
    return "\n".join(["", *body, "", ""])


def error_text(cmdlet: str, problem: BaseException) -> str:
    reason = (
        "ManagementObjectNotFoundException" if isinstance(problem, NotFound) else "InvalidOperationException"
    )
    message = problem.message if isinstance(problem, BackendError) else str(problem)
    message = message.split(": ", 1)[-1] if message.startswith(cmdlet) else message
    return "\n".join(
        [
            message,
            f"    + CategoryInfo          : NotSpecified: (:) [{cmdlet}], {reason}",
            f"    + FullyQualifiedErrorId : [Server=EX01,RequestId=7f3e,TimeStamp=3/2/2026 9:00:00 AM] "
            f"[FailureCategory=Cmdlet-{reason}] 5F6D3A21,{cmdlet}",
            "    + PSComputerName        : ex01.contoso.com",
            "",
        ]
    )


@dataclass
class Recorded:
    """Every answer the ports gave one triage: (source, cmdlet, params) -> rows or the error raised."""

    exchange: dict[tuple[str, str, frozenset[tuple[str, Any]]], Any] = field(default_factory=dict)
    host: dict[tuple[str, str], list[tuple[Mapping[str, Any], Any]]] = field(default_factory=dict)
    permissions: dict[tuple[str, str], Any] = field(default_factory=dict)
    directory: dict[str, list[KeyCredential]] = field(default_factory=dict)  # app id -> its certificates

    def answers(self, source: str, cmdlet: str) -> list[tuple[dict[str, Any], Any]]:
        return [
            (dict(params), answer)
            for (s, c, params), answer in self.exchange.items()
            if s == source and c == cmdlet
        ]


def _marked(value: str) -> str:
    return (
        value
        if value and " " not in value and not value.startswith("'")
        else "'" + value.replace("'", "''") + "'"
    )


def _section(command: PasteCommand, params: Mapping[str, Any], answer: Any, culture: str) -> str:
    side = "online " if command.online else ""
    named = "".join(f" -{k}" if v is True else f" -{k} {_marked(str(v))}" for k, v in params.items())
    head = f"{MARKER} {side}{command.cmdlet}{named}"
    if isinstance(answer, BaseException):
        return head + "\n" + error_text(command.cmdlet, answer)
    if command.table:
        return head + "\n" + format_table(answer, command.properties, culture)
    return head + "\n" + format_list(answer, command.properties, culture=culture)


def _answers(command: PasteCommand, extra: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    """Whether a call with `extra` parameters (beyond the command's own) is one the command makes."""
    wanted = {
        "server": {"Server"},
        "server-identity": {"Identity"},
        "routing-domain": {"DomainName"},
        "orgrel-scope": {"Identity"},
    }.get(command.per)
    if command.per in ("requester", "target"):
        address = str(facts.get(command.per, ""))
        expected = command.value.format(address=address, domain=address.rsplit("@", 1)[-1]).lower()
        return set(extra) == {command.param} and str(extra[command.param]).lower() == expected
    return set(extra) == (wanted or set())


def _exchange_output(
    command: PasteCommand, recorded: Recorded, facts: Mapping[str, Any], culture: str
) -> list[str]:
    source = "exchange_online" if command.online else "exchange"
    static = dict(command.params)
    out = []
    for params, answer in recorded.answers(source, command.cmdlet):
        extra = {k: v for k, v in params.items() if k not in static}
        if any(params.get(k) != v for k, v in static.items()):
            continue
        if not _answers(command, extra, facts):
            continue
        marker_params = {**extra, **static} if command.per == "routing-domain" else {**static, **extra}
        out.append(_section(command, marker_params, answer, culture))
    return out


def _registry_records(calls: list[tuple[Mapping[str, Any], Any]]) -> list[dict[str, Any]]:
    records = []
    for args, answer in calls:
        if not isinstance(answer, Mapping) or all(v is None for v in answer.values()):
            continue  # a key that does not exist prints nothing (-ErrorAction SilentlyContinue)
        path = str(args["path"]).replace(
            "HKLM:\\", "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\"
        )
        records.append({"PSPath": path, **answer})
    return records


def _host_records(template: str, calls: list[tuple[Mapping[str, Any], Any]]) -> list[dict[str, Any]]:
    if template == "registry-values":
        return _registry_records(calls)
    rows = [r for _, answer in calls[-1:] for r in (answer if isinstance(answer, list) else [answer])]
    if template == "iis-ssl":
        return [{"path": r["path"], "ssl_flags": r["ssl_flags"]} for r in rows]
    if template == "win-events":
        return [
            {"TimeCreated": r["time_created"], "ProviderName": r["provider"], "Id": r["id"],
             "LevelDisplayName": r["level"], "Message": r["message"]}
            for r in rows
        ]  # fmt: skip
    if template in ("clock", "outbound"):
        return rows
    if template == "services":
        answer = rows[0]
        return [{"kind": "service", "name": n, "state": "Stopped"} for n in answer["stopped_services"]] + [
            {"kind": "app pool", **p} for p in answer["app_pools"]
        ]
    if template == "iis-config":
        answer = rows[0]
        return [{"kind": "binding", **b} for b in answer["back_end"]] + [
            {"kind": "handler", **h} for h in answer["handlers"]
        ]
    raise AssertionError(f"no rendering for host template {template}")


def _directory_listing(recorded: Recorded, culture: str) -> str:
    names = ["AppId", "DisplayName", "KeyId", "EndDateTime", "Thumbprint"]
    rows = [
        {
            "AppId": app,
            "DisplayName": k.display_name,
            "KeyId": k.key_id,
            "EndDateTime": k.end,
            "Thumbprint": k.thumbprint,
        }
        for app, keys in recorded.directory.items()
        for k in keys
    ]
    return format_list(rows, names, culture=culture)


def _names(command: HostCommand) -> list[str]:
    return command.script.rsplit("Format-List ", 1)[1].split(",")


def transcript(
    remedy: Remedy,
    recorded: Recorded,
    facts: Mapping[str, Any],
    *,
    culture: str = "en-US",
    prompts: bool = True,
) -> str:
    """What running `remedy`'s commands prints, given what the backends answered; prompts echo each line."""
    out: list[str] = []
    for command in remedy.commands:
        line = command.line(facts)
        if line is None:
            continue
        if isinstance(command, PasteCommand):
            sections = _exchange_output(command, recorded, facts, culture)
        elif isinstance(command, GraphCommand):
            sections = [f"{MARKER} graph {command.name}\n" + _directory_listing(recorded, culture)]
        else:
            sections = []
            for (server, template), calls in recorded.host.items():
                if template == command.template:
                    records = _host_records(template, calls)
                    body = format_list(records, _names(command), culture=culture)
                    sections.append(f"{MARKER} host {server} {template}\n{body}")
        if prompts:
            out.append(PROMPT + line)
        out += sections
    return "\n".join(out) + "\n"
