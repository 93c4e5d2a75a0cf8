"""Check implementations registered under the ids of `knowledge/data/checks.yaml` (`checks.catalogue`
imports every implementation module, which registers them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from checks.context import CheckContext, Finding

__all__ = ["CheckDef", "CheckFn", "Remedy", "check", "registered"]

CheckFn = Callable[[CheckContext], Awaitable[Finding]]
Remedy = Callable[[Mapping[str, Any]], str]
"""The command(s) an admin can run and paste back when the check cannot look itself; given the facts."""


@dataclass(frozen=True)
class CheckDef:
    id: str
    run: CheckFn
    remedy: Remedy


_REGISTRY: dict[str, CheckDef] = {}


def check(check_id: str, *, remedy: Remedy) -> Callable[[CheckFn], CheckFn]:
    """Register `fn` as the implementation of `check_id`."""

    def register(fn: CheckFn) -> CheckFn:
        if check_id in _REGISTRY and _REGISTRY[check_id].run is not fn:
            raise ValueError(f"check {check_id!r} is registered twice")
        _REGISTRY[check_id] = CheckDef(check_id, fn, remedy)
        return fn

    return register


def registered() -> Mapping[str, CheckDef]:
    """Every check registered so far, by id (`checks.catalogue.registry` has them all)."""
    return dict(_REGISTRY)
