"""The catalogues: every event, error code, request line and command output line the product recognises.

Events live in knowledge/data/events/*.yaml (one provider a file), everything else in
knowledge/data/catalogues/*.yaml. Each entry says what it means, which facts it sets, which causes it points
to (with a weight) and which checks would tell more, and names the public page it comes from. A recognised
entry is listed in the fact `recognised` (its id); the loader turns each entry's causes into indicators on
those causes, so the inference needs nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from knowledge.model import CatalogueEntry, EventEntry, EventFile, FactSpec, Indicator, SignatureFact

__all__ = [
    "Catalogue",
    "Recognised",
    "event_entry_id",
    "provider_key",
]

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def provider_key(name: str) -> str:
    """A provider's name folded for comparison: 'MSExchange OWA', 'MSExchangeOWA' and 'msexchange owa' agree."""
    return _NOT_WORD.sub("", name.casefold())


def event_entry_id(provider: str, event: int) -> str:
    """The catalogue id of a provider's event: 'MSExchange OWA', 42 -> 'event-msexchange-owa-42'."""
    return f"event-{_NOT_WORD.sub('-', provider.casefold()).strip('-')}-{event}"


@dataclass(frozen=True)
class Recognised:
    """One catalogue entry as a paste matched it, for the answer's "what I recognised"."""

    id: str
    kind: str
    title: str
    means: str
    checks: tuple[str, ...]
    causes: tuple[str, ...]
    generic: bool
    sources: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "means": self.means,
            "checks": list(self.checks),
            "causes": list(self.causes),
            "generic": self.generic,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class _Event:
    id: str
    provider: str
    entry: EventEntry


@dataclass(frozen=True)
class Catalogue:
    """Every recognisable entry, indexed the ways the reader looks them up."""

    events: dict[str, _Event] = field(default_factory=dict)
    entries: dict[str, CatalogueEntry] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    """Folded provider name or alias -> provider name."""
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Provider -> words that place a bare event number with it."""

    @classmethod
    def build(cls, files: Iterable[EventFile], entries: Iterable[CatalogueEntry]) -> Catalogue:
        events: dict[str, _Event] = {}
        providers: dict[str, str] = {}
        hints: dict[str, tuple[str, ...]] = {}
        for file in files:
            for name in (file.provider, *file.aliases):
                providers[provider_key(name)] = file.provider
            hints[file.provider] = tuple(h.casefold() for h in file.hints)
            for entry in file.events:
                ident = event_entry_id(file.provider, entry.event)
                events[ident] = _Event(ident, file.provider, entry)
        return cls(events=events, entries={e.id: e for e in entries}, providers=providers, hints=hints)

    # --- lookups -------------------------------------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        return [*self.events, *self.entries]

    def describe(self, ident: str) -> Recognised | None:
        if ident in self.events:
            event = self.events[ident]
            entry = event.entry
            name = f" ({entry.symbolic})" if entry.symbolic else ""
            return Recognised(
                id=ident,
                kind="event",
                title=f"{event.provider} event {entry.event}{name}: {entry.title}",
                means=entry.means.strip(),
                checks=tuple(entry.checks),
                causes=tuple(entry.causes),
                generic=entry.generic,
                sources=tuple(entry.sources),
            )
        other = self.entries.get(ident)
        if other is None:
            return None
        return Recognised(
            id=ident,
            kind=other.kind,
            title=other.title,
            means=other.means.strip(),
            checks=tuple(other.checks),
            causes=tuple(other.causes),
            generic=other.generic,
            sources=tuple(other.sources),
        )

    def weights(self) -> dict[str, list[tuple[str, float, str, bool]]]:
        """Cause id -> (entry id, weight, evidence sentence, generic) for every entry that points to it."""
        found: dict[str, list[tuple[str, float, str, bool]]] = {}
        for ident in self.ids:
            described = self.describe(ident)
            assert described is not None
            causes = self.events[ident].entry.causes if ident in self.events else self.entries[ident].causes
            for cause, weight in causes.items():
                sentence = f"{described.title}. {_first_sentence(described.means)}"
                found.setdefault(cause, []).append((ident, weight, sentence, described.generic))
        return found

    def indicators(self) -> dict[str, list[Indicator]]:
        """The indicators each cause gains from the catalogues: the paste holds the entry (fact `recognised`
        contains its id), and for an event also the event-logs check found it on a server (`events.found`
        holds "SERVER: Provider Id", perhaps followed by what the event names in brackets)."""
        found: dict[str, list[Indicator]] = {}
        for cause, rows in self.weights().items():
            bucket = found.setdefault(cause, [])
            for ident, weight, says, generic in rows:
                bucket.append(
                    Indicator(fact="recognised", contains=ident, weight=weight, says=says, generic=generic)
                )
                if ident in self.events:
                    event = self.events[ident]
                    logged = f"{says.split('. ', 1)[0]}, logged on the servers: {{value}}."
                    bucket.append(
                        Indicator(
                            fact="events.found",
                            matches=f": {re.escape(event.provider)} {event.entry.event}(?:$|[ (])",
                            weight=weight,
                            says=logged,
                            generic=generic,
                        )
                    )
        return found

    def event_ids(self) -> dict[int, list[str]]:
        """Event number -> the catalogue ids of the events with that number (several providers may share it)."""
        found: dict[int, list[str]] = {}
        for ident, event in self.events.items():
            found.setdefault(event.entry.event, []).append(ident)
        return found

    def symbolic(self) -> dict[str, str]:
        """Symbolic name -> the event's catalogue id."""
        return {e.entry.symbolic: ident for ident, e in self.events.items() if e.entry.symbolic}

    def sets_of(self, ident: str) -> list[SignatureFact]:
        if ident in self.events:
            return list(self.events[ident].entry.sets)
        return list(self.entries[ident].sets)

    def provider_of(self, source: str) -> str | None:
        return self.providers.get(provider_key(source))


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = re.search(r"(?<=[a-z0-9)'\"])\.(?:\s|$)", text)
    return text[: end.end()].strip() if end else text


@cache
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


def compiled(entry: CatalogueEntry) -> re.Pattern[str]:
    assert entry.pattern is not None
    return _compiled(entry.pattern, entry.ignore_case)


def fact_value(setting: SignatureFact, match: re.Match[str] | None, spec: FactSpec | None) -> Any:
    """The value a catalogue entry's `sets` item gives, as the declared type of its fact (None when it cannot)."""
    raw: Any = setting.value
    if raw is None and match is not None and setting.group is not None:
        try:
            raw = match.group(setting.group)
        except (IndexError, re.error):
            raw = None
    if raw is None:
        return None
    kind = spec.type if spec else "string"
    if kind in ("integer", "integers"):
        text = str(raw).strip()
        return int(text) if text.isdigit() else None
    if kind == "boolean":
        return raw if isinstance(raw, bool) else {"true": True, "false": False}.get(str(raw).casefold())
    return str(raw).strip() or None
