"""Every check implementation, imported by name: importing this module registers them all."""

from __future__ import annotations

from collections.abc import Mapping

from checks.impl import (
    events,
    federation,
    host,
    oauth,
    pair,
    people,
    policies,
    probe,
    relationships,
    topology,
    vdirs,
)
from checks.registry import CheckDef, registered

__all__ = ["IMPLEMENTATIONS", "registry"]

# The modules that hold the implementations (the others in checks/impl are their helpers).
IMPLEMENTATIONS = (
    topology,
    federation,
    oauth,
    relationships,
    policies,
    vdirs,
    host,
    probe,
    events,
    pair,
    people,
)


def registry() -> Mapping[str, CheckDef]:
    """Every registered check, by id."""
    return registered()
