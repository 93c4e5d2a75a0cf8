"""The AD sites question: resolved by the topology check and shown for confirmation, asked only when the
check cannot resolve them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.api import CheckRequest, CheckResult, ProgressEvent
from dialogs.api import Card
from dialogs.cards import CONFIRM_SITES, question_card, sites_confirm_card
from dialogs.privacy import run_checks_privately
from dialogs.questions import send_question
from dialogs.state import Awaiting, Lookup, push_snapshot
from dialogs.turn import Turn
from dialogs.understand import is_no, is_skip, is_yes, read_site
from knowledge.model import TreeNode
from knowledge.validators import ValueProblem

__all__ = ["LOOKUP_CHECK", "answer_sites", "ask_sites", "lookup_topology"]

LOOKUP_CHECK = "topology"
_WHO = ("requester", "target")


async def _ignore(_: ProgressEvent) -> None:
    return None


async def _lookup(turn: Turn) -> CheckResult:
    """The topology check for the current target, run once per target and kept in the state."""
    return await lookup_topology(turn)


async def lookup_topology(turn: Turn) -> CheckResult:
    """The topology check for the current pair, run once per target (kept in the state; `dialogs.lookup_first`
    drops it when the requester changes)."""
    target = turn.facts().get("target")
    kept = turn.state.lookup
    if kept and kept.target == target:
        return kept.result
    await turn.typing()
    results = await run_checks_privately(turn, CheckRequest((LOOKUP_CHECK,), turn.facts()), _ignore)
    found = next((r for r in results if r.id == LOOKUP_CHECK), None)
    if found is None:
        found = CheckResult(LOOKUP_CHECK, "error", "The topology check did not report back.")
    turn.state.lookup = Lookup(str(target) if target is not None else None, found)
    return found


def _where(facts: Mapping[str, Any], who: str) -> str:
    if facts.get(f"{who}.location") == "online":
        return "Exchange Online"
    parts = [f"site {facts[f'{who}.site']}"] if facts.get(f"{who}.site") else []
    if facts.get(f"{who}.server"):
        parts.append(f"server {facts[f'{who}.server']}")
    return ", ".join(parts) or "not found"


def _resolved(lookup: CheckResult) -> bool:
    facts = lookup.facts
    return bool(facts.get("target.site")) or facts.get("target.location") == "online"


async def ask_sites(turn: Turn, node: TreeNode, note: str = "") -> None:
    """Confirm the sites the topology check found; ask for them when it cannot (or the user said no)."""
    typing_them = turn.state.awaiting == Awaiting(node.id, "ask")
    if typing_them:
        await _ask(turn, node, question_card(turn.kb, node, note), node.prompt)
        return
    lookup = await _lookup(turn)
    if not _resolved(lookup):
        reason = f"I could not look the AD sites up ({lookup.summary})."
        turn.awaiting(node.id, "ask")
        await _ask(turn, node, question_card(turn.kb, node, note or reason), node.prompt)
        return
    facts = turn.facts()
    rows = [
        (f"{who.capitalize()} {facts[who]}", _where(lookup.facts, who))
        for who in _WHO
        if facts.get(who)
        and (who == "target" or lookup.facts.get(f"{who}.location") or lookup.facts.get(f"{who}.site"))
    ]
    turn.awaiting(node.id, "confirm")
    await _ask(turn, node, sites_confirm_card(node, rows, note), CONFIRM_SITES)


async def _ask(turn: Turn, node: TreeNode, question: Card, prompt: str) -> None:
    await send_question(turn, question, node=node.id, prompt=prompt, facts=node.asks)


def _confirm(turn: Turn, node: TreeNode) -> None:
    """The user confirmed what the lookup found: the node's facts (and the other side's site) are theirs now."""
    lookup = turn.state.lookup
    found = lookup.result.facts if lookup else {}
    push_snapshot(turn.state)
    said = turn.state.said
    for fact in dict.fromkeys([*node.asks, *(f"{who}.site" for who in _WHO)]):
        if found.get(fact):
            said[fact] = found[fact]
    if not all(said.get(fact) for fact in node.asks):
        # The target's mailbox is in Exchange Online: it has no AD site to ask for.
        turn.state.skipped = [*turn.state.skipped, node.id]


async def answer_sites(turn: Turn, node: TreeNode, reply: str, choice: str = "") -> str | None:
    """Apply an answer to the sites question; returns a re-prompt reason, or None when answered.

    `choice` is a button's value ("confirm", "edit"); `reply` is typed text (or a card input)."""
    step = turn.state.awaiting.step if turn.state.awaiting else "ask"
    if step == "confirm" and (choice == "confirm" or is_yes(reply)):
        _confirm(turn, node)
        return None
    if step == "confirm" and (choice == "edit" or is_no(reply)):
        turn.awaiting(node.id, "ask")
        return "Which site is the target's mailbox in, then?"
    if node.optional and is_skip(reply):
        push_snapshot(turn.state)
        turn.state.skipped = [*turn.state.skipped, node.id]
        return None
    if not reply.strip():
        return "Type the AD site name, for example Branch."
    try:
        site = read_site(reply)
    except ValueProblem as problem:
        return str(problem)
    push_snapshot(turn.state)
    turn.state.said[node.asks[0]] = site
    return None
