"""Group membership from Microsoft Graph, for roles given to Entra groups (`TRIAGE_ROLES_FROM_GROUPS=true`).

`GraphGroups.member_of` asks Graph's `checkMemberGroups` (transitive membership) which of the configured role
groups a user is in, with the bot's own app identity (client credentials through the SDK's token provider:
the app registration needs the application permission `GroupMember.Read.All`, admin-consented). Answers are
kept for five minutes per user. A Graph that fails grants no group role (and is logged); it is asked again on
the next activity.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import quote

import aiohttp
from microsoft_agents.hosting.core import Connections

__all__ = ["GRAPH_URL", "GraphGroups"]

logger = logging.getLogger(__name__)

GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_RESOURCE = "https://graph.microsoft.com"
_BATCH = 20  # checkMemberGroups takes at most 20 group ids per request


class GraphGroups:
    def __init__(
        self,
        connections: Connections,
        graph_url: str = GRAPH_URL,
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._connections = connections
        self._graph_url = graph_url.rstrip("/")
        self._ttl = ttl_seconds
        self._clock = clock
        self._timeout = timeout_seconds
        self._cache: dict[tuple[str, frozenset[str]], tuple[float, frozenset[str]]] = {}

    async def member_of(self, object_id: str, group_ids: frozenset[str]) -> frozenset[str]:
        key = (object_id, group_ids)
        cached = self._cache.get(key)
        if cached is not None and self._clock() - cached[0] < self._ttl:
            return cached[1]
        try:
            found = await self._ask(object_id, sorted(group_ids))
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as error:
            logger.warning(
                "group membership of %s could not be read from Graph: %s", object_id, type(error).__name__
            )
            return frozenset()
        self._cache[key] = (self._clock(), found)
        return found

    async def _ask(self, object_id: str, group_ids: list[str]) -> frozenset[str]:
        provider = self._connections.get_default_connection()
        token = await provider.get_access_token(GRAPH_RESOURCE, [f"{GRAPH_RESOURCE}/.default"])
        url = f"{self._graph_url}/users/{quote(object_id, safe='@')}/checkMemberGroups"
        found: set[str] = set()
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for start in range(0, len(group_ids), _BATCH):
                body = {"groupIds": group_ids[start : start + _BATCH]}
                headers = {"Authorization": f"Bearer {token}"}
                async with session.post(url, json=body, headers=headers) as response:
                    response.raise_for_status()
                    payload = await response.json()
                found.update(str(g).lower() for g in payload["value"])
        return frozenset(found) & frozenset(group_ids)
