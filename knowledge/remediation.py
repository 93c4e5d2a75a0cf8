"""Filling a remediation's commands with the values the facts give, safely quoted for PowerShell.

Every value is checked by the validator of its parameter's type, then rendered by `powershell_literal` as one
PowerShell literal: bare only where it is plainly safe and stands as a command argument, otherwise a
single-quoted string with its quotes doubled. All placeholders of a line are substituted in one pass, so a
value that itself reads `{OtherParam}` stays as it is, inside its own quotes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from knowledge.conditions import FactsView
from knowledge.jsonvalue import JsonObject, JsonValue, json_list
from knowledge.model import Remediation, RemediationParam
from knowledge.validators import (
    ValueProblem,
    check_domain,
    check_server,
    check_smtp,
    check_thumbprint,
    check_url,
)

__all__ = [
    "FilledRemediation",
    "check_param_value",
    "fill_remediation",
    "formatted_param_value",
    "powershell_literal",
]

_BARE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/\\-]*$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9]+)\}")
# PowerShell treats the typographic single quotes as quote characters too.
_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def powershell_literal(value: str, *, argument: bool = True) -> str:
    """`value` as one PowerShell literal: bare when it is plainly safe and `argument` (it stands where a
    command argument goes, after a `-Parameter`), otherwise a single-quoted string. In expression mode (a
    hashtable, after `=` or `+`) a bare word would be a command, so it is always quoted there."""
    if argument and _BARE.match(value):
        return value
    quoted = "".join(c + c if c in _SINGLE_QUOTES else c for c in value)
    return f"'{quoted}'"


def _check_site(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}", value):
        raise ValueProblem(f"'{value[:64]}' is not an AD site name.")
    return value


def _check_text(value: str) -> str:
    if len(value) > 256 or any(not c.isprintable() for c in value):
        raise ValueProblem("the value is too long or has control characters")
    return value


_CHECKERS: dict[str, Callable[[str], str]] = {
    "server": check_server,
    "servers": check_server,
    "thumbprint": check_thumbprint,
    "url": check_url,
    "smtp": check_smtp,
    "domain": check_domain,
    "domains": check_domain,
    "site": _check_site,
    "text": _check_text,
    "identity": _check_text,
}


@dataclass(frozen=True)
class FilledRemediation:
    id: str
    summary: str
    changes: bool
    risk: str
    commands: list[str]
    verify: list[str]
    parameters: dict[str, list[str]]
    missing: list[str] = field(default_factory=list)
    notes: str = ""
    docs: list[str] = field(default_factory=list)

    def as_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "summary": self.summary,
            "changes": self.changes,
            "risk": self.risk,
            "commands": json_list(self.commands),
            "verify": json_list(self.verify),
            "parameters": {name: json_list(values) for name, values in self.parameters.items()},
            "missing": json_list(self.missing),
            "notes": self.notes,
            "docs": json_list(self.docs),
        }


def formatted_param_value(param: RemediationParam, value: str) -> str:
    """The value a parameter shows for `value` (checked by its type, then formatted); `ValueProblem` if the
    value is not one the type can have."""
    return param.format.replace("{value}", check_param_value(param.type, value))


def _checked(param: RemediationParam, item: JsonValue) -> str | None:
    """`item` checked against the parameter's type and formatted (unquoted), or None when it does not pass."""
    try:
        return formatted_param_value(param, str(item))
    except ValueProblem:
        return None


def _param_values(param: RemediationParam, facts: FactsView) -> list[str]:
    """The checked, formatted (unquoted) values for one parameter, or [] when the facts cannot fill it."""
    if param.field is not None:
        return [v for record in _records(param.fact, facts) if (v := _field(param, record)) is not None]
    raw = facts.get(param.fact)
    items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    values = [v for item in items if (v := _checked(param, item)) is not None]
    return values if param.type in ("servers", "domains") else values[:1]


def _records(fact: str, facts: FactsView) -> list[JsonObject]:
    raw = facts.get(fact)
    return [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def _field(param: RemediationParam, record: JsonObject) -> str | None:
    value = record.get(param.field or "")
    return None if value is None else _checked(param, value)


def _is_argument(line: str, start: int) -> bool:
    """Whether the placeholder at `start` stands alone where a command argument goes: after whitespace that
    follows a `-Parameter` (or `-eq`), and before whitespace, a pipe or the end of the line."""
    before = line[:start]
    words = before.split()
    return bool(before) and before[-1] == " " and bool(words) and words[-1].startswith("-")


def _expand(line: str, values: dict[str, list[str]]) -> list[str]:
    names = list(dict.fromkeys(_PLACEHOLDER.findall(line)))
    choices: list[list[str | None]] = []
    for name in names:
        known: list[str | None] = list(values.get(name) or [])
        choices.append(known or [None])
    out = []
    for combination in itertools.product(*choices):
        chosen = dict(zip(names, combination, strict=True))

        def literal(match: re.Match[str], chosen: dict[str, str | None] = chosen) -> str:
            value = chosen[match.group(1)]
            if value is None:
                return f"<{match.group(1)}>"
            return powershell_literal(value, argument=_is_argument(line, match.start()))

        # One pass: what a value holds (even "{OtherParam}") is never read as a placeholder again.
        out.append(_PLACEHOLDER.sub(literal, line))
    return out


def _per_record(
    line: str, remediation: Remediation, facts: FactsView, values: dict[str, list[str]]
) -> list[str]:
    """`line` once per record of the records fact its parameters name, each record's values together."""
    named = set(_PLACEHOLDER.findall(line))
    params = [p for p in remediation.params if p.field is not None and p.name in named]
    if not params:
        return _expand(line, values)
    fact = params[0].fact  # a line names fields of one records fact (the loader checks it)
    out: list[str] = []
    for record in _records(fact, facts):
        # A field that is missing or does not pass stays a named placeholder in that record's command.
        bound = {p.name: [v] if (v := _field(p, record)) is not None else [] for p in params}
        out.extend(_expand(line, {**values, **bound}))
    return list(dict.fromkeys(out)) or _expand(line, {**values, **{p.name: [] for p in params}})


def fill_remediation(remediation: Remediation, facts: FactsView) -> FilledRemediation:
    values = {p.name: _param_values(p, facts) for p in remediation.params}
    return FilledRemediation(
        id=remediation.id,
        summary=remediation.summary,
        changes=remediation.changes,
        risk=remediation.risk,
        commands=[
            out for line in remediation.commands for out in _per_record(line, remediation, facts, values)
        ],
        verify=[out for line in remediation.verify for out in _per_record(line, remediation, facts, values)],
        parameters={name: [powershell_literal(v) for v in vals] for name, vals in values.items() if vals},
        missing=[name for name, vals in values.items() if not vals],
        notes=remediation.notes,
        docs=list(remediation.docs),
    )


def check_param_value(param_type: str, value: str) -> str:
    """`value` validated as a remediation parameter of `param_type`; raises `ValueProblem`."""
    return _CHECKERS[param_type](value)
