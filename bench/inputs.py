"""How long the conversation takes to read pathological typed answers (runs of spaces, words without end).
Not a test: a measurement.

    .venv/bin/python -m bench.inputs [--runs N] [--size N]

For each reader of typed text (an AD site, an address pair, a scope, a command, a greeting, a symptom) and
for a whole conversation turn answering the sites question with the same text typed and in a card's box,
prints the best and median wall time of N runs against the 100 ms target. Before every input was collapsed
and capped, an AD site answered with a name, 20,000 spaces and one more word took seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable

from dialogs.understand import command_of, is_greeting, match_scope, match_symptom, read_pair, read_site
from knowledge.loader import load_knowledge
from tests.dialogs.harness import Chat
from tests.dialogs.test_validation import _at, _no_lookup

TARGET_MS = 100.0


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.suppress(ValueError):
            call()
        took.append((time.perf_counter() - start) * 1000)
    return min(took), statistics.median(took)


async def turn_ms(text: str, card: bool) -> float:
    chat = Chat(runner=_no_lookup())  # the sites are asked (the lookup cannot reach the organisation)
    await _at(chat, "sites")
    start = time.perf_counter()
    if card:
        await chat.press("Next", site=text)
    else:
        await chat.say(text)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=20_000, help="the run's length (default 20,000)")
    args = parser.parse_args()
    spaces = " " * args.size
    kb = load_knowledge()
    cases: dict[str, Callable[[], object]] = {
        "site: name, spaces, word": lambda: read_site("Branch" + spaces + "x"),
        "pair: one word, no @": lambda: read_pair("a" * args.size),
        "pair: address, spaces, word": lambda: read_pair("alice@contoso.com" + spaces + "x"),
        "scope: spaces": lambda: match_scope("x" + spaces + "x"),
        "command: spaces": lambda: command_of("help" + spaces + "x"),
        "greeting: spaces": lambda: is_greeting("hi" + spaces + "x"),
        "symptom: spaces": lambda: match_symptom(kb, "free/busy" + spaces + "x"),
    }
    print(f"{args.size:,}-character inputs, {args.runs} runs each (target {TARGET_MS:.0f} ms)")
    for name, call in cases.items():
        best, median = timed(call, args.runs)
        print(f"  {name:32s} best {best:8.2f} ms  median {median:8.2f} ms")
    for card in (False, True):
        took = [asyncio.run(turn_ms("Branch" + spaces + "x", card)) for _ in range(args.runs)]
        name = "turn: site in a card's box" if card else "turn: site typed"
        print(f"  {name:32s} best {min(took):8.2f} ms  median {statistics.median(took):8.2f} ms")


if __name__ == "__main__":
    main()
