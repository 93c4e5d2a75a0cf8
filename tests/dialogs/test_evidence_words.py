"""The result card's evidence reads as words: each finding's sentence and where it came from, the checks'
own rows only where they bear on the cause, and a word beside every status emoji."""

from __future__ import annotations

from dialogs.card_budget import size
from dialogs.result_card import CARD_BYTES
from dialogs.testing import FakeCheckRunner
from tests.dialogs.harness import Chat, card_text
from tests.texts import pasted_text
from tests.world import FED, SEED_000, scenario_runner


def _seed_000() -> FakeCheckRunner:
    """seed-000 as the checks find it: the topology check lists every server's site and both mailboxes'
    locations, and the federation-certificate check every server's certificate, present or missing."""
    runner = scenario_runner(SEED_000)
    rows = {(e.server, e.property, e.value) for e in runner.results["topology"].evidence}
    assert {
        ("EX01", "Site", "HQ"),
        ("EX03", "Site", "Branch"),
        ("alice@contoso.com", "Location", "online"),
    } <= rows
    return runner


async def _result(runner: FakeCheckRunner, everything: bool = False) -> str:
    chat = Chat(runner=runner)
    await chat.say(pasted_text("seed-000-event-4002.txt"))
    await chat.press("Everyone in that direction")
    await chat.press("Yes, that's right")
    card = chat.last_card()
    assert size(card) <= CARD_BYTES
    assert "Likely cause: The federation certificate is missing" in card_text(card)
    return chat.everything_shown() if everything else card_text(card)


async def test_evidence_names_no_internal_fact_and_says_where_it_came_from() -> None:
    shown = await _result(_seed_000())
    for internal in ("event.id", "caller.sids", "signatures", "proxy.type", "fedcert.", " = 4002"):
        assert internal not in shown, internal
    assert (
        "Event 4002 from MSExchange Availability: a proxied free/busy request failed. (from your pasted error)"
        in shown
    )
    assert "missing on EX03, EX04. (check: Federation certificate on every server)" in shown


async def test_only_the_check_rows_behind_the_cause_are_shown() -> None:
    shown = await _result(_seed_000())
    assert f"Federation certificate on every server · EX03: Certificate {FED} = missing" in shown
    assert f"Federation certificate on every server · EX04: Certificate {FED} = missing" in shown
    # The target site's row bears on "no Internet-facing server"; the other servers' sites do not.
    assert "Mailbox locations and AD sites · Branch" in shown
    assert "Site = HQ" not in shown and "Site = Branch" not in shown and "Location = online" not in shown
    # The failing check's healthy server is not evidence for the cause either.
    assert "= present" not in shown


async def test_every_status_emoji_has_a_word_beside_it() -> None:
    # The checks and their statuses are on the progress card (the result card does not repeat them).
    shown = await _result(_seed_000(), everything=True)
    assert "✅ ok · Mailbox locations and AD sites" in shown
    assert "❌ fail · Federation certificate on every server" in shown
