"""A lab scenario for one fixture: started quietly, closed after."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from lab.runtime import RunningLab, start_lab

__all__ = ["running_lab"]


@contextmanager
def running_lab(scenario: str) -> Iterator[RunningLab]:
    """`scenario` served on loopback while the block runs (pypsrp and requests warn about things that do not
    matter on loopback, such as the lab's own certificates: those warnings are silenced while it starts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = start_lab(scenario)
    with started:
        yield started
