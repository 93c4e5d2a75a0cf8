"""Fix it in a Teams-like client: the Agents Playground in Chromium against `triage serve` on seed-000 (the
Branch servers lack the federation certificate), with the lab's writer account.

The result card's "Fix it" posts the approval card as a new thread in the escalation channel (General). The
Playground has one signed-in user, Alex Wilber, who asked for the fix: pressing Approve as them is refused
(the requester may not approve their own change), which the test sees in the channel. The approver's press
is then a real Bot Framework activity from a second Playground identity (Megan Bowen), posted to the bot's
endpoint in the approval card's thread with the Playground as its service URL, exactly as Teams would send
it; the bot applies the fix, re-runs the checks, and the browser shows "Fixed" on both cards.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from tests.e2e.conftest import Stack
from tests.e2e.playground_ui import PlaygroundPage
from tests.texts import EXAMPLE

pytestmark = pytest.mark.e2e

SCENARIO = "seed-000-federation-cert"
PLAIN = "Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office"
CHECKS_TIMEOUT_MS = 60_000
FIX_TIMEOUT_MS = 90_000
APPROVER = {"id": "29:megan", "name": "Megan Bowen", "aadObjectId": "00000000-0000-0000-0000-0000000000021"}


def _proposal(state_dir: Path) -> dict[str, Any]:
    """The one fix proposal the bot stored (where its approval card is, the fix's id and fingerprint)."""

    async def read() -> dict[str, Any]:
        store = await SqliteStore.open(state_dir / SQLITE_FILE)
        try:
            [(key, _)] = await store.scan("fix/")
            document, _ = await store.read(key)
            return document
        finally:
            await store.close()

    # Playwright's synchronous API runs an event loop in this thread: read the store in another one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, read()).result()


def _approve_as_second_user(stack: Stack, proposal: dict[str, Any]) -> int:
    """Megan Bowen presses Approve on the approval card, in its thread: the Action.Submit activity Teams posts."""
    reference = proposal["card"]["reference"]
    approval = proposal["approval"]
    activity = {
        "type": "message",
        "id": "approve-from-megan",
        "timestamp": "2026-12-06T04:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": reference["serviceUrl"],
        "from": APPROVER,
        "recipient": reference["bot"],
        "conversation": reference["conversation"],
        "channelData": {"tenant": {"id": reference["conversation"].get("tenantId", "")}},
        "replyToId": proposal["card"]["activity"],
        "value": {"action": "fix-approve", "fix": approval["id"], "fingerprint": approval["fingerprint"]},
    }
    request = urllib.request.Request(
        f"{stack.bot_url}/api/messages",
        data=json.dumps(activity).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        status: int = response.status
        return status


def test_fix_it_then_approved_in_the_channel_shows_fixed_on_the_result_card(
    ui: PlaygroundPage, stack: Stack
) -> None:
    ui.open_channel("General")
    ui.post_mentioning_bot("set escalation channel")
    ui.wait_for_text("Done: I will post escalations in")

    ui.open_personal_chat()
    ui.say(PLAIN)
    ui.wait_for_text("I looked them up:", timeout=CHECKS_TIMEOUT_MS)
    ui.wait_for_button("Everyone in that direction")
    ui.press("Everyone in that direction")
    ui.fill("Error text", EXAMPLE.read_text(encoding="utf-8"))
    ui.press("Read it")
    result = ui.card_with("Likely cause:")
    result.wait_for(timeout=CHECKS_TIMEOUT_MS)
    ui.wait_for_button("Fix it")
    ui.screenshot("20-fix-it-offered", of=result)

    ui.press("Fix it")
    ui.card_with("Waiting for approval").wait_for(timeout=CHECKS_TIMEOUT_MS)
    ui.screenshot("21-fix-waiting-for-approval")

    ui.open_channel("General")
    approval = ui.card_with("Approval needed")
    approval.wait_for()
    shown = approval.inner_text()
    assert "Import-ExchangeCertificate" in shown and "Alex Wilber" in shown
    assert "‹one-time password›" in shown
    ui.screenshot("22-approval-card-in-general", of=approval)
    # The requester may not approve their own change.
    ui.press("Approve")
    ui.wait_for_text("You asked for this fix: another approver has to approve it.")
    ui.screenshot("23-own-approval-refused")

    assert _approve_as_second_user(stack, _proposal(stack.state_dir)) == 202
    fixed_approval = ui.card_with("and the checks now pass")
    fixed_approval.wait_for(timeout=FIX_TIMEOUT_MS)
    assert "Approval needed" in fixed_approval.inner_text()
    assert "Fixed" in fixed_approval.inner_text() and "approved by Megan Bowen" in fixed_approval.inner_text()
    ui.screenshot("24-approval-card-fixed", of=fixed_approval)

    ui.open_personal_chat()
    fixed = ui.card_with("and the checks now pass")
    fixed.wait_for(timeout=FIX_TIMEOUT_MS)
    text = fixed.inner_text()
    assert "Fixed" in text and "federation-certificates" in text
    ui.screenshot("25-result-card-fixed", of=fixed)
