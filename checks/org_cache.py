"""The organisation's configuration, shared by every triage for a short while.

During an outage twenty people triage the same organisation: its servers, certificates, virtual
directories, relationships, connectors, auth configuration, availability address spaces and policies are
the same for all of them. `OrgCache` keeps each such answer (an Exchange configuration cmdlet with its
parameters) for `ttl` seconds (60 by default) and loads it once however many triages ask at the same time
(single flight). Only the cmdlets in `ORG_WIDE_CMDLETS` are shared; anything about a mailbox or a user
(permissions, subscriptions, free/busy, recipients, group members) and every test cmdlet is asked afresh by
each triage. A failed load is not kept. A triage asked to look again (`CheckRequest.fresh`: command output
pasted back, a fix to verify) bypasses the cache and refreshes it.

Each check records how old the cached answers it used were (`cached_ages`), so its result can say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["DEFAULT_TTL", "ORG_WIDE_CMDLETS", "OrgCache", "cache_age_note", "cached_ages", "note_age"]

DEFAULT_TTL = 60.0

T = TypeVar("T")

# Configuration of the organisation: the same answer for every triage.
ORG_WIDE_CMDLETS = frozenset(
    {
        "Get-ExchangeServer",
        "Get-MailboxDatabase",
        "Get-AcceptedDomain",
        "Get-ExchangeCertificate",
        "Get-FederationTrust",
        "Get-FederatedOrganizationIdentifier",
        "Get-OrganizationRelationship",
        "Get-IntraOrganizationConnector",
        "Get-AuthConfig",
        "Get-AuthServer",
        "Get-PartnerApplication",
        "Get-SettingOverride",
        "Get-AvailabilityAddressSpace",
        "Get-AvailabilityConfig",
        "Get-SharingPolicy",
        "Get-OrganizationConfig",
        "Get-OwaVirtualDirectory",
        "Get-EcpVirtualDirectory",
        "Get-WebServicesVirtualDirectory",
        "Get-AutodiscoverVirtualDirectory",
        "Get-ServerComponentState",
    }
)

# The ages (seconds) of the cached answers the current check used.
_AGES: ContextVar[list[float] | None] = ContextVar("org_cache_ages", default=None)


@contextlib.contextmanager
def cached_ages() -> Iterator[list[float]]:
    """Collect, for the code run inside (one check), the ages of the cached answers it used."""
    ages: list[float] = []
    token = _AGES.set(ages)
    try:
        yield ages
    finally:
        _AGES.reset(token)


def note_age(age: float | None) -> None:
    """The current check used an answer from the cache, `age` seconds old (None: a fresh answer)."""
    ages = _AGES.get()
    if ages is not None and age is not None:
        ages.append(age)


def cache_age_note(ages: list[float]) -> str:
    """How a result says its evidence came from the cache ("" when none did)."""
    if not ages:
        return ""
    oldest = max(ages)
    return f"organisation settings from the shared cache, {oldest:.0f} s old"


@dataclass
class _Entry:
    task: asyncio.Future[Any]
    loaded_at: float | None = None  # clock time the answer arrived (None while loading)


class OrgCache:
    """Answers kept `ttl` seconds, keyed by port, cmdlet and parameters; one load at a time per key."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self.loads = 0  # calls that went to the backend
        self.hits = 0  # answers served from the cache (or shared with a load under way)

    @staticmethod
    def shared(cmdlet: str) -> bool:
        return cmdlet in ORG_WIDE_CMDLETS

    async def get(
        self,
        port: str,
        cmdlet: str,
        params: Mapping[str, Any],
        load: Callable[[], Awaitable[T]],
        *,
        fresh: bool,
    ) -> tuple[T, float | None]:
        """The answer and, when it came from the cache, its age in seconds (None: loaded for this caller)."""
        key = (port, cmdlet, json.dumps(params, sort_keys=True, default=str))
        now = self._clock()
        entry = self._entries.get(key)
        usable = (
            entry is not None and not fresh and (entry.loaded_at is None or now - entry.loaded_at < self.ttl)
        )
        if entry is not None and usable:
            self.hits += 1
            value: T = await asyncio.shield(entry.task)
            loaded = entry.loaded_at if entry.loaded_at is not None else self._clock()
            return value, max(0.0, self._clock() - loaded)
        self.loads += 1
        mine = _Entry(asyncio.ensure_future(load()))
        self._entries[key] = mine
        try:
            value = await asyncio.shield(mine.task)
        except BaseException:
            if self._entries.get(key) is mine:
                del self._entries[key]  # a failure is not kept for the next triage
            if mine.task.done() and not mine.task.cancelled():
                mine.task.exception()
            raise
        mine.loaded_at = self._clock()
        self._prune(mine.loaded_at)
        return value, None

    def _prune(self, now: float) -> None:
        stale = [
            k for k, e in self._entries.items() if e.loaded_at is not None and now - e.loaded_at >= self.ttl
        ]
        for key in stale:
            del self._entries[key]
