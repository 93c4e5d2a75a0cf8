"""The result card's evidence reads as words: each finding's sentence and where it came from, the checks'
own rows only where they bear on the cause, and a word beside every status emoji."""

from __future__ import annotations

from checks.api import CheckResult, Evidence
from dialogs.card_budget import size
from dialogs.result_card import CARD_BYTES
from dialogs.testing import FakeCheckRunner
from tests.dialogs.harness import Chat, card_text
from tests.dialogs.scenarios import paste, seed_000


def _noisy_topology() -> FakeCheckRunner:
    """seed-000, with the topology check listing every server's site as the real one does."""
    results = dict(seed_000().results)
    topology = results["topology"]
    rows = (
        Evidence("Site", "HQ", "EX01"),
        Evidence("Site", "Branch", "EX02"),
        Evidence("Location", "online", "usera@contoso.mail.onmicrosoft.com"),
        Evidence("Internet-facing (a server publishes an ExternalUrl)", "False", "Branch"),
        # Flags that are off, as the real check lists them for the mailbox: not about the site at all.
        Evidence("MAPIBlockOutlookRpcHttp", "False", "bjorn@contoso.com"),
        Evidence("MAPIBlockOutlookExternalConnectivity", "False", "bjorn@contoso.com"),
    )
    results["topology"] = CheckResult(topology.id, "ok", topology.summary, rows, topology.facts)
    return FakeCheckRunner(list(results.values()))


async def _result(runner: FakeCheckRunner, everything: bool = False) -> str:
    chat = Chat(runner=runner)
    await chat.say(paste("seed-000-event-4002.txt"))
    await chat.press("Everyone in that direction")
    await chat.press("Yes, that's right")
    card = chat.last_card()
    assert size(card) <= CARD_BYTES
    assert "Likely cause: The federation certificate is missing" in card_text(card)
    return chat.everything_shown() if everything else card_text(card)


async def test_evidence_names_no_internal_fact_and_says_where_it_came_from() -> None:
    shown = await _result(_noisy_topology())
    for internal in ("event.id", "caller.sids", "signatures", "proxy.type", "fedcert.", " = 4002"):
        assert internal not in shown, internal
    assert (
        "Event 4002 from MSExchange Availability: a proxied free/busy request failed. (from your pasted error)"
        in shown
    )
    assert "missing on EX02. (check: Federation certificate on every server)" in shown


async def test_only_the_check_rows_behind_the_cause_are_shown() -> None:
    shown = await _result(_noisy_topology())
    assert "Federation certificate on every server · EX02" in shown
    assert "Federation certificate = missing" in shown
    # The target site's row bears on "no Internet-facing server"; the other servers' sites do not.
    assert "Mailbox locations and AD sites · Branch" in shown
    assert "Site = HQ" not in shown and "Site = Branch" not in shown and "Location = online" not in shown
    # A yes/no indicator (no Internet-facing server: False) is not borne out by every flag that is False.
    assert "Internet-facing (a server publishes an ExternalUrl) = False" in shown
    assert "MAPIBlock" not in shown
    # The failing check's healthy server is not evidence for the cause either.
    assert "present, with private key" not in shown


async def test_every_status_emoji_has_a_word_beside_it() -> None:
    # The checks and their statuses are on the progress card (the result card does not repeat them).
    shown = await _result(_noisy_topology(), everything=True)
    assert "✅ ok · Mailbox locations and AD sites" in shown
    assert "❌ fail · Federation certificate on every server" in shown
