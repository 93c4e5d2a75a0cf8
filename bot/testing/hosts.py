"""An outbound host validator for tests: the SDK's, on, that also allows the given loopback origins.

The SDK's validator allows only https service URLs on Microsoft's hosts and never a loopback address; tests
reach a loopback connector over http. This one allows exactly the origins it is given (scheme, host and port)
and leaves every other URL to the SDK's rules, so a test can still show a stranger's URL refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from microsoft_agents.hosting.core import OutboundHostValidator
from yarl import URL

from bot.settings import is_loopback

__all__ = ["LoopbackHostValidator"]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class LoopbackHostValidator(OutboundHostValidator):
    def __init__(self, origins: list[str]) -> None:
        super().__init__(enabled=True)
        for origin in origins:
            if not is_loopback(urlsplit(origin).hostname or ""):
                raise ValueError(f"{origin} is not a loopback URL")
        self._origins = frozenset(_origin(origin) for origin in origins)

    def is_allowed(self, url: str | URL) -> bool:
        if _origin(str(url)) in self._origins:
            return True
        return super().is_allowed(url)
