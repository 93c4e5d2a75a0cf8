"""Every input is validated, and each kind of bad input gets its own re-prompt."""

from __future__ import annotations

import pytest

from checks.api import CheckResult
from dialogs.testing import FakeCheckRunner
from knowledge.reader.error_text import MAX_PASTE_BYTES
from tests.dialogs.harness import Chat, card_text
from tests.texts import pasted_text
from tests.world import HEALTHY, SEED_000, scenario_runner


async def _at(chat: Chat, node: str) -> None:
    """Answer the questions in order until `node` is the one asked."""
    await chat.say("hi")
    answers = [
        ("symptom", "1"),
        ("scope", "everyone"),
        ("pair", "alice@contoso.com can't see bjorn@contoso.com"),
        ("sites", "yes"),
    ]
    for step, answer in answers:
        if chat.awaiting() == node:
            return
        if chat.awaiting() != step:
            continue  # answered ahead by an earlier message ("cloud users": everyone in that direction)
        await chat.say(answer)
    assert chat.awaiting() == node


def reprompt(chat: Chat) -> str:
    """The reason the re-asked card gives first (its attention-coloured line)."""
    card = chat.last_card()
    notes = [e["text"] for e in card["body"] if e.get("color") == "Attention"]
    assert notes, f"no re-prompt reason on {card_text(card)}"
    return str(notes[0])


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (
            "alice@contoso can't see bob@contoso.com",
            "The part after @ in 'alice@contoso' is not a domain name",
        ),
        (
            "älice@contoso.com can't see bob@contoso.com",
            "The part before @ in 'älice@contoso.com' has characters",
        ),
        ("alice@contoso.com can't see alice@contoso.com", "Both addresses are alice@contoso.com"),
        (
            "ALICE@contoso.com can't see alice@Contoso.com",
            "the requester and the target must be two different users",
        ),
        ("alice@contoso.com", "I found one address (alice@contoso.com); I need both"),
        ("alice and bob", "I need two email addresses, for example"),
    ],
)
async def test_bad_pairs_are_re_asked_with_the_reason(typed: str, expected: str) -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at(chat, "pair")
    await chat.say(typed)
    assert expected in reprompt(chat)
    assert chat.awaiting() == "pair"
    assert "requester" not in chat.state["said"] and "target" not in chat.state["said"]


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            {"requester": "", "target": "bob@contoso.com"},
            "I need the requester's address and the target's address.",
        ),
        ({"requester": "alice", "target": "bob@contoso.com"}, "'alice' is not an email address"),
        ({"requester": "bob@contoso.com", "target": "Bob@Contoso.com"}, "Both addresses are"),
    ],
)
async def test_bad_pairs_from_the_card_inputs_are_re_asked(inputs: dict[str, str], expected: str) -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at(chat, "pair")
    await chat.press("Next", **inputs)
    assert expected in reprompt(chat)
    assert chat.awaiting() == "pair"


async def test_an_unknown_symptom_is_re_asked_with_the_buttons() -> None:
    chat = Chat()
    await chat.say("hi")
    await chat.say("the printer on floor 3 is jammed")
    assert "I could not match that to one of the symptoms" in reprompt(chat)
    assert chat.awaiting() == "symptom" and "symptom" not in chat.state["said"]
    # A symptom named vaguely (two fit equally) is not guessed either.
    await chat.say("free/busy is broken")
    assert "I could not match that" in reprompt(chat)


async def test_a_symptom_can_be_typed_or_picked_by_number() -> None:
    chat = Chat()
    await chat.say("hi")
    await chat.say("5")
    assert chat.state["said"]["symptom"] == "owa-ecp-cross-site-proxy"
    await chat.say("back")
    await chat.say("on-prem users can't see cloud users' free/busy")
    assert chat.state["said"]["symptom"] == "freebusy-onprem-to-cloud"


async def test_a_digit_that_is_not_a_number_is_re_asked_not_a_crash() -> None:
    chat = Chat()
    await chat.say("hi")
    await chat.say("²")  # str.isdigit() says yes, int() says no
    assert "I could not match that to one of the symptoms" in reprompt(chat)
    assert chat.awaiting() == "symptom"


async def test_an_unclear_scope_is_re_asked() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at(chat, "scope")
    await chat.say("purple")
    assert "I could not tell who is affected from that" in reprompt(chat)
    assert chat.awaiting() == "scope"


async def test_a_paste_over_one_mebibyte_is_refused_and_the_state_kept() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at(chat, "error-text")
    said = dict(chat.state["said"])
    await chat.say("x" * (MAX_PASTE_BYTES + 10))
    assert "That paste is" in reprompt(chat) and "1 MiB" in reprompt(chat)
    assert chat.awaiting() == "error-text"
    assert chat.state["said"] == said and chat.state["pasted"] == {}


async def test_a_huge_first_message_is_refused_too() -> None:
    chat = Chat()
    await chat.say("y" * (MAX_PASTE_BYTES + 1))
    assert "That paste is" in chat.shown() and "1 MiB" in chat.shown()
    assert chat.awaiting() == "symptom" and chat.state["said"] == {}


async def test_a_short_sentence_is_not_taken_as_the_error_text() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at(chat, "error-text")
    await chat.say("it just does not work")
    assert "I did not find an error message in that" in reprompt(chat)
    assert chat.awaiting() == "error-text"


def _no_lookup() -> FakeCheckRunner:
    """The organisation cannot be reached: the AD sites are asked, not looked up."""
    return FakeCheckRunner([CheckResult("topology", "error", "Could not reach Exchange PowerShell.")])


async def test_a_bad_site_name_is_re_asked() -> None:
    chat = Chat(runner=_no_lookup())
    await _at(chat, "sites")
    assert "I could not look the AD sites up" in reprompt(chat)
    await chat.say("Branch; rm -rf /")
    assert "is not an AD site name" in reprompt(chat)
    await chat.say("it's in the HQ-2 site")
    assert chat.state["said"]["target.site"] == "HQ-2"


async def test_a_question_that_cannot_be_skipped_says_so() -> None:
    chat = Chat()
    await chat.say("hi")
    await chat.submit(action="skip", node="symptom")
    assert "This question cannot be skipped" in reprompt(chat)


async def test_an_empty_message_is_re_asked() -> None:
    chat = Chat(runner=scenario_runner(HEALTHY))
    await _at(chat, "scope")
    await chat.say("   ")
    assert "I did not get any text" in reprompt(chat)


async def test_the_error_text_box_on_the_card_is_read_like_a_message() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at(chat, "error-text")
    await chat.press("Read it", text="  ")
    assert "Paste the error into the box" in reprompt(chat)
    await chat.press("Read it", text=pasted_text("seed-000-event-4002.txt"))
    assert chat.state["said"]["pasted"] is True and chat.state["phase"] == "done"


async def test_the_site_box_and_the_skip_button_on_the_sites_card() -> None:
    chat = Chat(runner=_no_lookup())
    await _at(chat, "sites")
    await chat.press("Next", site="!!")
    assert "is not an AD site name" in reprompt(chat)
    await chat.press("Next", site="Branch-2")
    assert chat.state["said"]["target.site"] == "Branch-2"
    await chat.say("back")
    await chat.press("Skip")
    assert "sites" in chat.state["skipped"] and chat.awaiting() == "error-text"
