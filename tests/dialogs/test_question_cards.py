"""Answered question cards close in place: the question, what answered it, and no buttons left to press."""

from __future__ import annotations

from dialogs.api import Outbound
from tests.dialogs.harness import Chat, actions_of, card_text
from tests.world import SEED_000, SEED_001, scenario_runner


def _question(sent: list[Outbound]) -> Outbound:
    """The question card asked in a turn (the one with buttons; a closed one has none)."""
    [question] = [
        o
        for o in sent
        if o.kind == "card" and o.card_key.startswith("question-") and actions_of(o.card or {})
    ]
    return question


def _update_of(sent: list[Outbound], key: str) -> Outbound:
    [update] = [o for o in sent if o.card_key == key]
    return update


async def test_a_pressed_answer_updates_its_card_in_place_without_buttons() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    scope = _question(chat.recorder.sent)
    assert "Who is affected?" in card_text(scope.card or {}) and actions_of(scope.card or {})
    sent = await chat.press("Only one pair of users")
    closed = _update_of(sent, scope.card_key)
    assert actions_of(closed.card or {}) == []
    assert "You chose: Only one pair of users" in card_text(closed.card or {})
    assert "Who is affected?" in card_text(closed.card or {})
    # The next question is a new card, with a key of its own.
    assert _question(sent).card_key != scope.card_key


async def test_a_typed_answer_updates_the_card_too() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    sent = await chat.press("Cloud users cannot see on-premises free/busy")
    scope = _question(sent)
    assert "Who is affected?" in card_text(scope.card or {})
    sent = await chat.say("just this pair")
    closed = _update_of(sent, scope.card_key)
    assert "You chose: Only one pair of users" in card_text(closed.card or {})
    assert actions_of(closed.card or {}) == []


async def test_a_question_asked_again_closes_the_earlier_card() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Everyone in that direction")
    pair = _question(chat.recorder.sent)
    sent = await chat.say("what does that mean?")
    closed = _update_of(sent, pair.card_key)
    assert "Asked again below." in card_text(closed.card or {}) and actions_of(closed.card or {}) == []
    again = _question(sent)
    assert again.card_key != pair.card_key and actions_of(again.card or {})


async def test_a_skipped_question_says_so() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com, everyone")
    assert chat.awaiting() == "error-text"
    error = _question(chat.recorder.sent)
    sent = await chat.press("Skip")
    assert "You skipped this question." in card_text(_update_of(sent, error.card_key).card or {})
    assert chat.state["phase"] == "done" and chat.state["asked"] is None


async def test_restart_and_cancel_close_the_open_question() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    symptom = _question(chat.recorder.sent)
    sent = await chat.say("restart")
    assert "Started over" in card_text(_update_of(sent, symptom.card_key).card or {})
    again = _question(sent)
    sent = await chat.say("cancel")
    assert "Cancelled." in card_text(_update_of(sent, again.card_key).card or {})


async def test_what_was_tried_closes_its_card_with_the_answer_or_the_skip() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com, everyone")
    await chat.press("Skip")
    sent = await chat.press("Escalate")
    prompt = _question(sent)
    sent = await chat.say("Restarted IIS on EX02")
    closed = _update_of(sent, prompt.card_key)
    assert "Your answer: Restarted IIS on EX02" in card_text(closed.card or {})
    assert actions_of(closed.card or {}) == []
    chat.recorder.escalate_to = None
    await chat.say("restart")
    await chat.say("usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com, everyone")
    await chat.press("Skip")
    sent = await chat.press("Escalate")
    prompt = _question(sent)
    sent = await chat.press("Skip")
    assert "You skipped this question." in card_text(_update_of(sent, prompt.card_key).card or {})


async def test_a_typed_answer_that_says_something_else_is_shown_as_written() -> None:
    # "What is going wrong?" answered with the pair and the scope: the lookup then answers the symptom, so
    # the closed card shows what was written, not "Asked again below." (nothing was asked again).
    chat = Chat(runner=scenario_runner(SEED_001))
    await chat.say("hi")
    symptom = _question(chat.recorder.sent)
    assert "What is going wrong?" in card_text(symptom.card or {})
    secret = "password=Hunter2secret"
    sent = await chat.say(f"carol@contoso.com can't see erin@contoso.com, only her\n{secret}")
    closed = _update_of(sent, symptom.card_key)
    shown = card_text(closed.card or {})
    assert "You wrote: carol@contoso.com can't see erin@contoso.com, only her" in shown
    assert "Asked again below." not in shown and "Hunter2secret" not in shown
    assert actions_of(closed.card or {}) == []
    assert chat.awaiting() == "error-text"  # the lookup answered the symptom; the next question is new
