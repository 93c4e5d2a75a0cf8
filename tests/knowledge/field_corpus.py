"""The field corpus: error texts as Exchange administrators posted them in public, each with the cause the
thread (or article) concluded, read and scored through the same path as `triage diagnose`.

Used by tests/knowledge/test_field_corpus.py (thresholds) and bench/accuracy.py (figures and the reliability
table). The corpus files live in tests/knowledge/corpus/*.yaml; proposed-causes.yaml there lists causes the
corpus needs that the knowledge base may not define yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.diagnosis import diagnose
from knowledge.loader import KnowledgeBase
from knowledge.reader.command_output import read_command_output, without_command_output
from knowledge.yamlio import read_yaml
from triage.backends import run_checks_once

__all__ = [
    "CORPUS_DIR",
    "KINDS",
    "MAX_TEXT",
    "PROPOSED",
    "UNKNOWN",
    "UNKNOWN_CEILING",
    "Entry",
    "Outcome",
    "Scores",
    "assess",
    "case_entries",
    "field_entries",
    "missing_causes",
    "outcome",
    "reliability",
    "rewording_entries",
    "score",
]

CORPUS_DIR = Path(__file__).parent / "corpus"
PROPOSED = CORPUS_DIR / "proposed-causes.yaml"
UNKNOWN = "unknown"
# An entry whose thread found no cause the base knows is answered right when nothing is put forward at
# this confidence or above: the reader may list possibilities, but must not claim one.
UNKNOWN_CEILING = 0.5
MAX_TEXT = 6000
ENTRY_KEYS = {"id", "source", "kind", "text", "expected", "ambiguous", "alternatives", "note"}
KINDS = {"kb", "qa", "forum", "blog", "issue", "reference"}


@dataclass(frozen=True)
class Entry:
    id: str
    source: str
    kind: str
    text: str
    expected: str
    ambiguous: bool
    alternatives: tuple[str, ...]
    note: str
    file: str

    @property
    def accepted(self) -> frozenset[str]:
        """The ids a ranking may put first and count as right: the expected one, and for an ambiguous
        entry its alternatives too."""
        return (
            frozenset((self.expected, *self.alternatives)) if self.ambiguous else frozenset((self.expected,))
        )


@dataclass(frozen=True)
class Outcome:
    entry: Entry
    ranked: tuple[tuple[str, float], ...]

    @property
    def top(self) -> tuple[str, float] | None:
        return self.ranked[0] if self.ranked else None

    def right_within(self, k: int) -> bool:
        """Whether the answer is right in the first `k`. For an unknown: nothing at UNKNOWN_CEILING or above
        (a cause the entry also accepts as an alternative counts as right wherever it ranks)."""
        if self.entry.expected == UNKNOWN:
            confident = [cid for cid, conf in self.ranked if conf >= UNKNOWN_CEILING]
            return all(cid in self.entry.accepted for cid in confident[:k])
        return any(cid in self.entry.accepted for cid, _ in self.ranked[:k])


@dataclass(frozen=True)
class Scores:
    count: int
    top1: int
    top3: int

    def share(self, right: int) -> float:
        return right / self.count if self.count else 0.0

    @property
    def top1_share(self) -> float:
        return self.share(self.top1)

    @property
    def top3_share(self) -> float:
        return self.share(self.top3)


def _entries_from(path: Path) -> list[Entry]:
    data = read_yaml(path)
    raw_entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(raw_entries, list):
        raise ValueError(f"{path.name}: no 'entries' list")
    entries = []
    for raw in raw_entries:
        if not isinstance(raw, dict) or set(raw) != ENTRY_KEYS:
            raise ValueError(
                f"{path.name}: entry {raw!r:.80} must have exactly the keys {sorted(ENTRY_KEYS)}"
            )
        entries.append(
            Entry(
                id=str(raw["id"]),
                source=str(raw["source"]),
                kind=str(raw["kind"]),
                text=str(raw["text"]),
                expected=str(raw["expected"]),
                ambiguous=bool(raw["ambiguous"]),
                alternatives=tuple(str(a) for a in raw["alternatives"] or ()),
                note=str(raw["note"]),
                file=path.name,
            )
        )
    return entries


def field_entries(directory: Path = CORPUS_DIR) -> list[Entry]:
    """Every entry of the field corpus (all *.yaml there but the proposed causes and rewordings)."""
    paths = sorted(
        p for p in directory.glob("*.yaml") if p != PROPOSED and not p.name.startswith("rewordings")
    )
    return [entry for path in paths for entry in _entries_from(path)]


def rewording_entries(directory: Path = CORPUS_DIR) -> list[Entry]:
    """Rewordings of the public cases, when a rewordings*.yaml file (same schema) is present."""
    return [entry for path in sorted(directory.glob("rewordings*.yaml")) for entry in _entries_from(path)]


def case_entries(kb: KnowledgeBase) -> list[Entry]:
    """The public cases (knowledge/data/cases.yaml) as entries: their error strings, the cause that lists them."""
    owners: dict[str, list[str]] = {}
    for cause in kb.causes.values():
        for case_id in cause.cases:
            owners.setdefault(case_id, []).append(cause.id)
    entries = []
    for case in kb.cases.values():
        if not case.error_text or case.id not in owners:
            continue
        first, *others = sorted(owners[case.id])
        entries.append(
            Entry(
                id=case.id,
                source=str(getattr(case, "source", "")),
                kind="case",
                text="\n".join(case.error_text),
                expected=first,
                ambiguous=bool(others),
                alternatives=tuple(others),
                note="",
                file="knowledge/data/cases.yaml",
            )
        )
    return entries


def missing_causes(kb: KnowledgeBase, entries: Iterable[Entry]) -> dict[str, list[str]]:
    """Cause ids the entries name (expected or alternative) that the knowledge base does not define, each
    with the entries that name it."""
    missing: dict[str, list[str]] = {}
    for entry in entries:
        for cid in (entry.expected, *entry.alternatives):
            if cid != UNKNOWN and cid not in kb.causes:
                missing.setdefault(cid, []).append(entry.id)
    return missing


def assess(kb: KnowledgeBase, text: str) -> list[tuple[str, float]]:
    """The ranked causes for a pasted text alone, as `triage diagnose --error-file` computes them: command
    listings in the paste answer the checks (the "pasted" backend), the reader reads the rest."""
    pasted = read_command_output(text)
    if not pasted:
        result = diagnose(kb, text=text)
    else:
        results, conversation = asyncio.run(run_checks_once("pasted", facts={}, kb=kb, pasted=pasted))
        result = diagnose(kb, text=without_command_output(text), conversation=conversation, results=results)
    return [(cause.id, cause.confidence) for cause in result.causes]


def outcome(kb: KnowledgeBase, entry: Entry) -> Outcome:
    return Outcome(entry=entry, ranked=tuple(assess(kb, entry.text)))


def score(outcomes: Sequence[Outcome]) -> Scores:
    return Scores(
        count=len(outcomes),
        top1=sum(o.right_within(1) for o in outcomes),
        top3=sum(o.right_within(3) for o in outcomes),
    )


BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01))


def reliability(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Calibration of the first-ranked cause: per confidence bucket, how many entries had their top cause
    there and what share of those was right (an unknown's top cause is never right)."""
    rows = []
    for low, high in BUCKETS:
        inside = [o for o in outcomes if o.top is not None and low <= o.top[1] < high]
        right = sum(1 for o in inside if o.top is not None and o.top[0] in o.entry.accepted)
        rows.append(
            {
                "bucket": f"{low:.1f}-{min(high, 1.0):.1f}",
                "count": len(inside),
                "right": right,
                "share": right / len(inside) if inside else None,
            }
        )
    silent = [o for o in outcomes if o.top is None]
    right = sum(1 for o in silent if o.entry.expected == UNKNOWN)
    rows.append(
        {
            "bucket": "none",
            "count": len(silent),
            "right": right,
            "share": right / len(silent) if silent else None,
        }
    )
    return rows
