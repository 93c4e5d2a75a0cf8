"""Questions to the result: how many questions the triage asks a helpdesk agent before the result card, for
the three seed scenarios on the lab, from a plain first message and from the pair with a pasted error.

`.venv/bin/python -m bench.questions` prints one line per walk. Every question card is answered as a helpdesk
agent would (the scope, "yes" to sites shown, the addresses when they are asked for, the paste when the error
is asked for, the symptom's button when the symptom is asked); a walk that does not reach the result in 8
answers says so. The figures before and after the conversation learnt plain words are in PERFORMANCE.md.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.driver import actions_of
from dialogs.api import Inbound, Outbound
from triage.app import build_conversation

ROOT = Path(__file__).resolve().parent.parent
PASTES = ROOT / "tests" / "knowledge" / "pastes"
EXAMPLE = ROOT / "triage" / "examples" / "seed-000-event-4002.txt"


@dataclass(frozen=True)
class Walk:
    scenario: str
    first: str
    paste: str
    scope: str  # the scope button's value
    symptom: str  # the symptom button's value, when asked
    pair: str  # typed when the addresses are asked for


WALKS = (
    Walk(
        "seed-000-federation-cert",
        "Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office",
        "seed-000-event-4002.txt",
        "all",
        "freebusy-cloud-to-onprem",
        "alice@contoso.com can't see bjorn@contoso.com",
    ),
    Walk(
        "seed-001-sharing-subscription",
        "carol@contoso.com can't see erin@contoso.com, only her",
        "seed-001-fiddler.json",
        "pair",
        "freebusy-onprem-to-cloud",
        "carol@contoso.com can't see erin@contoso.com",
    ),
    Walk(
        "seed-002-owa-internalurl-http",
        "OWA gives an error for bjorn@contoso.com, his mailbox is in the other site",
        "seed-002-event-42.txt",
        "site",
        "owa-ecp-cross-site-proxy",
        "bjorn@contoso.com",
    ),
)


@dataclass(frozen=True)
class _Settings:
    backend: str
    scenario: str
    checks_config: Path | None = None


async def _publish(_: dict[str, Any]) -> str:
    return "https://triage.example/runbook"


def _question(sent: list[Outbound]) -> dict[str, Any] | None:
    """The newest card with buttons: the open question (an answered question card is updated without them)."""
    cards = [o.card for o in sent if o.kind == "card" and o.card is not None and actions_of(o.card)]
    return cards[-1] if cards else None


async def walk(case: Walk) -> tuple[int, bool, str]:
    """(questions asked, reached the result, the likely cause on it)."""
    settings = _Settings("lab", case.scenario)
    state: dict[str, Any] = {}
    asked = 0
    async with build_conversation(settings, _publish) as conversation:
        sent: list[Outbound] = []

        async def emit(outbound: Outbound) -> str | None:
            sent.append(outbound)
            return None

        inbound = Inbound("message", "bench", user_id="u", user_name="Helpdesk", text=case.first)
        for _ in range(8):
            sent.clear()
            state = await conversation.handle(state, inbound, emit)
            if state.get("phase") == "done":
                conclusion = state.get("conclusion")
                cause = conclusion.get("cause") if isinstance(conclusion, dict) else None
                return asked, True, str(cause or "no confident cause")
            card = _question(sent)
            waiting = state.get("awaiting")
            awaiting = waiting.get("node") if isinstance(waiting, dict) else None
            if card is None or not isinstance(awaiting, str):
                return asked, False, ""
            asked += 1
            inbound = _answer(case, awaiting, card)
    return asked, False, ""


def _answer(case: Walk, node: str, card: dict[str, Any]) -> Inbound:
    def press(**value: Any) -> Inbound:
        return Inbound("submit", "bench", user_id="u", user_name="Helpdesk", value=value)

    if node == "symptom":
        return press(action="answer", node=node, value=case.symptom)
    if node == "scope":
        return press(action="answer", node=node, value=case.scope)
    if node == "sites":
        return press(action="answer", node=node, value="confirm")
    if node == "error-text":
        path = EXAMPLE if case.paste == EXAMPLE.name else PASTES / case.paste
        text = path.read_text(encoding="utf-8")
        return Inbound("message", "bench", user_id="u", user_name="Helpdesk", text=text)
    if node in ("pair", "affected-user"):
        return Inbound("message", "bench", user_id="u", user_name="Helpdesk", text=case.pair)
    if node == "people":
        first = next(a for a in card.get("actions", []) if a.get("type") == "Action.Submit")
        return press(**first["data"])
    return Inbound("message", "bench", user_id="u", user_name="Helpdesk", text="skip")


async def main() -> int:
    for case in WALKS:
        asked, done, cause = await walk(case)
        outcome = f"result card ({cause})" if done else "NO RESULT"
        noun = "question" if asked == 1 else "questions"
        print(f"{case.scenario}: {asked} {noun} to the {outcome} from {case.first!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
