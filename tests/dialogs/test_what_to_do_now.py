"""The result card's top layer on the seed scenarios, walked as a helpdesk agent types it against the lab: the
"What to do now" line of each kind (a user-level step, escalate with why), and the expanded evidence holding
only the rows that bear on the likely cause, values in full."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dialogs.result_card import result_card
from knowledge.loader import load_knowledge
from lab.runtime import RunningLab
from tests.dialogs.harness import Chat, actions_of, card_text
from tests.dialogs.test_every_card import FEDCERT_FACTS, RESULTS, findings
from tests.labs import running_lab
from tests.texts import pasted_text
from tests.world import FED
from triage.backends import runner_for_lab

KB = load_knowledge()


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[RunningLab]:
    with running_lab(request.param) as running:
        yield running


async def _result(lab: RunningLab, first: str, scope: str, paste: str) -> dict[str, Any]:
    """The result card of a triage started with `first`, every question answered as a helpdesk agent would."""
    chat = Chat(runner=runner_for_lab(lab))  # type: ignore[arg-type]
    await chat.say(first)
    for _ in range(6):
        if chat.state["phase"] == "done":
            break
        node = chat.awaiting()
        buttons = {a.get("title") for a in actions_of(chat.last_card())}
        if "Yes, that's right" in buttons:
            await chat.press("Yes, that's right")
        elif node == "error-text":
            await chat.say(pasted_text(paste))
        elif node == "scope":
            await chat.say(scope)
        else:
            await chat.say("skip")
    assert chat.state["phase"] == "done", chat.awaiting()
    return chat.last_card()


def _top(card: dict[str, Any]) -> str:
    """What the card shows before anything is expanded."""
    return card_text({**card, "body": [e for e in card["body"] if e.get("type") != "ActionSet"]})


def _details(card: dict[str, Any]) -> str:
    """The expanded layer's evidence: from its "Evidence" heading to the next section's."""
    shown = next(
        a["card"] for e in card["body"] if e.get("type") == "ActionSet" for a in e["actions"] if "card" in a
    )
    texts = [e.get("text", "") for e in shown["body"]]
    start = texts.index("Evidence")
    end = next(i for i, t in enumerate(texts) if t in ("Remediation", "Other candidates", "Candidates"))
    assert start < end
    return "\n".join(texts[start:end])


@pytest.mark.parametrize("lab", ["seed-001-sharing-subscription"], indirect=True)
async def test_seed_001_tells_the_helpdesk_to_ask_the_target_to_share_again(lab: RunningLab) -> None:
    card = await _result(
        lab,
        "carol@contoso.com can't see erin@contoso.com, only her",
        "only this pair",
        "seed-001-fiddler.json",
    )
    top = _top(card)
    assert "What to do now" in top
    assert "Ask Erin Müller to share their calendar with Carol Díaz again (Free/Busy time is enough)." in top
    assert "Properties › Permissions › Add Carol Díaz" in top
    assert "share-an-outlook-calendar-with-other-people" in top  # where the step comes from
    details = _details(card)
    assert (
        "Hidden sharing subscriptions · carol@contoso.com: Sharing subscription = erin@contoso.com" in details
    )
    assert "MAPIBlockOutlook" not in details and "InternalUrl" not in details
    assert "Checks" not in [e.get("text") for e in card["body"]], (
        "the check list is on the progress card only"
    )


@pytest.mark.parametrize("lab", ["seed-000-federation-cert"], indirect=True)
async def test_seed_000_escalates_with_why_and_shows_the_thumbprint_in_full(lab: RunningLab) -> None:
    card = await _result(
        lab,
        "Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office",
        "everyone",
        "seed-000-event-4002.md",
    )
    assert (
        "Escalate to the Exchange team: the federation certificate is missing on EX03, EX04 in the Branch site, "
        "and only an Exchange admin can install it" in _top(card)
    )
    details = _details(card)
    assert f"Federation certificate on every server · EX03: Certificate {FED} = missing" in details
    assert "Branch: Internet-facing (a server publishes an ExternalUrl) = False" in details
    # The target's other mailbox settings do not bear on a missing certificate.
    assert "MAPIBlockOutlookRpcHttp" not in details and "MAPIBlockOutlookExternalConnectivity" not in details
    assert "Mailbox locations and AD sites read 11 more values, none of them behind this cause." in details
    # The check list is on the progress card above, not repeated here: no check that found nothing behind
    # the cause is named anywhere on the result card.
    shown = card_text(card)
    named = [c.title for c in KB.checks.values() if c.title in shown]
    assert set(named) == {"Federation certificate on every server", "Mailbox locations and AD sites"}, named


@pytest.mark.parametrize("lab", ["seed-002-owa-internalurl-http"], indirect=True)
async def test_seed_002_shows_the_one_virtual_directory_that_matters(lab: RunningLab) -> None:
    card = await _result(
        lab,
        "OWA gives an error for bjorn@contoso.com, his mailbox is in the Branch site",
        "all users in one site",
        "seed-002-event-42.txt",
    )
    assert (
        "Escalate to the Exchange team: the Outlook on the web address of EX03 in the Branch site starts with "
        "http:// instead of https://" in _top(card)
    )
    details = _details(card)
    assert "Virtual directory URLs · EX03: owa InternalUrl = http://ex03.contoso.com/owa" in details
    for noise in ("ecp InternalUrl", "ews InternalUrl", "sslFlags", "ExternalUrl", "MAPIBlockOutlook"):
        assert noise not in details, noise
    assert "Virtual directory URLs read 25 more values, none of them behind this cause." in details


def test_with_fix_it_on_the_card_the_line_offers_it_beside_escalating() -> None:
    confident = findings(FEDCERT_FACTS, RESULTS)
    offered = result_card(
        KB,
        confident,
        heading_text="Here is what I found.",
        runbook_url=None,
        fixable=frozenset({"copy-federation-certificate"}),
    )
    line = "Press Fix it (an Exchange admin approves the change before it is made) or escalate to the Exchange team: "
    assert line + "the federation certificate is missing on" in card_text(offered)
    plain = result_card(KB, confident, heading_text="Here is what I found.", runbook_url=None)
    assert "Press Fix it" not in card_text(plain)
    assert "Escalate to the Exchange team: the federation certificate is missing on" in card_text(plain)
