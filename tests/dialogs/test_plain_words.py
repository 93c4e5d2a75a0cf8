"""The first-line helpdesk's conversation: plain words, people by name, the lookup before questions,
corrections, explanations on request and a symptom the lookup contradicts."""

from __future__ import annotations

from checks.api import CheckRequest, ProgressEvent
from tests.dialogs.harness import Chat, actions_of, card_text
from tests.texts import pasted_text
from tests.world import SEED_000, SEED_001, LookupRunner, mailbox

# A second Al in Exchange Online, so a name matches two people.
ALAN = mailbox(
    "alan@contoso.com",
    display_name="Alan Moore",
    location="online",
    remote_routing_address="alan@contoso.mail.onmicrosoft.com",
)


def _questions(chat: Chat) -> int:
    """Question cards shown so far (progress and result cards are not questions)."""
    return sum(
        1
        for o in chat.history
        if o.kind == "card" and o.card is not None and not o.card_key and o.card.get("actions")
    )


def _runner(seed: str = "000") -> LookupRunner:
    return LookupRunner(SEED_000 if seed == "000" else SEED_001, ALAN)


async def _skip_to_result(chat: Chat) -> None:
    for _ in range(6):
        if chat.state["phase"] == "done":
            return
        node = chat.awaiting()
        if node == "scope":
            await chat.press("Everyone in that direction")
        elif node == "error-text":
            await chat.press("Skip")
        else:
            raise AssertionError(f"unexpected question {node}: {card_text(chat.last_card())}")


async def test_names_in_plain_words_are_looked_up_and_nothing_the_lookup_answers_is_asked() -> None:
    chat = Chat(runner=_runner())
    await chat.say("Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office")
    said = chat.state["said"]
    assert said["requester"] == "alice@contoso.com"
    assert said["target"] == "bjorn@contoso.com"
    assert said["symptom"] == "freebusy-cloud-to-onprem"
    assert said["target.site"] == "Branch"
    assert (
        "I looked them up: alice@contoso.com is in Exchange Online; bjorn@contoso.com is on-premises, on EX03 in site Branch."
        in chat.texts()
    )
    assert "could not match" not in chat.shown()
    assert chat.awaiting() == "scope"
    await _skip_to_result(chat)
    assert "Likely cause: The federation certificate is missing" in card_text(chat.last_card())
    assert _questions(chat) <= 3


async def test_lower_case_names_resolve_through_the_directory_and_give_the_direction() -> None:
    chat = Chat(runner=_runner())
    await chat.say("Carol can't see Alice")
    said = chat.state["said"]
    assert (said["requester"], said["target"]) == ("carol@contoso.com", "alice@contoso.com")
    # Carol on-premises, Alice in Exchange Online: the lookup, not a question, gives the symptom.
    assert said["symptom"] == "freebusy-onprem-to-cloud"
    assert chat.awaiting() == "scope"


async def test_a_mistyped_address_is_offered_back_never_dropped() -> None:
    chat = Chat(runner=_runner())
    await chat.say("carol@contso.com can't see erin@contoso.com")
    assert chat.awaiting() == "people"
    assert "I could not find carol@contso.com. Did you mean carol@contoso.com?" in card_text(chat.last_card())
    assert "requester" not in chat.state["said"]
    await chat.press("Yes, carol@contoso.com")
    said = chat.state["said"]
    assert (said["requester"], said["target"]) == ("carol@contoso.com", "erin@contoso.com")
    assert said["symptom"] == "freebusy-onprem-to-cloud"


async def test_several_matches_give_a_pick_list_and_a_typed_number_picks() -> None:
    chat = Chat(runner=_runner())
    await chat.say("Al can't see Bjorn")
    card = card_text(chat.last_card())
    assert "Several people match Al. Which one is who cannot see?" in card
    titles = [a["title"] for a in actions_of(chat.last_card())]
    assert titles[:2] == [
        "Alice Martin (alice@contoso.com), Exchange Online",
        "Alan Moore (alan@contoso.com), Exchange Online",
    ]
    assert "None of these" in titles
    await chat.say("2")
    assert chat.state["said"]["requester"] == "alan@contoso.com"
    assert chat.state["said"]["target"] == "bjorn@contoso.com"


async def test_a_name_nobody_has_is_said_and_its_address_asked_for() -> None:
    chat = Chat(runner=_runner())
    await chat.say("Zed can't see Alice's calendar")
    assert "I found nobody called Zed in the directory." in chat.texts()
    assert chat.state["said"]["target"] == "alice@contoso.com"
    assert "requester" not in chat.state["said"]
    assert chat.awaiting() in ("symptom", "pair")


async def test_with_no_directory_addresses_are_taken_as_typed_and_names_asked_for() -> None:
    chat = Chat(runner=LookupRunner(SEED_000, directory=False))
    await chat.say("Carol can't see alice@contoso.com")
    assert (
        "I could not look Carol up in the directory; give me who cannot see's email address." in chat.texts()
    )
    assert chat.state["said"]["target"] == "alice@contoso.com"


async def test_a_correction_replaces_the_person_and_the_lookup_corrects_the_symptom() -> None:
    chat = Chat(runner=_runner())
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    assert chat.state["said"]["symptom"] == "freebusy-cloud-to-onprem"
    assert chat.awaiting() == "scope"
    await chat.say("no wait, typo: frank@contoso.com can't see bjorn@contoso.com")
    said = chat.state["said"]
    assert said["requester"] == "frank@contoso.com"
    # Frank and Bjorn are both on-premises, in two sites: not "cloud users", whatever was said before.
    assert said["symptom"] == "freebusy-cross-site"
    assert "I'm going with “Free/busy fails between AD sites of the on-premises organisation”" in chat.texts()
    assert chat.awaiting() == "scope"


async def test_a_symptom_picked_wrongly_is_corrected_by_the_lookup_in_one_line() -> None:
    chat = Chat(runner=_runner("001"))
    await chat.say("hi")
    await chat.press("Free/busy fails between AD sites of the on-premises organisation")
    await chat.press("Only one pair of users")
    await chat.say("carol@contoso.com can't see erin@contoso.com")
    texts = chat.texts()
    assert (
        "You said “Free/busy fails between AD sites of the on-premises organisation”, but the lookup says "
        "otherwise: I'm going with “On-premises users cannot see cloud free/busy”." in texts
    )
    assert chat.state["said"]["symptom"] == "freebusy-onprem-to-cloud"
    # Erin's mailbox is in Exchange Online: there is no AD site to ask about.
    assert chat.awaiting() == "error-text"


async def test_what_does_that_mean_explains_the_question_and_asks_it_again() -> None:
    chat = Chat(runner=_runner())
    await chat.say("Alice in Exchange Online can't see Bjorn's free/busy")
    assert chat.awaiting() == "scope"
    before = dict(chat.state["said"])
    for asked in ("what does that mean?", "idk", "how do I tell?", "?"):
        await chat.say(asked)
        assert "if only one person shows hash marks, it is only this pair" in chat.texts()
        assert chat.awaiting() == "scope"
        assert "Who is affected?" in card_text(chat.last_card())
        assert chat.state["said"] == before


async def test_the_pair_and_a_pasted_error_reach_the_result_in_at_most_two_questions() -> None:
    chat = Chat(runner=_runner("001"))
    await chat.say("carol@contoso.com can't see erin@contoso.com, only her")
    assert chat.state["said"]["scope"] == "pair"
    assert chat.awaiting() == "error-text"
    await chat.say(pasted_text("seed-001-fiddler.json"))
    assert chat.state["phase"] == "done"
    assert _questions(chat) <= 2


async def test_help_lists_what_the_bot_understands_with_examples() -> None:
    chat = Chat(runner=_runner())
    await chat.say("help")
    shown = chat.texts()
    assert "Alice in Exchange Online can't see Bjorn's free/busy" in shown
    assert "what does that mean?" in shown


async def test_the_lookup_answers_from_the_directory_of_the_scenario() -> None:
    async def quiet(_event: ProgressEvent) -> None:
        return None

    request = CheckRequest(("directory-names",), {"people.query": ["Alice", "Al"]})
    (result,) = await _runner().run(request, quiet)
    assert result.status == "ok"
    found = result.facts["people.found"]
    assert isinstance(found, list)
    assert found[0] == {
        "query": "Alice",
        "how": "name",
        "candidates": [{"address": "alice@contoso.com", "name": "Alice Martin", "location": "online"}],
    }
    assert found[1] == {
        "query": "Al",
        "how": "name",
        "candidates": [
            {"address": "alice@contoso.com", "name": "Alice Martin", "location": "online"},
            {"address": "alan@contoso.com", "name": "Alan Moore", "location": "online"},
        ],
    }


async def test_in_a_group_chat_the_cards_say_to_mention_the_bot() -> None:
    from dialogs.api import Inbound
    from dialogs.manners import GROUP_HINT

    chat = Chat(runner=_runner())
    await chat.turn(Inbound("message", "group-1", conversation_type="groupChat", user_id="u-1", text="hi"))
    shown = card_text(chat.last_card())
    assert GROUP_HINT in shown
    assert "You can also type your answer" not in shown
    personal = Chat(runner=_runner())
    await personal.say("hi")
    assert "You can also type your answer" in card_text(personal.last_card())


async def test_the_words_a_new_user_tried_at_the_first_question_are_understood() -> None:
    chat = Chat(runner=_runner())
    await chat.say("hi")
    await chat.say("idk… how do I tell?")
    assert "tell me the two people" in chat.texts()
    assert chat.awaiting() == "symptom" and chat.state["said"] == {}
    await chat.say("both onprem i think")
    assert "could not match" not in chat.shown()
    assert chat.state["said"]["symptom"] == "freebusy-cross-site"
    assert chat.awaiting() == "scope"
