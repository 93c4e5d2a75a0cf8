"""Run the host until asked to stop: what `triage serve` does once the configuration is known."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from aiohttp import web

from bot.app import ConversationFactory, create_app
from bot.settings import Settings

__all__ = ["configure_logging", "serve"]

logger = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The storage client logs every HTTP exchange at INFO, the Agents SDK every reply it sends (with the
    # conversation's id): a cost on every turn and noise in the log. Keep those for debugging sessions only.
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("microsoft_agents").setLevel(quiet)


async def serve(
    settings: Settings, conversation: ConversationFactory, stop: asyncio.Event | None = None
) -> None:
    """Serve until `stop` is set (or SIGINT/SIGTERM when none is given)."""
    stop = stop or _stop_on_signals()
    # No access log: remediation links carry their token in the path.
    runner = web.AppRunner(create_app(settings, conversation), access_log=None)
    await runner.setup()
    _freeze_startup_objects()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        logger.info("listening on http://%s:%s (POST /api/messages)", settings.host, settings.port)
        await stop.wait()
    finally:
        await runner.cleanup()


def _freeze_startup_objects() -> None:
    """Keep what start-up loaded (the knowledge base, the SDK, the lab) out of every later garbage collection.

    Those objects live as long as the process; without this each full collection walks all of them and
    stops every turn in flight (30 ms on an idle machine, 70 to 200 ms seen under load: PERFORMANCE.md).
    """
    gc.collect()
    gc.freeze()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
