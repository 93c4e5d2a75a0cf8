"""Retention: what the store keeps, and for how long. A purge runs at start-up and on a schedule.

Generic over the store: each rule is a key prefix and a time to live, measured from the document's last
write (`Store.scan`). The defaults (docs/bot-hosting.md):

| prefix | what | kept for |
| --- | --- | --- |
| `conv/` | a conversation's state (its answers, pasted text, results) | `TRIAGE_CONVERSATION_TTL_DAYS` (30) since its last turn |
| `runbook/` | a published runbook | its link's lifetime, `TRIAGE_LINK_TTL_HOURS` (24) |
| `job/` | a queued or finished turn job | `TRIAGE_JOB_TTL_DAYS` (7) |
| `audit/` | an audit record | `TRIAGE_AUDIT_TTL_DAYS` (365) |
| `channel-post/` | where a card posted in the escalation channel is, and who took it | `TRIAGE_CONVERSATION_TTL_DAYS` (30) since its last change |

Another part of the host that stores documents under a prefix of its own adds a `Rule` for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.settings import Settings
from bot.storage import StorageError, Store

__all__ = ["DAY", "Retention", "Rule", "rules_from"]

logger = logging.getLogger(__name__)

DAY = 86400.0


@dataclass(frozen=True)
class Rule:
    prefix: str
    ttl_seconds: float


def rules_from(settings: Settings) -> list[Rule]:
    return [
        Rule("conv/", settings.conversation_ttl_days * DAY),
        Rule("runbook/", settings.link_ttl_seconds),
        Rule("job/", settings.job_ttl_days * DAY),
        Rule("audit/", settings.audit_ttl_days * DAY),
        Rule("channel-post/", settings.conversation_ttl_days * DAY),
        # A fix's proposal lives as long as the conversation whose result card it updates.
        Rule("fix/", settings.conversation_ttl_days * DAY),
    ]


class Retention:
    """Deletes what has outlived its rule."""

    def __init__(self, store: Store, rules: Sequence[Rule], clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._rules = list(rules)
        self._clock = clock

    async def purge(self) -> dict[str, int]:
        """One pass over every rule; answers how many documents each prefix lost."""
        now = self._clock()
        removed: dict[str, int] = {}
        for rule in self._rules:
            expired = [
                key
                for key, written in await self._store.scan(rule.prefix)
                if now - written > rule.ttl_seconds
            ]
            for key in expired:
                await self._store.delete(key)
            removed[rule.prefix] = len(expired)
        if any(removed.values()):
            logger.info("retention purge: %s", ", ".join(f"{p} {n}" for p, n in removed.items() if n))
        return removed

    async def run(self, interval_seconds: float) -> None:
        """Purge now and then every `interval_seconds`, until cancelled; a failed pass waits for the next."""
        while True:
            try:
                await self.purge()
            except (StorageError, OSError):
                logger.warning("a retention purge failed; the next one retries", exc_info=True)
            await asyncio.sleep(interval_seconds)
