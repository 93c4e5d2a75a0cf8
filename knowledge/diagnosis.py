"""One diagnosis from text: pasted error text read once, with what the user said and the check results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from knowledge.assessment import Assessment, CheckOutcome, assess
from knowledge.conditions import Facts
from knowledge.jsonvalue import JsonValue
from knowledge.loader import KnowledgeBase
from knowledge.reader.error_text import read_error_text

__all__ = ["diagnose"]


def diagnose(
    kb: KnowledgeBase,
    *,
    text: str | None = None,
    conversation: Mapping[str, JsonValue] | None = None,
    results: Sequence[CheckOutcome] = (),
) -> Assessment:
    """Read `text` (raises PasteTooLarge over 1 MiB) and assess it with the other facts."""
    said: Facts = dict(conversation or {})
    pasted: Facts = {}
    if text is not None:
        pasted = read_error_text(text)
        said.setdefault("pasted", True)
    return assess(kb, said=said, pasted=pasted, results=results)
