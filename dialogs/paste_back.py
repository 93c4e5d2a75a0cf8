"""Command output pasted back after a result: kept with the triage, the checks that could not look run again.

A check that could not reach its backend (or has none) comes back with the commands an admin can run
(`CheckResult.remedy`). The result card lists them once, merged, with a Paste command output button; the
output (pasted there or as a message, in one piece or several) is read into sections
(`knowledge.reader.command_output`), stored in the state, and the checks that errored or were skipped run again
with it answering before their backends. The reader's reading of Test-* cmdlets' results counts too.
"""

from __future__ import annotations

from typing import Any

from dialogs.api import Card
from dialogs.cards import card, submit, subtle, text, text_input
from dialogs.findings import results_of
from dialogs.redact import redact_output
from dialogs.remedy_list import READ_OUTPUT, waiting
from dialogs.running import conclude, rerun_checks
from dialogs.turn import Turn
from knowledge.reader.command_output import read_command_output
from knowledge.reader.error_text import PasteTooLarge

__all__ = ["OUTPUT_QUESTION", "command_output_in", "output_prompt_card", "take_output"]

# The state keeps at most this many sections; a command pasted again replaces its earlier output.
MAX_SECTIONS = 200
MAX_STORED_ROWS = 3000


OUTPUT_QUESTION = "Paste what the commands printed (all of it, prompts and all)."


def output_prompt_card() -> Card:
    return card(
        [
            text(OUTPUT_QUESTION, weight="Bolder"),
            text_input("output", "Command output", "## exchange-triage: ...", multiline=True),
            subtle("A long output can go in several messages: I keep every piece with this triage."),
        ],
        [submit("Read it", READ_OUTPUT)],
    )


def command_output_in(message: str) -> list[dict[str, Any]]:
    """The command output sections in a message ([] for none, or for a message over the size limit)."""
    try:
        return read_command_output(message)
    except PasteTooLarge:
        return []


def _key(section: dict[str, Any]) -> tuple[str, str, str, str]:
    params = sorted((str(k).lower(), str(v).lower()) for k, v in section["params"].items())
    return section["source"], section["command"].lower(), section["server"].lower(), repr(params)


def _stored(kept: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`new` after `kept` (redacted: stored output holds no secret); a command's latest output replaces its
    earlier ones."""
    latest = {_key(s): s for s in [*kept, *redact_output(new)]}
    merged = list(latest.values())[-MAX_SECTIONS:]
    while sum(len(s["rows"]) for s in merged) > MAX_STORED_ROWS and len(merged) > 1:
        merged = merged[1:]
    return merged


def _named(sections: list[dict[str, Any]]) -> str:
    names = []
    for section in sections:
        where = f" on {section['server']}" if section["server"] else ""
        side = " (Exchange Online)" if section["source"] == "exchange_online" else ""
        name = f"{section['command']}{side}{where}"
        if name not in names:
            names.append(name)
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


async def take_output(turn: Turn, message: str) -> None:
    """Read `message` as pasted command output, keep it, run the waiting checks again, show the result."""
    try:
        sections = read_command_output(message)
        reader_facts = turn.services.read_text(message)
    except PasteTooLarge as too_large:
        await turn.say(str(too_large) + " Paste the output in several messages instead.")
        return
    if not sections:
        await turn.say(
            "I found no command output in that. Paste everything the commands printed, including the "
            "lines starting with ## exchange-triage."
        )
        return
    state = turn.state
    state.command_output = _stored(state.command_output, sections)
    # The reader's own reading of cmdlet output (Test-* results) counts; its error signatures do not: a
    # property called InternalNLBBypassUrl in a listing is not an error message about it.
    tested = {k: v for k, v in reader_facts.items() if k.startswith("test.")}
    state.pasted = {**tested, **state.pasted}
    check_ids = [r.id for r in waiting(results_of(state))]
    if not check_ids:
        await turn.say(f"I read the output of {_named(sections)}. Every check could already look; I kept it.")
        return
    await turn.say(f"I read the output of {_named(sections)}. Running the checks that could not look again.")
    await rerun_checks(turn, check_ids)
    await conclude(turn)
