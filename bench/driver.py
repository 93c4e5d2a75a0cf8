"""Driving whole triages over HTTP, as Teams would: post an activity, read the bot's newest card from the
loopback connector, press the button (or type the answer) it asks for, until the result card.

Used by the benchmarks and the reliability tests; it knows the conversation's cards only by their buttons'
`data` (the node each answers), never its internals. The bot answers every activity at once and posts its
replies when the turn gets there (the checks can take a while): after each post the driver waits for them
(`settle`), as a person reads the chat.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from bench.load import Poster
from bot.testing import LoopbackConnector, Recorded, TeamsActivities

__all__ = ["Plan", "TimedConnector", "TriageDriver", "TurnRecord", "actions_of", "is_progress", "is_result"]

Card = dict[str, Any]
Until = Literal["card", "reply", "nothing"]

# How long the driver waits for a turn's replies (a triage against slow backends takes tens of seconds).
SETTLE_SECONDS = 120.0


class TimedConnector(LoopbackConnector):
    """The loopback connector, with each call's arrival time and an index by conversation."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, list[tuple[float, Recorded]]] = defaultdict(list)

    def _record(
        self, request: web.Request, operation: str, cid: str, aid: str, body: Any, returned: str
    ) -> None:
        super()._record(request, operation, cid, aid, body, returned)
        self.arrivals[cid].append((time.perf_counter(), self.calls[-1]))

    def since(self, conversation_id: str, moment: float) -> list[tuple[float, Recorded]]:
        return [(t, call) for t, call in self.arrivals[conversation_id] if t >= moment]

    def clear(self) -> None:
        super().clear()
        self.arrivals.clear()


def actions_of(card: Card) -> list[dict[str, Any]]:
    found = list(card.get("actions", []))
    for element in card.get("body", []):
        if isinstance(element, dict) and element.get("type") == "ActionSet":
            found += element.get("actions", [])
    return found


def _first_text(card: Card) -> str:
    for element in card.get("body", []):
        if isinstance(element, dict) and element.get("type") == "TextBlock":
            return str(element.get("text", ""))
    return ""


def is_progress(card: Card) -> bool:
    heading = _first_text(card)
    return heading.startswith("Running the checks") or heading == "Checks finished."


def _asks(card: Card) -> bool:
    """A question or the result: a card with buttons, not the progress card."""
    return not is_progress(card) and bool(actions_of(card))


def is_result(card: Card) -> bool:
    return any((a.get("data") or {}).get("action") == "escalate" for a in actions_of(card))


@dataclass(frozen=True)
class Plan:
    """The answers a triage gives; an empty `paste` skips the error-text question."""

    symptom: str = "freebusy-cloud-to-onprem"
    scope: str = "all"
    requester: str = "alice@contoso.com"
    target: str = "bjorn@contoso.com"
    paste: str = ""
    site: str = "Branch"


@dataclass(frozen=True)
class TurnRecord:
    answered: str  # the node answered ("start" for the first message)
    status: int
    seconds: float  # the HTTP answer
    first_reply: float | None  # seconds from the post to the first reply of any kind
    first_progress: float | None  # ... to the first progress card
    settled: float | None = None  # ... to the reply waited for (the next question, the result)


@dataclass
class TriageDriver:
    """One conversation: `walk` answers every question until the result card (or `max_turns`)."""

    poster: Poster
    connector: TimedConnector
    activities: TeamsActivities
    conversation: str
    turns: list[TurnRecord] = field(default_factory=list)

    def cards(self) -> list[Card]:
        """Every card the bot sent or updated in this conversation, oldest first."""
        return [card for _, call in self.connector.arrivals[self.conversation] for card in call.cards]

    def texts(self) -> list[str]:
        return [call.text for _, call in self.connector.arrivals[self.conversation] if call.text]

    def newest_question(self) -> Card | None:
        """The newest card with buttons that is not a progress card (an answered question card is updated in
        place without its buttons)."""
        return next((c for c in reversed(self.cards()) if _asks(c)), None)

    def finished(self) -> bool:
        card = self.newest_question()
        return card is not None and is_result(card)

    async def post(self, activity: dict[str, Any], answered: str, until: Until = "card") -> TurnRecord:
        began = time.perf_counter()
        status = await self.poster.post(activity)
        seconds = time.perf_counter() - began
        settled = await self.settle(began, until) if status < 300 else None
        arrived = self.connector.since(self.conversation, began)
        first = arrived[0][0] - began if arrived else None
        progress = next((t - began for t, call in arrived if any(is_progress(c) for c in call.cards)), None)
        record = TurnRecord(answered, status, seconds, first, progress, settled)
        self.turns.append(record)
        return record

    async def settle(self, began: float, until: Until, seconds: float = SETTLE_SECONDS) -> float | None:
        """Wait for the replies to what was posted at `began`: a question or result card ("card"), any
        message ("reply"); answer how long after `began` it came (None: it did not, within `seconds`)."""
        if until == "nothing":
            return None
        deadline = began + seconds
        while time.perf_counter() < deadline:
            for moment, call in self.connector.since(self.conversation, began):
                if call.type != "message":
                    continue
                if until == "reply" or any(_asks(c) for c in call.cards):
                    return moment - began
            await asyncio.sleep(0.01)
        return None

    async def say(self, text: str, answered: str = "message", until: Until = "card") -> TurnRecord:
        activity = self.activities.message(text, conversation=self.conversation)
        return await self.post(activity, answered, until)

    async def submit(self, value: dict[str, Any], answered: str = "submit") -> TurnRecord:
        return await self.post(self.activities.submit(value, conversation=self.conversation), answered)

    async def step(self, plan: Plan) -> TurnRecord | None:
        """Answer the newest question; None when the result is shown (or nothing can be answered)."""
        card = self.newest_question()
        if card is None:
            return await self.say("hi", "start")
        if is_result(card):
            return None
        node = next(
            (str(a["data"]["node"]) for a in actions_of(card) if (a.get("data") or {}).get("node")), ""
        )
        answer = self._answer(card, node, plan)
        if answer is None:
            return None
        return await self.submit(answer, node) if isinstance(answer, dict) else await self.say(answer, node)

    def _answer(self, card: Card, node: str, plan: Plan) -> dict[str, Any] | str | None:
        data = [a.get("data") or {} for a in actions_of(card)]
        if node == "symptom":
            return {"action": "answer", "node": node, "value": plan.symptom}
        if node == "scope":
            return {"action": "answer", "node": node, "value": plan.scope}
        if node in ("pair", "affected-user"):
            return {"action": "answer", "node": node, "requester": plan.requester, "target": plan.target}
        if node == "sites":
            confirm = any(d.get("value") == "confirm" for d in data)
            return (
                {"action": "answer", "node": node, "value": "confirm"}
                if confirm
                else {"action": "answer", "node": node, "site": plan.site}
            )
        if node == "error-text":
            return plan.paste if plan.paste else {"action": "skip", "node": node}
        # A question this driver does not know: take its first button, if it has one.
        return next((d for d in data if d.get("action")), None)

    def asking(self) -> str:
        """The node the newest question card answers ("" when there is none)."""
        card = self.newest_question() or {}
        return next(
            (str(a["data"]["node"]) for a in actions_of(card) if (a.get("data") or {}).get("node")), ""
        )

    async def until(self, plan: Plan, node: str, max_turns: int = 8) -> None:
        """Answer questions until `node` is the one asked (raises if it never is)."""
        for _ in range(max_turns):
            if self.asking() == node:
                return
            if await self.step(plan) is None:
                break
        raise RuntimeError(f"{self.conversation} never asked {node!r}; last said: {self.texts()[-2:]}")

    async def walk(self, plan: Plan, max_turns: int = 12) -> bool:
        """Answer until the result card; True when it came."""
        for _ in range(max_turns):
            if await self.step(plan) is None:
                break
        return self.finished()
