"""Test equipment shipped with the host: a loopback Bot Connector, a loopback identity provider, Teams-shaped
activities and a loopback server runner. Used by the host's protocol tests and by end-to-end tests."""

from bot.testing.activities import TEAMS_TENANT, TeamsActivities
from bot.testing.bot import BotResponse, RunningBot, running_bot
from bot.testing.connector import LoopbackConnector, Recorded
from bot.testing.graph import LoopbackGraph
from bot.testing.hosts import LoopbackHostValidator
from bot.testing.identity import (
    BOT_FRAMEWORK_ISSUER,
    LoopbackIdentityProvider,
    LoopbackTokenProvider,
    loopback_connections,
    signing_keys_from,
)
from bot.testing.server import LoopbackServer, reserve_loopback_socket

__all__ = [
    "BOT_FRAMEWORK_ISSUER",
    "TEAMS_TENANT",
    "BotResponse",
    "LoopbackConnector",
    "LoopbackGraph",
    "LoopbackHostValidator",
    "LoopbackIdentityProvider",
    "LoopbackServer",
    "LoopbackTokenProvider",
    "Recorded",
    "RunningBot",
    "TeamsActivities",
    "loopback_connections",
    "reserve_loopback_socket",
    "running_bot",
    "signing_keys_from",
]
