"""How long a full garbage collection stops the bot, with and without start-up objects frozen.

    .venv/bin/python -m bench.gc_pause [--runs 5]

Builds the bot as `triage serve` does (the application, the knowledge base, the lab backend with its
simulators), then times `gc.collect()` over everything start-up loaded, before and after `gc.freeze()`
(what `bot.server.serve` does once started). Every turn in flight waits for a full collection; Python runs
one whenever enough objects have survived the younger generations.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
import warnings

from aiohttp import web

from bot.app import create_app
from bot.settings import load_settings
from triage.app import build_conversation

__all__ = ["main"]


def _full_collections(runs: int) -> float:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        gc.collect()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


async def measure(runs: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-gc-") as state_dir:
        settings = load_settings(
            {"TRIAGE_STATE_DIR": state_dir, "TRIAGE_LOG_LEVEL": "WARNING", "TRIAGE_DEV_ANONYMOUS": "1"}
        )
        runner = web.AppRunner(create_app(settings, lambda publish: build_conversation(settings, publish)))
        await runner.setup()
        try:
            tracked = len(gc.get_objects())
            thawed = _full_collections(runs)
            gc.freeze()
            frozen = _full_collections(runs)
            gc.unfreeze()
        finally:
            await runner.cleanup()
    return [
        f"full garbage collection with the bot started (lab backend, {tracked:,} objects tracked), median of {runs}:",
        f"  {thawed:.1f} ms as loaded; {frozen:.1f} ms with the start-up objects frozen (bot.server.serve does)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("\n".join(asyncio.run(measure(args.runs))))


if __name__ == "__main__":
    main()
