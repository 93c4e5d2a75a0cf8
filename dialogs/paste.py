"""Telling a pasted error from a typed sentence, and saying back what the reader found in it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dialogs.redact import redact
from knowledge.loader import KnowledgeBase
from knowledge.unknowns import recognised

__all__ = ["EXCERPT_CHARS", "Paste", "ReadText", "describe", "is_long", "read_paste"]

ReadText = Callable[[str], dict[str, Any]]

EXCERPT_CHARS = 600
# Facts only an error message carries: finding one makes even a short message a paste.
_ERROR_FACTS = (
    "event.id",
    "error.codes",
    "exception.types",
    "signatures",
    "proxy.type",
    "test.federation_trust",
    "test.oauth",
    "test.orgrel",
    "test.fedcert",
)
_LONG_CHARS = 200


@dataclass(frozen=True)
class Paste:
    facts: dict[str, Any] = field(default_factory=dict)
    is_paste: bool = False
    excerpt: str = ""


def is_long(text: str) -> bool:
    """Long enough to be a paste whatever it holds (a typed answer is one short line)."""
    return len(text) >= _LONG_CHARS or text.count("\n") >= 2


def read_paste(read_text: ReadText, text: str) -> Paste:
    """What the reader finds in `text`, and whether it is a paste (long, or it holds error facts).

    The reader raises PasteTooLarge over 1 MiB; that is left to the caller, which re-prompts."""
    facts = read_text(text)
    is_paste = is_long(text) or any(fact in facts for fact in _ERROR_FACTS)
    # Redacted whole, then cut: a cut could leave half a token that no rule recognises.
    excerpt = redact(text.strip())[:EXCERPT_CHARS] if is_paste else ""
    return Paste(facts=facts, is_paste=is_paste, excerpt=excerpt)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value[:5]) + (" …" if len(value) > 5 else "")
    return str(value)


def describe(kb: KnowledgeBase, facts: dict[str, Any]) -> str:
    """One line naming what the reader recognised ("" when nothing)."""
    parts = []
    if "event.id" in facts:
        source = f" from {facts['event.source']}" if facts.get("event.source") else ""
        parts.append(f"event {facts['event.id']}{source}")
    labels = {
        "proxy.type": "proxy type",
        "error.codes": "error codes",
        "http.statuses": "HTTP status",
        "target.url": "target URL",
        "request.requester": "requester",
        "request.target": "target",
    }
    parts += [f"{label} {_shown(facts[fact])}" for fact, label in labels.items() if facts.get(fact)]
    parts += [item.title for item in recognised(kb, facts)[:3]]
    titles = {s.id: s.title for s in kb.signatures}
    parts += [titles.get(s, s) for s in facts.get("signatures") or []]
    return "; ".join(parts)
