"""The triage conversation: one inbound at a time, over a typed state stored as plain JSON.

Commands (help, back, restart, cancel, status, escalate) work at any point, typed or from a button. An
unexpected error apologises with a correlation id, is logged with it, and keeps the state as it was when
the error struck (answers already given are not lost).
"""

from __future__ import annotations

import logging
import uuid

from checks.api import CheckRunner
from dialogs.api import Emit, Inbound, Outbound, State
from dialogs.asking import absorb, advance
from dialogs.asking import answer as answer_question
from dialogs.bounds import bounded
from dialogs.escalation import (
    NO_CHANNEL,
    NO_CHANNEL_YET,
    TRIED_QUESTION,
    escalation_card,
    escalation_key,
    tried_prompt_card,
)
from dialogs.findings import find
from dialogs.fix_card import FIX_UPDATE
from dialogs.fix_flow import take_fix_update
from dialogs.learn import learn
from dialogs.paste import ReadText
from dialogs.paste_back import OUTPUT_QUESTION, command_output_in, output_prompt_card, take_output
from dialogs.questions import close_question, send_question
from dialogs.redact import redact
from dialogs.remedy_list import PASTE_OUTPUT, READ_OUTPUT
from dialogs.running import show_result
from dialogs.state import (
    Awaiting,
    StateError,
    TriageState,
    User,
    back,
    cancelled,
    dump,
    escalated,
    load,
    new_state,
    restarted,
)
from dialogs.status import help_text, status_card
from dialogs.turn import PublishRunbook, Services, Turn
from dialogs.understand import command_of, is_greeting, is_skip
from dialogs.welcome import GROUP_WELCOME, welcome_card
from knowledge.loader import KnowledgeBase

__all__ = ["TriageConversation"]

log = logging.getLogger(__name__)

_COMMANDS = ("help", "back", "restart", "cancel", "status", "escalate")
_GREETING = (
    "Hi{name}! I triage Exchange free/busy and cross-site proxy problems. Tell me what is going wrong, paste "
    "an error, or pick below."
)
_LOOKING = "Hi{name}! Let me look into that."
_FINISHED = (
    "This triage is finished: press Escalate or Start over on the result, or tell me about another problem."
)
STILL_NO_CHANNEL = (
    "There is still no escalation channel, so I cannot post this yet. What you told me was tried is kept: press "
    "Escalate again once an admin has set one (mention me in a team channel with: set escalation channel)."
)
KEPT_FOR_LATER = (
    "Kept. There is no escalation channel yet: press Escalate again once an admin has set one, and I post this "
    "triage with what you told me, without asking again."
)
_TEAM_WELCOME = (
    "Thanks for adding me. Message me in a personal chat to triage a free/busy or proxy problem. To have "
    "escalations posted in a channel, mention me there with: set escalation channel"
)


class TriageConversation:
    """The `dialogs.api.Conversation` the host talks to."""

    def __init__(
        self,
        kb: KnowledgeBase,
        runner: CheckRunner,
        publish_runbook: PublishRunbook,
        read_text: ReadText,
        *,
        fixable: frozenset[str] = frozenset(),
    ) -> None:
        self.services = Services(
            kb=kb, runner=runner, publish_runbook=publish_runbook, read_text=read_text, fixable=fixable
        )

    async def handle(self, state: State, inbound: Inbound, emit: Emit) -> State:
        inbound = bounded(inbound)  # every free-text input collapsed and capped before anything reads it
        try:
            working = load(state)
        except StateError:
            log.warning("discarding a stored state this version cannot read (version %r)", state.get("v"))
            working = new_state()
        turn = Turn(self.services, working, inbound, emit)
        try:
            await _dispatch(turn)
            return dump(turn.state)
        except Exception:
            return await _apologise(turn, state)


async def _apologise(turn: Turn, stored: State) -> State:
    reference = uuid.uuid4().hex[:8]
    log.exception("unexpected error [%s] in triage %s", reference, turn.state.id)
    kept: TriageState
    try:
        kept = load(dump(turn.state))
    except (TypeError, ValueError):
        kept = load(stored) if stored else new_state()
    kept.last_error = reference
    try:
        await turn.emit(
            Outbound(
                kind="text",
                text=(
                    f"Sorry, something went wrong on my side (reference {reference}). Your answers so far are "
                    "kept: send your last message again, or say status to see where we are."
                ),
            )
        )
    except Exception:
        log.exception("could not send the apology for [%s]", reference)
    return dump(kept)


async def _dispatch(turn: Turn) -> None:
    inbound = turn.inbound
    if inbound.kind == "added_to_team":
        await turn.say(_TEAM_WELCOME)
        return
    if inbound.kind == "installed":
        if inbound.conversation_type == "personal":
            await turn.send(welcome_card())
        else:
            await turn.say(GROUP_WELCOME)
        return
    if inbound.kind == "mention_in_channel":
        await turn.say("I triage in personal chats: message me directly. " + _TEAM_WELCOME.split(". ", 1)[1])
        return
    if turn.action == FIX_UPDATE:  # the host reporting a fix asked for from the result card
        await take_fix_update(turn)
        return
    turn.state.user = User(inbound.user_id, inbound.user_name)
    command = (
        turn.action if turn.action in _COMMANDS else ("" if turn.action else command_of(inbound.text) or "")
    )
    if command:
        await _COMMAND_HANDLERS[command](turn)
        return
    phase = turn.state.phase
    if not turn.action and phase in ("asking", "done") and is_greeting(inbound.text):
        await _greeted(turn)
        return
    if phase in ("new", "cancelled"):
        await _start(turn, inbound.text)
    elif phase == "running":
        await turn.say("I was interrupted while running the checks; running them again now.")
        await advance(turn)
    elif phase == "done":
        await _after_result(turn)
    else:
        await answer_question(turn)


async def _start(turn: Turn, text: str, greet: bool = True) -> None:
    await close_question(turn)
    turn.state = restarted(turn.state)
    if greet and (not text.strip() or is_greeting(text)):
        await turn.say(_GREETING.format(name=_first_name(turn)))
    elif greet:
        # A first message that already says what is wrong: greeted, not told what it just did.
        await turn.say(_LOOKING.format(name=_first_name(turn)))
    problem = await absorb(turn, None, text) if text.strip() else ""
    await advance(turn, problem)


def _first_name(turn: Turn) -> str:
    name = turn.state.user.name
    return f" {name.split()[0]}" if name.strip() else ""


async def _greeted(turn: Turn) -> None:
    """A greeting in the middle of a triage: greet back, and show where we are (nothing is answered)."""
    if not (turn.state.said or turn.state.pasted):
        await _start(turn, "")  # nothing told yet: the greeting, as at the start
        return
    hello = f"Hi{_first_name(turn)}!"
    if turn.state.phase == "done":
        await turn.say(f"{hello} {_FINISHED}")
        return
    await turn.say(f"{hello} We are in the middle of a triage; here is the question I asked.")
    await advance(turn)


async def _after_result(turn: Turn) -> None:
    awaiting = turn.state.awaiting
    if (awaiting is not None and awaiting.step == "tried") or turn.action == "escalate_send":
        await _send_escalation(turn)
        return
    if turn.action == PASTE_OUTPUT:
        await send_question(turn, output_prompt_card(), node="output", prompt=OUTPUT_QUESTION, facts=[])
        return
    if turn.action == READ_OUTPUT or (not turn.action and command_output_in(turn.inbound.text)):
        pasted = str(turn.inbound.value.get("output") or "") if turn.action else turn.inbound.text
        if pasted.strip():
            await close_question(turn, "You pasted the command output.")
        await take_output(turn, pasted)
        return
    if turn.action or not learn(turn, None, turn.inbound.text).anything:
        await turn.say(_FINISHED)
        return
    # A new problem described after a result starts a new triage with it.
    await turn.say("Starting a new triage.")
    await _start(turn, turn.inbound.text, greet=False)


async def _help(turn: Turn) -> None:
    await turn.say(help_text(turn))
    if turn.state.phase == "asking" and turn.state.awaiting:
        await advance(turn)  # the question again, right under its explanation


async def _status(turn: Turn) -> None:
    await turn.send(status_card(turn))


async def _back(turn: Turn) -> None:
    if not back(turn.state):
        await turn.say("There is nothing to go back to.")
        if turn.state.phase in ("new", "cancelled"):
            return
        await advance(turn)
        return
    await advance(turn, "Going back: here is that question again.")


async def _restart(turn: Turn) -> None:
    await close_question(turn, "Started over: this question no longer applies.")
    await turn.say("Starting over.")
    await _start(turn, "", greet=False)


async def _cancel(turn: Turn) -> None:
    await close_question(turn, "Cancelled.")
    turn.state = cancelled(turn.state)
    await turn.say(
        "Cancelled. Nothing was changed. Send me a message whenever you want to start a new triage."
    )


async def _escalate(turn: Turn) -> None:
    if turn.state.phase != "done":
        await turn.say(
            "I can escalate once the checks have run: answer the question above, and Escalate is on the result."
        )
        return
    kept = turn.state.escalation
    if kept is not None and kept.where:
        # Escalated already: its one channel post is updated with what is known now, nothing asked again.
        await _post_escalation(turn, kept.tried)
        return
    channel = await turn.emit(Outbound(kind="escalation_target"))
    if kept is not None and kept.tried:
        if channel:
            # What was typed before the channel was set is kept: post it now, without asking again.
            await _post_escalation(turn, kept.tried)
        else:
            await turn.say(STILL_NO_CHANNEL)
        return
    if not channel:
        # Said before anything is asked: the answer to the next question is kept, not lost.
        await turn.say(NO_CHANNEL_YET)
    turn.state.awaiting = Awaiting(None, "tried")
    prompt = tried_prompt_card(channel=bool(channel))
    await send_question(turn, prompt, node="tried", prompt=TRIED_QUESTION, facts=["tried"])


async def _send_escalation(turn: Turn) -> None:
    value = turn.inbound.value
    if turn.action:
        tried = "" if value.get("skip") else str(value.get("tried") or "")
    else:
        tried = "" if is_skip(turn.inbound.text) else turn.inbound.text
    tried = redact(tried.strip())[:2000]
    if tried:
        turn.state.said["tried"] = [tried]
    else:
        turn.state.said.pop("tried", None)  # nothing tried this time
    await close_question(turn, "You skipped this question.")
    await _post_escalation(turn, tried)


async def _post_escalation(turn: Turn, tried: str) -> None:
    state = turn.state
    if tried:
        state.said["tried"] = [tried]
    again = state.escalation is not None and bool(state.escalation.where)
    runbook_url = state.conclusion.runbook_url if state.conclusion else ""
    card = escalation_card(turn.kb, state, find(turn.kb, state), tried, runbook_url)
    where = await turn.emit(Outbound(kind="escalation", card=card, card_key=escalation_key(state)))
    escalated(state, where, tried)
    if where and again:
        await turn.say(f"I updated this triage's post in {where} with what I know now (no new thread).")
        await show_result(turn, escalated_to=where)
    elif where:
        await turn.say(f"I posted this triage to {where}, with everything I found and what was tried.")
        await show_result(turn, escalated_to=where)
    elif tried:
        await turn.say(KEPT_FOR_LATER)
    else:
        await turn.say(NO_CHANNEL)


_COMMAND_HANDLERS = {
    "help": _help,
    "back": _back,
    "restart": _restart,
    "cancel": _cancel,
    "status": _status,
    "escalate": _escalate,
}
