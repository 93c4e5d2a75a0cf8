"""Which catalogue entries a paste holds: events by source and number or by symbolic name, error codes,
request lines, lines of command output. Adds their ids to the fact `recognised` and the facts they set."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from knowledge.catalogue import Catalogue, compiled, fact_value
from knowledge.conditions import holds
from knowledge.model import CatalogueEntry, FactSpec, RequestMatch
from knowledge.reader.scan import Paste, search
from knowledge.reader.values import add_all

__all__ = ["recognise"]

_WORD_EDGE = r"(?<![A-Za-z0-9_])"


def _symbolic(paste: Paste, catalogue: Catalogue) -> list[tuple[int, str]]:
    found = []
    for name, ident in catalogue.symbolic().items():
        # A symbolic name is one word: the paste's word index rules it out without a search.
        if not paste.has_word(name):
            continue
        at = re.search(_WORD_EDGE + re.escape(name) + r"(?![A-Za-z0-9_])", paste.text)
        if at is not None:
            found.append((at.start(), ident))
    return found


def _by_number(paste: Paste, facts: Mapping[str, Any], catalogue: Catalogue) -> list[str]:
    ids = [i for i in facts.get("event.ids") or [] if isinstance(i, int)]
    source = facts.get("event.source")
    provider = catalogue.provider_of(source) if isinstance(source, str) else None
    by_number = catalogue.event_ids()
    low = paste.low if paste.low is not None else paste.text.lower()
    found: list[str] = []
    for number in ids:
        candidates = by_number.get(number, [])
        if not candidates:
            continue
        if isinstance(source, str):
            # The paste names the event's source: only that provider's event with this number.
            found.extend(c for c in candidates if catalogue.events[c].provider == provider)
            continue
        if len(candidates) == 1:
            found.extend(candidates)
            continue
        # A number several providers use, with no source: the provider whose words the paste uses.
        hinted = [
            c
            for c in candidates
            if any(h in low for h in catalogue.hints.get(catalogue.events[c].provider, ()))
        ]
        if len(hinted) == 1:
            found.extend(hinted)
    return found


def _request_holds(want: RequestMatch, row: Mapping[str, Any]) -> bool:
    if row.get("status") != str(want.status):
        return False
    if want.substatus is not None and row.get("substatus") != str(want.substatus):
        return False
    if want.win32 is not None and row.get("win32") != str(want.win32):
        return False
    for pattern, value in ((want.path, row.get("path")), (want.agent, row.get("agent"))):
        if pattern and not (isinstance(value, str) and re.search(pattern, value, re.IGNORECASE)):
            return False
    return True


def _entry_match(
    entry: CatalogueEntry, paste: Paste, facts: Mapping[str, Any]
) -> tuple[bool, re.Match[str] | None]:
    if entry.when and not all(holds(condition, dict(facts)) for condition in entry.when):
        return False, None
    if entry.requires and not any(paste.has_word(word) for word in entry.requires):
        return False, None
    if entry.code is not None:
        codes = {str(c).casefold() for c in facts.get("error.codes") or []}
        return entry.code.casefold() in codes, None
    if entry.request is not None:
        rows = facts.get("http.requests") or []
        return any(isinstance(r, dict) and _request_holds(entry.request, r) for r in rows), None
    match = search(compiled(entry), paste)
    return match is not None, match


def recognise(
    paste: Paste, facts: dict[str, Any], catalogue: Catalogue, specs: Mapping[str, FactSpec]
) -> None:
    """Add the ids of the catalogue entries the paste holds to `recognised`, and the facts they set."""
    found: list[str] = [ident for _, ident in sorted(_symbolic(paste, catalogue))]
    found += _by_number(paste, facts, catalogue)
    matches: dict[str, re.Match[str] | None] = {}
    for entry in catalogue.entries.values():
        held, match = _entry_match(entry, paste, facts)
        if held:
            found.append(entry.id)
            matches[entry.id] = match
    if not found:
        return
    add_all(facts, "recognised", found)
    for ident in facts["recognised"]:
        for setting in catalogue.sets_of(ident):
            spec = specs.get(setting.fact)
            value = fact_value(setting, matches.get(ident), spec)
            if value is None:
                continue
            if spec is not None and spec.type in ("strings", "integers"):
                add_all(facts, setting.fact, [value])
            else:
                facts.setdefault(setting.fact, value)
