"""What the request handlers need once the application has started, and the key it is kept under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import AgentApplication, TurnState

from bot.links import LinkService
from bot.settings import Settings
from bot.storage import Store
from bot.turns import TurnSlots

if TYPE_CHECKING:
    from bot.host import TeamsHost
    from bot.jobs import JobWorker

__all__ = ["RUNTIME", "Runtime"]


@dataclass(frozen=True)
class Runtime:
    """What the request handlers need once the application has started."""

    settings: Settings
    store: Store
    adapter: CloudAdapter
    application: AgentApplication[TurnState]
    links: LinkService
    slots: TurnSlots
    host: TeamsHost  # takes every activity as a job
    worker: JobWorker  # runs the jobs


RUNTIME = web.AppKey("runtime", Runtime)
