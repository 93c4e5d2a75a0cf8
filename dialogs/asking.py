"""Walking the tree: ask the next open question, take its answer, and move on (to the checks at the end).

The order of the questions is the tree's (knowledge/data/tree.yaml): this module only knows the node kinds.
"""

from __future__ import annotations

from typing import Any

from dialogs.cards import question_card
from dialogs.explain import explanation
from dialogs.learn import Learned, learn, noted
from dialogs.lookup_first import look_up_pair
from dialogs.paste import describe
from dialogs.people import PICK, answer_pick, ask_pending, read_plainly
from dialogs.questions import close_as_written, close_question, send_question
from dialogs.reading import asks_explanation, is_correction
from dialogs.redact import redact_output
from dialogs.running import conclude, run_checks
from dialogs.sites import answer_sites, ask_sites
from dialogs.state import asking, push_snapshot
from dialogs.turn import Turn
from dialogs.understand import is_skip
from knowledge.model import TreeNode
from knowledge.unknowns import evidence_request
from knowledge.validators import ValueProblem, check_smtp, normalise_smtp

__all__ = ["absorb", "advance", "answer", "ask"]

_QUESTION_KINDS = ("choice", "pair", "sites", "text")


async def ask(turn: Turn, node: TreeNode, note: str = "") -> None:
    asking(turn.state)
    if node.kind == "sites":
        await ask_sites(turn, node, note)
        return
    turn.awaiting(node.id)
    await send_question(
        turn, question_card(turn.kb, node, note), node=node.id, prompt=node.prompt, facts=node.asks
    )


async def advance(turn: Turn, note: str = "") -> None:
    """Ask the next open question; when none is left, run the checks and show the result. A person still to
    pick comes first; both mailboxes known are looked up before any question the lookup answers."""
    if await ask_pending(turn, note):
        return
    await look_up_pair(turn)
    node = turn.next_node()
    if node.kind in _QUESTION_KINDS:
        await ask(turn, node, note)
        return
    await close_question(turn)
    if note:
        await turn.say(note)
    if node.kind == "checks":
        await run_checks(turn)
    await conclude(turn)


def _apply(turn: Turn, learned: Learned) -> None:
    state = turn.state
    push_snapshot(state)
    state.said.update(learned.answer)
    for fact, value in learned.ahead.items():
        state.said.setdefault(fact, value)
    if learned.paste.facts:
        state.pasted = {**state.pasted, **learned.paste.facts}
    if learned.paste.excerpt:
        state.paste_excerpt = learned.paste.excerpt
    if learned.command_output:
        state.command_output = [*state.command_output, *redact_output(learned.command_output)]


async def absorb(turn: Turn, node: TreeNode | None, text: str) -> str:
    """Learn from a typed message; returns the re-prompt reason for `node` ("" when it was answered)."""
    learned = learn(turn, node, text)
    prior = set(turn.state.said)
    problem = await _absorb(turn, learned)
    before = {k: turn.state.said.get(k) for k in ("symptom", "scope", "requester", "target")}
    fresh = set(turn.state.said) - prior
    # A pair typed with a bad address is re-asked whole, as the validator says, not half taken.
    typed_pair = node is not None and node.kind == "pair" and bool(problem) and "@" in text
    plainly = await read_plainly(
        turn, node, text, is_paste=learned.paste.is_paste, fresh=fresh, people=not typed_pair
    )
    if plainly:
        await turn.say(plainly)
    answered = node is not None and all(turn.state.said.get(f) for f in node.asks)
    moved = any(turn.state.said.get(k) != v for k, v in before.items())
    # A choice the message did not answer may still have been answered by what it said (the people, whose
    # lookup gives the symptom); a pair, a site or an error text keeps its own reason.
    if answered or (moved and (node is None or node.kind == "choice")):
        return ""
    return problem


async def _absorb(turn: Turn, learned: Learned) -> str:
    said = turn.state.said
    news = {} if learned.paste.is_paste else {k: v for k, v in learned.ahead.items() if k not in said}
    if learned.anything:
        _apply(turn, learned)
        acknowledged = noted(turn, news)
        if acknowledged:
            # Facts for later questions are acknowledged, and never mistaken for a failed answer to this one.
            await turn.say(acknowledged)
            return ""
        if learned.paste.is_paste:
            found = describe(turn.kb, learned.paste.facts)
            await turn.say(f"From the error I read: {found}." if found else _ask_for_evidence(turn))
    return learned.problem


def _ask_for_evidence(turn: Turn) -> str:
    """Nothing recognised: say so, and which output to paste with the exact command."""
    ask = evidence_request(turn.facts())
    return "\n\n".join([ask.text, *(f"`{command}`" for command in ask.commands)])


def _pair_from_inputs(node: TreeNode, value: dict[str, Any]) -> tuple[dict[str, str], str]:
    fields = [name for name in ("requester", "target") if name in node.asks]
    given: dict[str, str] = {name: str(value.get(name) or "").strip() for name in fields}
    if not all(given.values()):
        return {}, "I need " + " and ".join(f"the {name}'s address" for name in fields) + "."
    try:
        checked: dict[str, str] = {name: check_smtp(address) for name, address in given.items()}
    except ValueProblem as problem:
        return {}, str(problem)
    if len(checked) == 2 and normalise_smtp(checked["requester"]) == normalise_smtp(checked["target"]):
        return (
            {},
            f"Both addresses are {checked['target']}: the requester and the target must be two different users.",
        )
    return checked, ""


async def _submitted(turn: Turn, node: TreeNode) -> str:
    """A card's answer to `node`; returns the re-prompt reason ("" when answered)."""
    value = turn.inbound.value
    if node.kind == "choice":
        choice = str(value.get("value") or "")
        allowed = list(turn.kb.symptoms) if node.options == "symptoms" else [o.value for o in node.options]
        if choice not in allowed:
            return "That choice is not one I offered; pick one of the buttons."
        push_snapshot(turn.state)
        turn.state.said[node.asks[0]] = choice
        return ""
    if node.kind == "pair":
        answer, problem = _pair_from_inputs(node, value)
        if answer:
            push_snapshot(turn.state)
            turn.state.said.update(answer)
        return problem
    if node.kind == "sites":
        reason = await answer_sites(turn, node, str(value.get("site") or ""), str(value.get("value") or ""))
        return reason or ""
    return (
        await absorb(turn, node, str(value.get("text") or ""))
        if str(value.get("text") or "").strip()
        else ("Paste the error into the box (or a message), or press Skip.")
    )


async def _picked(turn: Turn, text: str) -> None:
    """The answer to a pick-list of people (a button or typed), or an explanation asked of it."""
    if not turn.action and asks_explanation(text):
        await turn.say(explanation(PICK))
        await advance(turn)
        return
    choice = str(turn.inbound.value.get("value") or "") if turn.action == "pick" else None
    if turn.action and turn.action != "pick":
        await advance(turn, "That button belongs to an earlier question; here is the current one.")
        return
    problem = await answer_pick(turn, choice, "" if turn.action else text)
    if not problem:
        await close_as_written(turn)  # as answered, before the lookup can move what was said
    if problem.startswith("Then give me"):
        turn.awaiting(None)
    await advance(turn, problem)


async def _skip(turn: Turn, node: TreeNode) -> str:
    if not node.optional:
        return "This question cannot be skipped: I need it to choose the checks."
    push_snapshot(turn.state)
    if node.kind == "text":
        turn.state.said["pasted"] = False
    else:
        turn.state.skipped = [*turn.state.skipped, node.id]
    return ""


async def answer(turn: Turn) -> None:
    """Take the inbound as the answer to the question awaiting one, then move on or re-prompt."""
    awaiting = turn.state.awaiting
    text = turn.inbound.text
    if awaiting is not None and awaiting.node == PICK:
        await _picked(turn, text)
        return
    node = turn.node(awaiting.node or "") if awaiting else None
    if node is None:
        await advance(turn)
        return
    if not turn.action and asks_explanation(text):
        await turn.say(explanation(node.id))
        await advance(turn)
        return
    if not turn.action and is_correction(text) and node.kind != "text":
        await advance(turn, await absorb(turn, None, text))
        return
    text = turn.inbound.text
    if turn.action:
        if turn.inbound.value.get("node") != node.id:
            await advance(turn, "That button belongs to an earlier question; here is the current one.")
            return
        problem = await (_skip(turn, node) if turn.action == "skip" else _submitted(turn, node))
    elif not text.strip():
        problem = "I did not get any text. " + node.prompt
    elif node.kind == "sites":
        # Before the generic skip words: "no" here means the sites shown are wrong.
        problem = await answer_sites(turn, node, text) or ""
    elif node.optional and is_skip(text):
        problem = await _skip(turn, node)
    else:
        problem = await absorb(turn, node, text)
    if not problem:
        await close_as_written(turn)  # as answered, before the lookup can move what was said
    await advance(turn, problem)
