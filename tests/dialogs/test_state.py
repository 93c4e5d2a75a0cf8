"""The state: plain JSON, versioned, copied in, and enough on its own to carry on after a restart."""

from __future__ import annotations

import json

from dialogs.state import VERSION, new_state, pop_snapshot, push_snapshot, upgrade
from tests.dialogs.harness import Chat, card_text
from tests.dialogs.scenarios import seed_000


def test_a_new_state_is_versioned_plain_json() -> None:
    state = new_state("u", "Ada")
    assert state["v"] == VERSION == 1
    assert json.loads(json.dumps(state)) == state


def test_upgrade_copies_and_fills_missing_keys() -> None:
    stored = {"v": 1, "id": "abc", "phase": "asking", "said": {"symptom": "x"}}
    upgraded = upgrade(stored)
    assert upgraded["said"] == {"symptom": "x"} and upgraded["history"] == [] and upgraded["lookup"] is None
    upgraded["said"]["scope"] = "all"
    assert stored["said"] == {"symptom": "x"}


def test_snapshots_restore_exactly_what_an_answer_changed() -> None:
    state = new_state()
    push_snapshot(state)
    state["said"]["symptom"] = "freebusy-cross-site"
    state["skipped"].append("sites")
    state["results"] = [{"id": "topology"}]
    assert pop_snapshot(state)
    assert state["said"] == {} and state["skipped"] == [] and state["results"] is None
    assert not pop_snapshot(state)


async def test_each_turn_continues_from_the_stored_json_alone() -> None:
    """A new conversation object (a restarted process) given the stored JSON carries on where the last left off."""
    chat = Chat(runner=seed_000())
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    stored = json.dumps(chat.state)

    restarted = Chat(runner=seed_000(), state=json.loads(stored))
    await restarted.submit(action="answer", node="scope", value="all")
    assert restarted.awaiting() == "pair"
    await restarted.say("usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com")
    stored = json.dumps(restarted.state)

    again = Chat(runner=seed_000(), state=json.loads(stored))
    await again.say("yes")
    await again.say("skip")
    assert "Likely cause: The federation certificate is missing" in card_text(again.last_card())
