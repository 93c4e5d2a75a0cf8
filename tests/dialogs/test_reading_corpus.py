"""The reader against first messages as helpdesk agents write them (tests/dialogs/corpus/, with sources)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogs.reading import Reading, read_message
from lab.scenario.load import load_scenario

CORPUS = Path(__file__).resolve().parent / "corpus"
FIELDS = ("people", "direction", "symptom", "scope", "correction")


def _messages() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for thread in yaml.safe_load(path.read_text(encoding="utf-8")):
            assert str(thread["source"]).startswith(("https://", "http://")), thread
            for message in thread["messages"]:
                unknown = set(message) - {"text", *FIELDS}
                assert not unknown, f"{path.name}: unknown keys {unknown} in {message}"
                found.append((str(thread["source"]), message))
    return found


MESSAGES = _messages()
# The names the directory knows, as the conversation hands them to the reader (the lab's people).
ROSTER = tuple(
    name
    for mailbox in load_scenario("healthy").mailboxes
    for name in (mailbox.address.split("@")[0], mailbox.display_name)
)


def reading_of(reading: Reading) -> dict[str, Any]:
    """A reading in the corpus's terms: the requester first, then the target, then anyone else."""
    order = {"requester": 0, "target": 1, "": 2}
    people = sorted(reading.people, key=lambda p: (order[p.role], p.at))
    return {
        "people": [p.text.casefold() for p in people],
        "direction": reading.direction,
        "symptom": reading.topic,
        "scope": reading.scope,
        "correction": reading.correction,
    }


def expected_of(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "people": [str(p).casefold() for p in message.get("people", [])],
        "direction": message.get("direction", ""),
        "symptom": message.get("symptom", ""),
        "scope": message.get("scope", ""),
        "correction": bool(message.get("correction", False)),
    }


def test_the_corpus_is_large_and_sourced() -> None:
    assert len(MESSAGES) >= 150
    assert len({source for source, _ in MESSAGES}) >= 20
    assert len({m["text"] for _, m in MESSAGES}) == len(MESSAGES), "a message is listed twice"


def test_at_least_95_percent_are_read_exactly_as_expected() -> None:
    wrong = []
    for source, message in MESSAGES:
        got, want = reading_of(read_message(message["text"], ROSTER)), expected_of(message)
        if got != want:
            diff = {k: (got[k], want[k]) for k in FIELDS if got[k] != want[k]}
            wrong.append(f"{message['text']!r}: got/want {diff} ({source})")
    share = 1 - len(wrong) / len(MESSAGES)
    assert share >= 0.95, f"{share:.1%} read right; misread:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("source", "message"), MESSAGES, ids=[m["text"][:40] for _, m in MESSAGES])
def test_no_message_is_rejected_outright(source: str, message: dict[str, Any]) -> None:
    reading = read_message(message["text"], ROSTER)
    assert reading.anything or reading.correction, f"nothing read from {message['text']!r} ({source})"
