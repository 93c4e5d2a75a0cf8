"""help, back, restart, cancel and status at several steps; stale buttons; escalate too early."""

from __future__ import annotations

from tests.dialogs.harness import Chat, card_text
from tests.texts import pasted_text
from tests.world import SEED_000, scenario_runner


async def _at_pair(chat: Chat) -> None:
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Everyone in that direction")
    assert chat.awaiting() == "pair"


async def _at_result(chat: Chat) -> None:
    await _at_pair(chat)
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    await chat.say("yes")
    await chat.say("skip")
    assert chat.state["phase"] == "done"


async def test_help_explains_the_current_question_and_keeps_it() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.say("help")
    assert "Pick the closest match" in chat.texts()
    assert "back: undo your last answer" in chat.texts()
    assert chat.awaiting() == "symptom"
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Everyone in that direction")
    before = chat.state
    await chat.say("Help!")
    assert "The requester is the user who opens the scheduling assistant" in chat.texts()
    assert chat.state["said"] == before["said"] and chat.awaiting() == "pair"


async def test_help_on_an_optional_question_says_it_can_be_skipped() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    await chat.say("yes")
    await chat.say("?")
    assert "You can skip this one" in chat.texts()


async def test_back_undoes_the_last_answer_at_each_step() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    await chat.say("back")
    assert chat.awaiting() == "scope"
    assert "scope" not in chat.state["said"]
    assert "Going back" in card_text(chat.last_card())

    await chat.press("Everyone in that direction")
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    assert chat.awaiting() == "error-text"  # the sites were looked up, not asked
    await chat.say("go back")
    assert chat.awaiting() == "pair"
    assert "target" not in chat.state["said"]


async def test_back_after_the_result_reopens_the_last_question_and_clears_the_result() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_result(chat)
    await chat.say("back")
    assert chat.awaiting() == "error-text"
    assert chat.state["phase"] == "asking"
    assert chat.state["results"] is None and chat.state["conclusion"] is None
    # Answering again runs the checks again.
    await chat.say(pasted_text("seed-000-event-4002.txt"))
    assert chat.state["phase"] == "done"


async def test_back_at_the_start_says_there_is_nothing_to_undo() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    await chat.say("back")
    assert "There is nothing to go back to." in chat.texts()
    assert chat.awaiting() == "symptom"


async def test_restart_mid_triage_starts_a_fresh_one() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    old = chat.state["id"]
    await chat.say("start over")
    assert "Starting over." in chat.texts()
    assert chat.state["id"] != old and chat.state["said"] == {} and chat.state["history"] == []
    assert chat.awaiting() == "symptom"


async def test_cancel_ends_the_triage_and_the_next_message_starts_again() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    await chat.say("cancel")
    assert "Cancelled." in chat.texts()
    assert chat.state["phase"] == "cancelled" and chat.state["said"] == {}
    await chat.say("hello again")
    assert "Hi Ada!" in chat.texts()
    assert chat.awaiting() == "symptom"


async def test_status_shows_what_is_known_at_each_step() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    await chat.say("status")
    status = card_text(chat.last_card())
    assert chat.state["id"] in status
    assert "Cloud users cannot see on-premises free/busy" in status
    assert "Who cannot see whose free/busy?" in status
    assert chat.awaiting() == "pair"

    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    await chat.say("yes")
    await chat.say("skip")
    await chat.submit(action="status")
    status = card_text(chat.last_card())
    assert "✅ ok · Mailbox locations and AD sites" in status
    assert "❌ fail · Federation certificate on every server" in status
    assert "Likely cause: The federation certificate is missing on the servers of a site" in status


async def test_escalate_before_the_checks_says_when_it_can() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    await chat.say("escalate")
    assert "once the checks have run" in chat.texts()
    assert chat.recorder.sent[0].kind == "text" and all(o.kind != "escalation" for o in chat.recorder.sent)
    assert chat.awaiting() == "pair"


async def test_a_button_from_an_earlier_question_is_not_taken_as_this_answer() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    await chat.submit(action="answer", node="symptom", value="freebusy-cross-site")
    assert "That button belongs to an earlier question" in card_text(chat.last_card())
    assert chat.state["said"]["symptom"] == "freebusy-cloud-to-onprem"
    assert chat.awaiting() == "pair"


async def test_action_execute_verbs_work_like_submits() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at_pair(chat)
    await chat.submit(verb="status")
    assert "Status" in card_text(chat.last_card())


async def test_added_to_a_team_explains_the_escalation_channel() -> None:
    from dialogs.api import Inbound

    chat = Chat()
    await chat.turn(Inbound("added_to_team", "team-conv", conversation_type="channel"))
    assert "set escalation channel" in chat.texts()
    assert chat.state["phase"] == "new"
