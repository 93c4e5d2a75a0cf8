"""The paste-back loop through the conversation, with real backends: Exchange PowerShell and WinRM are
down (connections reset by the lab), the result card offers the commands, the admin pastes what they print,
the checks run again on it and the card then names the cause."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from checks.api import CheckRequest, ProgressEvent
from checks.catalogue import registry
from checks.remedies import Remedy
from checks.runner import Runner
from dialogs.remedy_list import merge_remedies
from knowledge.loader import load_knowledge
from lab.faults import FaultSpec
from lab.runtime import RunningLab, start_lab
from tests.checks.powershell_text import Recorded, transcript
from tests.checks.recording import recording_factory
from tests.dialogs.harness import Chat, actions_of, card_text
from triage.backends import runner_for_lab

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}


@pytest.fixture(scope="module")
def seed_lab() -> Iterator[RunningLab]:
    lab = start_lab("seed-000-federation-cert")
    try:
        yield lab
    finally:
        lab.close()


async def _what_the_servers_print(lab: RunningLab, check_ids: list[str], facts: dict[str, Any]) -> str:
    """The output of the checks' remedy commands, as the admin's shell prints it from the same servers
    (which our connection problems do not touch)."""
    faults = list(lab.faults.taken)
    lab.faults.clear()
    recorded = Recorded()
    plain = runner_for_lab(lab)
    runner = Runner(recording_factory(plain._open_ports, recorded), kb=load_knowledge())

    async def quiet(_event: ProgressEvent) -> None:
        return None

    await runner.run(CheckRequest(tuple(check_ids), facts), quiet)
    if faults:
        _down(lab)
    remedies = [registry()[c].remedy for c in check_ids]
    return "\n".join(transcript(r, recorded, facts) for r in remedies if isinstance(r, Remedy))


def _down(lab: RunningLab) -> None:
    lab.faults.clear()
    for service in ("psrp", "winrm"):
        lab.faults.add(FaultSpec(service=service, kind="reset"))


async def _to_the_result(chat: Chat) -> None:
    await chat.say(
        "cloud users can't see free/busy of on-premises users: alice@contoso.com can't see bjorn@contoso.com"
    )
    for _ in range(6):
        if chat.state["phase"] == "done":
            return
        node = chat.awaiting()
        buttons = {a["title"] for a in actions_of(chat.last_card())}
        if "Yes, that's right" in buttons:
            await chat.press("Yes, that's right")
        elif node in ("sites", "error-text"):
            await chat.press("Skip")
        else:
            await chat.say("everyone")
    assert chat.state["phase"] == "done", chat.awaiting()


async def test_with_exchange_down_the_admin_pastes_the_commands_output_and_the_card_names_the_cause(
    seed_lab: RunningLab,
) -> None:
    _down(seed_lab)
    try:
        chat = Chat(runner=runner_for_lab(seed_lab))  # type: ignore[arg-type]
        await _to_the_result(chat)
        first = card_text(chat.last_card())
        assert "Let me look anyway" in first
        assert (  # "What to do now": run and paste
            "Run the read-only commands under “Evidence, commands and other causes” (or ask an Exchange admin "
            "to) and paste back everything they print" in first
        )
        assert "Likely cause: The federation certificate is missing" not in first
        stuck = [
            r["id"] for r in chat.state["results"] if r["status"] in ("error", "skipped") and r["remedy"]
        ]
        assert {"topology", "federation-certificates", "federation-trust"} <= set(stuck)
        assert "'## exchange-triage: Get-FederationTrust'; Get-FederationTrust | Format-List" in first
        assert any(a["title"] == "Paste command output" for a in actions_of(chat.last_card()))

        output = await _what_the_servers_print(seed_lab, stuck, PAIR)
        await chat.press("Paste command output")
        assert "Command output" in card_text(chat.last_card())
        await chat.press("Read it", output=output)

        assert "I read the output of Get-ExchangeServer" in chat.texts()
        result = card_text(chat.last_card())
        assert "Likely cause: The federation certificate is missing on the servers of a site" in result
        assert "Federation certificate on every server · EX03" in result
        assert "Escalate to the Exchange team: the federation certificate is missing on EX03, EX04" in result
        assert chat.state["conclusion"]["cause"] == "federation-cert-missing-on-site"
        assert chat.state["command_output"] and all(s["by"] == "marker" for s in chat.state["command_output"])
        rerun = {r["id"]: r for r in chat.state["results"]}
        assert rerun["federation-certificates"]["status"] == "fail"
        assert rerun["federation-certificates"]["facts"]["fedcert.missing_servers"] == ["EX03", "EX04"]
    finally:
        seed_lab.faults.clear()


async def test_output_pasted_as_messages_in_pieces_is_kept_and_read_like_any_evidence(
    seed_lab: RunningLab,
) -> None:
    _down(seed_lab)
    try:
        chat = Chat(runner=runner_for_lab(seed_lab))  # type: ignore[arg-type]
        await _to_the_result(chat)
        stuck = [
            r["id"] for r in chat.state["results"] if r["status"] in ("error", "skipped") and r["remedy"]
        ]
        output = await _what_the_servers_print(seed_lab, stuck, PAIR)
        # Teams limits a message's size: the admin pastes the host output first, then the rest.
        cut = output.index("[PS] C:\\Windows\\system32>Get-ExchangeServer | ForEach-Object")
        await chat.say(output[cut:])
        assert chat.state["phase"] == "done"
        await chat.say(output[:cut])
        assert chat.state["conclusion"]["cause"] == "federation-cert-missing-on-site"
        kept = chat.state["command_output"]
        assert len({(s["source"], s["server"], s["command"], repr(s["params"])) for s in kept}) == len(kept)
    finally:
        seed_lab.faults.clear()


async def test_text_that_holds_no_command_output_after_a_result_is_still_a_new_problem() -> None:
    from tests.world import SEED_000, scenario_runner

    chat = Chat(runner=scenario_runner(SEED_000))
    await _to_the_result(chat)
    await chat.say("Name : nothing I know\n\nsomething else entirely")
    assert chat.state["command_output"] == []


def test_several_checks_commands_merge_under_one_heading_each() -> None:
    merged = merge_remedies(
        [
            "# In the Exchange Management Shell (x):\n$FormatEnumerationLimit = -1\nA\nB",
            "# In the Exchange Management Shell (x):\n$FormatEnumerationLimit = -1\nB\nC\n# On each server:\nD",
        ]
    )
    assert merged == [
        "# In the Exchange Management Shell (x):",
        "$FormatEnumerationLimit = -1",
        "A",
        "B",
        "C",
        "# On each server:",
        "D",
    ]


class _Asked:
    """A runner that keeps every request it is given."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner
        self.requests: list[CheckRequest] = []

    async def run(self, request: CheckRequest, progress: Any) -> Any:
        self.requests.append(request)
        return await self.inner.run(request, progress)


async def test_the_checks_run_again_on_pasted_output_look_afresh_not_at_the_shared_cache(
    seed_lab: RunningLab,
) -> None:
    _down(seed_lab)
    try:
        asked = _Asked(runner_for_lab(seed_lab))
        chat = Chat(runner=asked)  # type: ignore[arg-type]
        await _to_the_result(chat)
        stuck = [
            r["id"] for r in chat.state["results"] if r["status"] in ("error", "skipped") and r["remedy"]
        ]
        output = await _what_the_servers_print(seed_lab, stuck, PAIR)
        await chat.press("Paste command output")
        await chat.press("Read it", output=output)
    finally:
        seed_lab.faults.clear()
    assert [r.fresh for r in asked.requests][-1] is True
    assert not any(r.fresh for r in asked.requests[:-1])
