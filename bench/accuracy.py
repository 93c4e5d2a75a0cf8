"""How often the reader names the right cause, and how far its confidence can be trusted. Not a test: a measurement.

    .venv/bin/python -m bench.accuracy [--misses]

For the field corpus (tests/knowledge/corpus: real texts from public threads and articles), the public cases
(knowledge/data/cases.yaml) and rewordings of them (tests/knowledge/corpus/rewordings*.yaml, when present), each
text read alone the way `triage diagnose --error-file` reads it, prints top-1 / top-3 (overall and on the
unambiguous texts) and a reliability table: for the first-ranked cause, per confidence bucket, how many texts
and what share of them was right. `--misses` also lists the unambiguous texts whose cause is not in the first three.
Causes the corpus names that the knowledge base lacks are listed first (those texts cannot be right); the
field corpus is also broken down by topic file and by kind of source.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from knowledge.loader import KnowledgeBase, load_knowledge
from tests.knowledge.field_corpus import (
    UNKNOWN,
    UNKNOWN_CEILING,
    Entry,
    Outcome,
    case_entries,
    field_entries,
    missing_causes,
    outcome,
    reliability,
    rewording_entries,
    score,
)


def report(
    name: str, outcomes: Sequence[Outcome], show_misses: bool, kb: KnowledgeBase | None = None
) -> None:
    if not outcomes:
        print(f"\n{name}: none present")
        return
    overall = score(outcomes)
    clear = [o for o in outcomes if not o.entry.ambiguous]
    unambiguous = score(clear)
    print(f"\n{name}: {overall.count} texts ({unambiguous.count} unambiguous)")
    print(f"  overall      top-1 {overall.top1_share:6.1%}  top-3 {overall.top3_share:6.1%}")
    print(f"  unambiguous  top-1 {unambiguous.top1_share:6.1%}  top-3 {unambiguous.top3_share:6.1%}")
    known = score([o for o in clear if o.entry.expected != UNKNOWN])
    unknown = score([o for o in clear if o.entry.expected == UNKNOWN])
    print(
        f"    of which a named cause ({known.count}): top-1 {known.top1_share:6.1%}  top-3 {known.top3_share:6.1%}"
    )
    print(
        f"    of which unknown ({unknown.count}): nothing claimed at >= {UNKNOWN_CEILING}: {unknown.top1_share:6.1%}"
    )
    if kb is not None:
        present = score([o for o in clear if o.entry.expected in kb.causes])
        print(
            f"    of which a cause the base defines ({present.count}): top-1 {present.top1_share:6.1%}"
            f"  top-3 {present.top3_share:6.1%}"
        )
    silent = sum(1 for o in outcomes if o.top is None)
    print(f"  texts answered with no cause at all: {silent} of {overall.count}")
    print("  reliability of the first cause:  confidence  texts  right  share")
    for row in reliability(outcomes):
        share = "     -" if row["share"] is None else f"{row['share']:6.1%}"
        print(f"  {'':32}{row['bucket']:>10}  {row['count']:5}  {row['right']:5}  {share}")
    confident = [o for o in outcomes if o.top is not None and o.top[1] >= 0.8]
    if confident:
        right = sum(1 for o in confident if o.top is not None and o.top[0] in o.entry.accepted)
        print(f"  at confidence >= 0.8: {right}/{len(confident)} right ({right / len(confident):.1%})")
    if show_misses:
        for o in clear:
            if not o.right_within(3):
                got = ", ".join(f"{cid} {conf:.2f}" for cid, conf in o.ranked[:3]) or "nothing"
                print(f"  miss {o.entry.id}: want {o.entry.expected}; got {got}")


def by_group(outcomes: Sequence[Outcome], label: str, key: Callable[[Entry], str]) -> None:
    """Top-1 / top-3 over every text (ambiguous ones included) per group: a topic file or a kind of source."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o.entry), []).append(o)
    print(f"  by {label}:")
    for name, members in sorted(groups.items()):
        s = score(members)
        print(f"    {name:<24}{s.count:5} texts  top-1 {s.top1_share:6.1%}  top-3 {s.top3_share:6.1%}")


def run(kb: KnowledgeBase, entries: Sequence[Entry]) -> list[Outcome]:
    return [outcome(kb, entry) for entry in entries]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--misses", action="store_true", help="list the unambiguous texts missed in the first three"
    )
    args = parser.parse_args(argv)
    kb = load_knowledge()
    field = field_entries()
    missing = missing_causes(kb, field)
    print(f"knowledge base: {len(kb.causes)} causes")
    if missing:
        print(f"causes the field corpus names that the knowledge base lacks ({len(missing)}):")
        for cid, users in sorted(missing.items()):
            print(f"  {cid}: {len(users)} text(s)")
    field_outcomes = run(kb, field)
    report("field corpus", field_outcomes, args.misses, kb)
    by_group(field_outcomes, "topic file", lambda e: e.file)
    by_group(field_outcomes, "kind of source", lambda e: e.kind)
    report("public cases", run(kb, case_entries(kb)), args.misses, kb)
    report("rewordings", run(kb, rewording_entries()), args.misses, kb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
