"""The error-text reader reads a paste once, also when the paste holds the output of the checks' commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialogs.engine import TriageConversation
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.dialogs.harness import Chat
from tests.texts import pasted_text
from tests.world import SEED_000, scenario_runner

OUTPUT = Path(__file__).resolve().parent.parent / "knowledge" / "command_pastes" / "seed-000-remedies.txt"


class CountingReader:
    def __init__(self) -> None:
        self.read: list[str] = []

    def __call__(self, text: str) -> dict[str, Any]:
        self.read.append(text)
        return read_error_text(text)


async def test_a_paste_of_an_error_and_command_output_is_read_once() -> None:
    reader = CountingReader()
    chat = Chat(runner=scenario_runner(SEED_000))
    chat.conversation = TriageConversation(load_knowledge(), chat.runner, chat._publish, reader)
    output = OUTPUT.read_text(encoding="utf-8")
    await chat.say(pasted_text("seed-000-event-4002.txt") + "\n" + output)
    assert len(reader.read) == 1
    assert "## exchange-triage:" not in reader.read[0], "the command output is the checks' evidence"
    assert chat.state["pasted"]["event.id"] == 4002
    assert chat.state["command_output"]


async def test_a_typed_answer_is_read_once() -> None:
    reader = CountingReader()
    chat = Chat(runner=scenario_runner(SEED_000))
    chat.conversation = TriageConversation(load_knowledge(), chat.runner, chat._publish, reader)
    await chat.say("free/busy is broken")
    assert len(reader.read) == 1
