"""Run the host until asked to stop: what `triage serve` does once the configuration is known."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bot.app import ConversationFactory, create_app
from bot.settings import Settings

__all__ = ["configure_logging", "serve"]

logger = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The storage client logs every HTTP exchange at INFO; keep those for debugging sessions only.
    logging.getLogger("azure").setLevel(logging.WARNING)


async def serve(
    settings: Settings, conversation: ConversationFactory, stop: asyncio.Event | None = None
) -> None:
    """Serve until `stop` is set (or SIGINT/SIGTERM when none is given)."""
    stop = stop or _stop_on_signals()
    # No access log: remediation links carry their token in the path.
    runner = web.AppRunner(create_app(settings, conversation), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        logger.info("listening on http://%s:%s (POST /api/messages)", settings.host, settings.port)
        await stop.wait()
    finally:
        await runner.cleanup()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
