"""One diagnosis: pasted text and what the user said (and what checks found) → facts, causes, open questions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from knowledge.conditions import Facts
from knowledge.inference import Inference, combine_facts, implied_symptom, infer
from knowledge.loader import KnowledgeBase
from knowledge.reader.error_text import read_error_text
from knowledge.walk import Question, open_questions

__all__ = ["Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Diagnosis:
    facts: Facts
    inference: Inference
    questions: list[Question]

    def as_dict(self) -> dict[str, Any]:
        return {
            "facts": self.facts,
            "causes": [cause.as_dict() for cause in self.inference.causes],
            "ruled_out": [
                {"id": r.id, "title": r.title, "reason": r.reason} for r in self.inference.ruled_out
            ],
            "questions": [question.as_dict() for question in self.questions],
        }


def diagnose(
    kb: KnowledgeBase,
    *,
    text: str | None = None,
    conversation: Mapping[str, Any] | None = None,
    checks: Mapping[str, Any] | None = None,
    checks_run: frozenset[str] = frozenset(),
) -> Diagnosis:
    """Read `text` (raises PasteTooLarge over 1 MiB), combine with the other facts, and infer."""
    said: Facts = dict(conversation or {})
    pasted: Facts = {}
    if text is not None:
        pasted = read_error_text(text)
        said.setdefault("pasted", True)
    facts = combine_facts(said, pasted, dict(checks or {}))
    if "symptom" not in facts and (symptom := implied_symptom(kb, facts)) is not None:
        facts["symptom"] = symptom
    return Diagnosis(
        facts=dict(sorted(facts.items())),
        inference=infer(kb, facts, checks_run=checks_run),
        questions=open_questions(kb, facts),
    )
