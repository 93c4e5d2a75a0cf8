"""With no confident cause the chat says what it recognised, what that means and which checks would tell more;
a paste it recognises nothing in is answered with the output to paste and the exact command."""

from __future__ import annotations

from tests.dialogs.harness import Chat, card_text
from tests.world import HEALTHY, scenario_runner


async def _to_the_error_question(chat: Chat) -> None:
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Only one pair of users")
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    await chat.say("yes")


async def test_a_recognised_event_without_a_cause_is_explained_on_the_result_card() -> None:
    chat = Chat(runner=scenario_runner(HEALTHY))
    await _to_the_error_question(chat)
    await chat.say("Log Name: Application\nSource: MSExchange Availability\nEvent ID: 4002\nLevel: Error\n")
    assert "MSExchange Availability event 4002" in chat.texts()
    shown = card_text(chat.last_card())
    assert "I could not find a cause I am confident about." in shown
    assert "What I recognised" in shown
    assert "MSExchange Availability event 4002: a proxied free/busy request failed" in shown
    assert "Escalate" in shown


async def test_a_paste_with_nothing_recognised_is_answered_with_the_command_to_run() -> None:
    chat = Chat(runner=scenario_runner(HEALTHY))
    await _to_the_error_question(chat)
    await chat.say("It just says something went wrong.\nThe users are unhappy.\nPlease help.")
    said = chat.texts()
    assert "nothing in it is one I know" not in said
    assert "Nothing in what you pasted is an event, error code, status or command output I recognise." in said
    assert (
        "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='MSExchange Availability'"
        in said
    )


async def test_the_escalation_summary_names_what_was_recognised() -> None:
    chat = Chat(runner=scenario_runner(HEALTHY))
    await _to_the_error_question(chat)
    await chat.say("Log Name: Application\nSource: MSExchange Availability\nEvent ID: 4002\nLevel: Error\n")
    await chat.press("Escalate")
    await chat.press("Skip")
    posted = [o for o in chat.recorder.sent if o.kind == "escalation"]
    assert len(posted) == 1
    assert "MSExchange Availability event 4002: a proxied free/busy request failed" in card_text(
        posted[0].card or {}
    )
