"""How the field corpus counts an answer right: the expected cause in the first k, an ambiguous entry's
alternatives, an `unknown` that nothing is claimed for, the reliability buckets, the entry schema and the
causes a corpus names that the knowledge base lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.loader import load_knowledge
from tests.knowledge.field_corpus import (
    UNKNOWN,
    UNKNOWN_CEILING,
    Entry,
    Outcome,
    field_entries,
    missing_causes,
    reliability,
    score,
)


def entry(expected: str, alternatives: tuple[str, ...] = (), entry_id: str = "e") -> Entry:
    return Entry(
        id=entry_id,
        source="https://example.org/thread",
        kind="forum",
        text="text",
        expected=expected,
        ambiguous=bool(alternatives),
        alternatives=alternatives,
        note="note",
        file="test.yaml",
    )


def test_a_named_cause_counts_first_for_top_1_and_anywhere_in_three_for_top_3() -> None:
    first = Outcome(entry("a"), (("a", 0.7), ("b", 0.2)))
    third = Outcome(entry("a"), (("b", 0.7), ("c", 0.5), ("a", 0.3)))
    fourth = Outcome(entry("a"), (("b", 0.7), ("c", 0.5), ("d", 0.4), ("a", 0.3)))
    silent = Outcome(entry("a"), ())
    assert [o.right_within(1) for o in (first, third, fourth, silent)] == [True, False, False, False]
    assert [o.right_within(3) for o in (first, third, fourth, silent)] == [True, True, False, False]
    scores = score([first, third, fourth, silent])
    assert (scores.count, scores.top1, scores.top3) == (4, 1, 2)
    assert scores.top1_share == 0.25 and scores.top3_share == 0.5


def test_an_ambiguous_entry_accepts_its_alternatives_and_an_unambiguous_one_does_not() -> None:
    assert Outcome(entry("a", ("b",)), (("b", 0.8),)).right_within(1)
    assert not Outcome(entry("a"), (("b", 0.8),)).right_within(3)


def test_an_unknown_is_right_only_while_nothing_is_claimed_at_the_ceiling() -> None:
    below = UNKNOWN_CEILING - 0.01
    assert Outcome(entry(UNKNOWN), ()).right_within(1)
    assert Outcome(entry(UNKNOWN), (("a", below), ("b", 0.1))).right_within(1)
    assert not Outcome(entry(UNKNOWN), (("a", UNKNOWN_CEILING),)).right_within(1)
    # A cause the thread left open (an alternative) may be claimed; another may not.
    assert Outcome(entry(UNKNOWN, ("a",)), (("a", 0.9),)).right_within(1)
    assert not Outcome(entry(UNKNOWN, ("a",)), (("b", 0.9),)).right_within(3)


def test_reliability_puts_each_first_cause_in_its_bucket_and_counts_silence_apart() -> None:
    rows = reliability(
        [
            Outcome(entry("a"), (("a", 0.9),)),
            Outcome(entry("a"), (("b", 0.85),)),
            Outcome(entry("a"), (("a", 0.45),)),
            Outcome(entry(UNKNOWN), ()),
            Outcome(entry("a"), ()),
        ]
    )
    by_bucket = {row["bucket"]: (row["count"], row["right"], row["share"]) for row in rows}
    assert by_bucket["0.8-1.0"] == (2, 1, 0.5)
    assert by_bucket["0.4-0.6"] == (1, 1, 1.0)
    assert by_bucket["0.0-0.2"] == (0, 0, None)
    assert by_bucket["none"] == (2, 1, 0.5)


def test_missing_causes_lists_each_id_the_base_lacks_with_the_entries_that_name_it() -> None:
    kb = load_knowledge()
    known = next(iter(kb.causes))
    entries = [
        entry(known, entry_id="one"),
        entry("no-such-cause", entry_id="two"),
        entry(UNKNOWN, ("no-such-cause", known), entry_id="three"),
    ]
    assert missing_causes(kb, entries) == {"no-such-cause": ["two", "three"]}


def test_an_entry_with_a_missing_or_an_extra_key_is_refused(tmp_path: Path) -> None:
    good = (
        "  - id: e\n    source: https://example.org\n    kind: kb\n    text: t\n    expected: unknown\n"
        "    ambiguous: false\n    alternatives: []\n    note: n\n"
    )
    (tmp_path / "ok.yaml").write_text("about: a\nentries:\n" + good, encoding="utf-8")
    assert [e.id for e in field_entries(tmp_path)] == ["e"]
    (tmp_path / "extra.yaml").write_text("about: a\nentries:\n" + good + "    extra: x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="exactly the keys"):
        field_entries(tmp_path)
