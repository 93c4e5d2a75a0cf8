"""Driving the conversation the way the host does, checking every turn's state and every card."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from checks.api import CheckResult
from dialogs.api import Inbound, Outbound
from dialogs.engine import TriageConversation
from dialogs.state import VERSION
from dialogs.testing import FakeCheckRunner, Recorder
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text

PUBLISHED_URL = "https://triage.example/remediation/tok-123"

# Cards and stored states as tests read them: JSON documents, indexed freely.
Card = dict[str, Any]


@cache
def _validator() -> Any:
    schema = json.loads((resources.files("adaptive_cards") / "schemas" / "schema-1.5.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def card_problems(card: Card) -> list[str]:
    """Every leaf error of the official Adaptive Card 1.5 schema for `card` (empty: valid)."""
    return list(_problems(json.dumps(card, sort_keys=True)))


@cache
def _problems(card_json: str) -> tuple[str, ...]:
    # Cached by content: the same question card comes up in many tests, and the schema is slow to walk.
    card = json.loads(card_json)

    def leaves(error: Any) -> Any:
        if not error.context:
            yield error
        for sub in error.context:
            yield from leaves(sub)

    found = set()
    for error in _validator().iter_errors(card):
        for leaf in leaves(error):
            where = "/".join(str(p) for p in leaf.absolute_path) or "<root>"
            found.add(f"{where}: {leaf.message[:160]}")
    return tuple(sorted(found))


def card_text(card: Card) -> str:
    """Every string in a card, one per line: what a reader of the card can see (and its button data)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(card)
    return unescape_markdown("\n".join(out))


def unescape_markdown(value: str) -> str:
    """The text as a reader sees it: a backslash before punctuation shows that character (CommonMark)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", value)


def actions_of(card: Card) -> list[dict[str, Any]]:
    found = list(card.get("actions", []))
    for element in card.get("body", []):
        if element.get("type") == "ActionSet":
            found += element["actions"]
    return found


@dataclass
class Chat:
    """One conversation: send messages or press buttons; each turn is checked as the host would need it."""

    runner: FakeCheckRunner = field(default_factory=FakeCheckRunner)
    escalate_to: str | None = "Exchange › Escalations"
    user_name: str = "Ada Lovelace"
    published: list[dict[str, Any]] = field(default_factory=list)
    publish_fails: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    history: list[Outbound] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.recorder = Recorder(escalate_to=self.escalate_to)
        self.conversation = TriageConversation(load_knowledge(), self.runner, self._publish, read_error_text)

    async def _publish(self, runbook: dict[str, Any]) -> str:
        if self.publish_fails:
            raise ConnectionError("the link store is down")
        self.published.append(runbook)
        return PUBLISHED_URL

    async def turn(self, inbound: Inbound) -> list[Outbound]:
        before = copy.deepcopy(self.state)
        self.recorder.clear()
        new_state = await self.conversation.handle(self.state, inbound, self.recorder)
        assert self.state == before, "the conversation mutated the state it was given"
        assert json.loads(json.dumps(new_state)) == new_state, "the state is not plain JSON"
        assert new_state["v"] == VERSION
        for outbound in self.recorder.sent:
            if outbound.card is not None:
                assert card_problems(outbound.card) == [], outbound.card
            if outbound.kind == "checkpoint":
                assert outbound.state is not None
                json.dumps(outbound.state)
        self.state = new_state
        self.turns += 1
        self.history += self.recorder.sent
        return list(self.recorder.sent)

    async def say(self, text: str) -> list[Outbound]:
        return await self.turn(
            Inbound("message", "conv-1", user_id="u-1", user_name=self.user_name, text=text)
        )

    async def submit(self, **value: Any) -> list[Outbound]:
        return await self.turn(
            Inbound("submit", "conv-1", user_id="u-1", user_name=self.user_name, value=value)
        )

    async def press(self, title: str, **inputs: Any) -> list[Outbound]:
        """Press the button titled `title` on the newest card that has it (with card inputs filled in)."""
        for card in reversed([o.card for o in self.history if o.card is not None and o.kind == "card"]):
            for action in actions_of(card):
                if action.get("title") == title and action["type"] == "Action.Submit":
                    return await self.submit(**action["data"], **inputs)
        raise AssertionError(f"no button {title!r}; last card: {self.cards()[-1] if self.cards() else None}")

    def cards(self) -> list[Card]:
        return [o.card for o in self.recorder.sent if o.card is not None and o.kind == "card"]

    def texts(self) -> str:
        return "\n".join(o.text for o in self.recorder.sent if o.kind == "text")

    def shown(self) -> str:
        """Everything this turn showed the user: texts and card text."""
        return "\n".join([self.texts(), *(card_text(c) for c in self.cards())])

    def last_card(self) -> Card:
        cards = self.cards()
        assert cards, f"no card this turn; texts: {self.texts()}"
        return cards[-1]

    def everything_shown(self) -> str:
        """All the texts and cards of the whole conversation so far."""
        return "\n".join(o.text if o.card is None else card_text(o.card) for o in self.history)

    def awaiting(self) -> str | None:
        awaiting = self.state.get("awaiting") or {}
        return awaiting.get("node")


def results(*items: CheckResult) -> FakeCheckRunner:
    return FakeCheckRunner(items)
