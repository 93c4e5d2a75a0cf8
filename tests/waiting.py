"""Waiting for something another task or process does, without betting on how fast a busy machine is."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

__all__ = ["until"]


async def until(
    condition: Callable[[], object], what: str, *, seconds: float = 60.0, poll: float = 0.02
) -> None:
    """Return as soon as `condition()` is true. `seconds` is a safety net for something that never happens
    (the test then fails naming `what`), far above how long it takes on a loaded machine."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    for _ in itertools.count():
        if condition():
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {seconds:g} s")
        await asyncio.sleep(poll)
