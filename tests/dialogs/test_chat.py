"""`triage chat`: cards as text with numbered choices, a number presses that button, a fenced paste."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dialogs.engine import TriageConversation
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.texts import pasted_text
from tests.world import SEED_000, scenario_runner
from triage.chat import ChatSession, chat
from triage.chat_render import render_card

ROOT = Path(__file__).resolve().parents[2]


def test_cards_render_as_text_with_numbered_choices() -> None:
    card = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "Who is affected?", "weight": "Bolder", "size": "Medium"},
            {"type": "FactSet", "facts": [{"title": "Target", "value": "site Branch"}]},
            {
                "type": "Container",
                "items": [{"type": "TextBlock", "text": "Get-X\n\nSet-Y", "fontType": "Monospace"}],
            },
            {"type": "TextBlock", "text": "See [the docs](https://learn.microsoft.com/x)."},
            {"type": "Input.Text", "id": "target", "label": "Target"},
            {
                "type": "ActionSet",
                "actions": [{"type": "Action.Submit", "title": "Inline", "data": {"action": "a"}}],
            },
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Everyone", "data": {"action": "answer", "value": "all"}},
            {"type": "Action.OpenUrl", "title": "Open remediation", "url": "https://x.example/r/1"},
        ],
    }
    rendered = render_card(card)
    assert rendered.lines == [
        "",
        "## Who is affected?",
        "  Target: site Branch",
        "    Get-X",
        "    Set-Y",
        "See the docs <https://learn.microsoft.com/x>.",
        "  [Target] (type it as a message)",
        "  1) Inline",
        "  2) Everyone",
        "  3) Open remediation <https://x.example/r/1>",
    ]
    assert [c.data for c in rendered.choices[:2]] == [{"action": "a"}, {"action": "answer", "value": "all"}]
    assert rendered.choices[2].url == "https://x.example/r/1"


async def test_a_whole_seed_triage_in_the_terminal() -> None:
    published: list[dict[str, Any]] = []

    async def publish(runbook: dict[str, Any]) -> str:
        published.append(runbook)
        return "file:///tmp/runbook.html"

    conversation = TriageConversation(load_knowledge(), scenario_runner(SEED_000), publish, read_error_text)
    out = io.StringIO()
    typed = "\n".join(
        [
            "1",  # Cloud users cannot see on-premises free/busy
            "1",  # Everyone in that direction
            "alice@contoso.com can't see bjorn@contoso.com",
            '"""',
            pasted_text("seed-000-event-4002.txt"),
            '"""',
            "1",  # Open runbook: shows the link
            "2",  # Escalate
            "tried nothing yet",
            "quit",
        ]
    )
    await chat(ChatSession(conversation, out, user_name="Ada"), io.StringIO(typed + "\n"))
    shown = out.getvalue()
    assert "bot: Hi Ada!" in shown
    assert "  1) Cloud users cannot see on-premises free/busy" in shown
    assert (
        "bot: I looked them up: alice@contoso.com is in Exchange Online; bjorn@contoso.com is on-premises, on EX03 in site Branch."
        in shown
    )
    assert "bot: From the error I read: event 4002" in shown
    assert "✅ ok · Mailbox locations and AD sites:" in shown
    assert "LIKELY CAUSE: THE FEDERATION CERTIFICATE IS MISSING ON THE SERVERS OF A SITE" in shown
    assert (
        "    Import-ExchangeCertificate -Server EX03 -FileData $export.FileData -Password $password" in shown
    )
    assert (
        "    Import-ExchangeCertificate -Server EX04 -FileData $export.FileData -Password $password" in shown
    )
    assert "  1) Open runbook <file:///tmp/runbook.html>" in shown
    assert "open: file:///tmp/runbook.html" in shown
    assert "----- escalation (posted here: the terminal has no channel) -----" in shown
    assert "bot: I posted this triage to this terminal (printed above)" in shown
    assert published and published[0]["cause_id"] == "federation-cert-missing-on-site"


@pytest.mark.cli
@pytest.mark.lab
def test_triage_chat_runs_a_seed_triage_against_the_embedded_lab(tmp_path: Path) -> None:
    typed = "\n".join(
        [
            "1",  # Cloud users cannot see on-premises free/busy
            "1",  # Everyone in that direction
            "alice@contoso.com can't see bjorn@contoso.com",
            '"""',
            pasted_text("seed-000-event-4002.txt"),
            '"""',
            "quit",
        ]
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "triage",
            "chat",
            "--scenario",
            "seed-000-federation-cert",
            "--runbook-dir",
            str(tmp_path),
        ],
        input=typed + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = done.stdout
    assert "  1) Cloud users cannot see on-premises free/busy" in shown
    assert "bjorn@contoso.com is on-premises, on EX03 in site Branch" in shown
    assert "## Checks finished." in shown
    assert "LIKELY CAUSE: THE FEDERATION CERTIFICATE IS MISSING ON THE SERVERS OF A SITE" in shown
    # The lab's Branch servers, found by the real checks, are in the filled commands.
    assert (
        "    Import-ExchangeCertificate -Server EX03 -FileData $export.FileData -Password $password" in shown
    )
    assert list(tmp_path.glob("runbook-federation-cert-missing-on-site-*.html"))


async def test_in_the_terminal_command_output_pasted_after_the_result_goes_to_the_checks() -> None:
    from checks.api import CheckResult
    from checks.catalogue import registry
    from dialogs.testing import FakeCheckRunner

    remedy = registry()["federation-trust"].remedy({})
    down = CheckResult("federation-trust", "error", "Could not reach Exchange PowerShell.", remedy=remedy)
    runner = FakeCheckRunner([*scenario_runner(SEED_000).results.values(), down])

    async def publish(runbook: dict[str, Any]) -> str:
        return "file:///tmp/runbook.html"

    conversation = TriageConversation(load_knowledge(), runner, publish, read_error_text)
    out = io.StringIO()
    output = "## exchange-triage: Get-FederationTrust\n\nName               : Microsoft Federation Gateway\nOrgPrivCertificate : 3226500C943B6235AEB493A307F084710FD1D5D0\n"
    typed = [
        "1",
        "1",
        "alice@contoso.com can't see bjorn@contoso.com",
        "1",
        "skip",
        "3",  # Paste command output (1 is Open runbook, 2 Escalate)
        '"""',
        output,
        '"""',
        "quit",
    ]
    await chat(ChatSession(conversation, out, user_name="Ada"), io.StringIO("\n".join(typed) + "\n"))
    shown = out.getvalue()
    assert "## Let me look anyway" in shown
    assert "  [Command output] (type it as a message)" in shown
    assert "bot: I read the output of Get-FederationTrust." in shown
    rerun = runner.requests[-1]
    assert rerun.check_ids == ("federation-trust",)
    section: Any = rerun.pasted[0]
    assert section["rows"][0]["OrgPrivCertificate"] == "3226500C943B6235AEB493A307F084710FD1D5D0"
