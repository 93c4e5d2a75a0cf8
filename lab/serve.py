"""Serve one aiohttp application on loopback, in the current loop or in a background thread.

The clients the lab answers (exchangelib, msal, pywinrm, pypsrp) are blocking, so tests and the runtime
run each simulator on its own event loop in a daemon thread (`BackgroundServer`). `start_site` is the
async building block for code that already runs inside a loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

__all__ = ["BackgroundServer", "StartedSite", "assert_loopback", "start_site"]

# Stalled handlers (the timeout fault) notice a closed connection within a poll; no need to wait long.
_SHUTDOWN_TIMEOUT_SECONDS = 1.0


def assert_loopback(host: str) -> None:
    """Refuse any bind address but loopback: the lab never listens beyond this machine."""
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the lab binds loopback only, not {host!r}")


@dataclass
class StartedSite:
    runner: web.AppRunner
    host: str
    port: int
    scheme: str

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_site(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> StartedSite:
    """Start `app` on host:port (0 = ephemeral) in the running loop."""
    assert_loopback(host)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound: int = runner.addresses[0][1]
    return StartedSite(runner, host, bound, "https" if ssl_context else "http")


class BackgroundServer:
    """Run one app on its own event loop in a daemon thread; use as a context manager."""

    def __init__(
        self,
        app: web.Application,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        assert_loopback(host)
        self._app, self._host, self._port, self._ssl = app, host, port, ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-server", daemon=True)
        self._site: StartedSite | None = None

    @property
    def base_url(self) -> str:
        if self._site is None:
            raise RuntimeError("server not started")
        return self._site.base_url

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        started: Future[StartedSite] = asyncio.run_coroutine_threadsafe(
            start_site(self._app, host=self._host, port=self._port, ssl_context=self._ssl), self._loop
        )
        self._site = started.result(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._site is not None:
            asyncio.run_coroutine_threadsafe(self._site.stop(), self._loop).result(timeout)
            self._site = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
