"""The error-text reader: what an admin pastes in, facts out.

It accepts plain text, rendered and XML event-log entries, OWA/Outlook/Fiddler JSON error bodies and
pasted test-cmdlet output. Text it does not recognise yields no facts. Every fact it returns is
declared in facts.yaml with the type it has here; only facts actually found are present.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from knowledge.catalogue import Catalogue
from knowledge.jsonvalue import JsonValue
from knowledge.loader import load_knowledge
from knowledge.model import FactSpec, Signature
from knowledge.reader.cmdlets import read_cmdlet_output
from knowledge.reader.errors import read_errors
from knowledge.reader.events import read_events
from knowledge.reader.logs import read_logs
from knowledge.reader.recognise import recognise
from knowledge.reader.request import read_request
from knowledge.reader.scan import Paste, search
from knowledge.reader.text import normalise
from knowledge.reader.values import add_all

__all__ = ["MAX_PASTE_BYTES", "PasteTooLarge", "read_error_text"]

MAX_PASTE_BYTES = 1024 * 1024


class PasteTooLarge(ValueError):
    """The paste is over MAX_PASTE_BYTES; the message says so in words a user can act on."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"That paste is {-(-size // 1024):,} KiB; I read at most {MAX_PASTE_BYTES // 1024:,} KiB (1 MiB). "
            "Paste just the error message or one event entry."
        )


@cache
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


def _coerce(value: Any, spec: FactSpec | None) -> Any:
    """A signature's value as the declared type of its fact, or None when it cannot be one."""
    kind = spec.type if spec else "string"
    text = str(value).strip()
    if kind in ("integer", "integers"):
        return int(text) if text.isdigit() else None
    if kind == "boolean":
        return value if isinstance(value, bool) else {"true": True, "false": False}.get(text.casefold())
    return text or None


def _apply_signatures(
    paste: Paste, signatures: Iterable[Signature], specs: Mapping[str, FactSpec], facts: dict[str, Any]
) -> None:
    matched: list[tuple[int, str]] = []
    for signature in signatures:
        match = search(_compiled(signature.pattern, signature.ignore_case), paste)
        if match is None:
            continue
        matched.append((match.start(), signature.id))
        for setting in signature.sets:
            raw = setting.value if setting.value is not None else _group(match, setting.group)
            spec = specs.get(setting.fact)
            value = _coerce(raw, spec) if raw is not None else None
            if value is None:
                continue
            if spec is not None and spec.type in ("strings", "integers"):
                add_all(facts, setting.fact, [value])
            else:
                # What the text says structurally is more specific than a phrase: it wins.
                facts.setdefault(setting.fact, value)
    # Ordered by first occurrence in the text, ties by id: deterministic.
    add_all(facts, "signatures", (sid for _, sid in sorted(matched)))


def _group(match: re.Match[str], group: str | int | None) -> str | None:
    try:
        return match.group(group) if group is not None else None
    except (IndexError, re.error):
        return None


def read_error_text(
    text: str,
    signatures: Iterable[Signature] | None = None,
    facts: Mapping[str, FactSpec] | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, JsonValue]:
    """Facts read from `text`. `signatures`, `facts` and `catalogue` default to the bundled knowledge base's.

    Raises PasteTooLarge when the text is over MAX_PASTE_BYTES in UTF-8.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_PASTE_BYTES:
        raise PasteTooLarge(size)
    if signatures is None or facts is None:
        kb = load_knowledge()
        signatures = kb.signatures if signatures is None else signatures
        facts = kb.facts if facts is None else facts
    paste = Paste(normalise(text))
    found: dict[str, Any] = {}
    read_events(paste, found)
    read_request(paste, found)
    read_errors(paste, found)
    read_cmdlet_output(paste, found)
    read_logs(paste, found)
    _apply_signatures(paste, signatures, facts, found)
    recognise(paste, found, load_knowledge().catalogue if catalogue is None else catalogue, facts)
    return {name: value for name, value in found.items() if value not in (None, "", [])}
