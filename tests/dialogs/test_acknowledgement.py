"""A message that answers later questions is acknowledged, never re-prompted as a failed answer; a greeting
mid-triage is greeted back with the current question."""

from __future__ import annotations

import io

import pytest

from checks.api import CheckResult
from dialogs.engine import TriageConversation
from dialogs.testing import FakeCheckRunner
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.dialogs.harness import Chat, card_text
from tests.world import SEED_000, scenario_runner
from triage.chat import ChatSession, chat

PAIR = "alice@contoso.com can't see bjorn@contoso.com"
NOTED = "Noted: alice@contoso.com can't see bjorn@contoso.com's free/busy."
NO_MATCH = "I could not match that"


async def test_a_first_message_with_only_the_pair_is_acknowledged() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(PAIR)
    assert NOTED in chat.texts()
    # The pair is looked up at once: where the mailboxes live answers the symptom, so scope is next.
    assert chat.awaiting() == "scope"
    assert chat.state["said"]["symptom"] == "freebusy-cloud-to-onprem"
    assert chat.state["said"]["target"] == "bjorn@contoso.com"
    assert NO_MATCH not in chat.shown()


async def test_the_pair_typed_at_the_symptom_question_is_acknowledged_not_re_prompted() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.say(PAIR)
    assert NOTED in chat.texts()
    assert NO_MATCH not in chat.shown()
    assert chat.awaiting() == "scope"
    assert not [e for e in chat.last_card()["body"] if e.get("color") == "Attention"]
    # The scope next; the pair, the symptom and the sites (looked up) are not asked.
    await chat.press("Everyone in that direction")
    assert chat.awaiting() == "error-text"


async def test_scope_and_pair_typed_at_the_symptom_question_are_both_acknowledged() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.say("two users: alice@contoso.com can't see bjorn@contoso.com")
    texts = chat.texts()
    assert "Noted: only one pair of users; " + NOTED.removeprefix("Noted: ") in texts


async def test_a_fact_already_known_is_not_acknowledged_twice() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(PAIR)
    await chat.say(PAIR)
    assert "Noted" not in chat.texts()
    assert "I could not tell who is affected" in chat.shown()


async def test_in_triage_chat_the_suggested_first_line_is_acknowledged() -> None:
    conversation = TriageConversation(load_knowledge(), scenario_runner(SEED_000), _publish, read_error_text)
    out = io.StringIO()
    await chat(ChatSession(conversation, out, user_name="Ada"), io.StringIO(PAIR + "\nquit\n"))
    shown = out.getvalue()
    assert f"bot: {NOTED}" in shown
    assert NO_MATCH not in shown


async def _publish(runbook: dict[str, object]) -> str:
    return "file:///tmp/runbook.html"


@pytest.mark.parametrize("greeting", ["hi", "hello", "hey there", "good morning", "Hello again!"])
async def test_a_greeting_mid_triage_greets_back_and_asks_the_question_again(greeting: str) -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    assert chat.awaiting() == "scope"
    said = dict(chat.state["said"])
    await chat.say(greeting)
    assert "Hi Ada!" in chat.texts()
    assert "could not" not in chat.shown()
    assert "Who is affected?" in card_text(chat.last_card())
    assert chat.awaiting() == "scope" and chat.state["said"] == said


async def test_a_greeting_at_the_sites_question_is_not_read_as_a_site() -> None:
    # The topology cannot be looked up: the sites are asked.
    chat = Chat(runner=FakeCheckRunner([CheckResult("topology", "error", "Could not reach Exchange.")]))
    await chat.say("cloud users can't see on-prem free/busy")
    await chat.say(PAIR)
    assert chat.awaiting() == "sites"
    await chat.say("hey")
    assert "target.site" not in chat.state["said"]
    assert "Hi Ada!" in chat.texts()
    assert chat.awaiting() == "sites"


async def test_a_greeting_before_any_answer_is_the_greeting_card() -> None:
    chat = Chat()
    await chat.say("")
    await chat.say("good morning")
    assert "Hi Ada! I triage Exchange free/busy" in chat.texts()
    assert chat.awaiting() == "symptom"
    assert "could not" not in chat.shown()


async def test_a_greeting_after_the_result_says_the_triage_is_finished() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("cloud users can't see on-prem free/busy")
    await chat.say("everyone")
    await chat.say(PAIR)
    await chat.say("yes")
    await chat.say("skip")
    assert chat.state["phase"] == "done"
    await chat.say("hello")
    assert "Hi Ada! This triage is finished" in chat.texts()
    assert chat.state["phase"] == "done"


async def test_a_first_message_that_says_what_is_wrong_is_not_told_what_to_say() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com, everyone")
    assert "Hi Ada! Let me look into that." in chat.texts()
    assert "Tell me what is going wrong" not in chat.texts()
