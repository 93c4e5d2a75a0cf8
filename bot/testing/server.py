"""Run an aiohttp application on a loopback ephemeral port (the port is known before the app is built)."""

from __future__ import annotations

import socket

from aiohttp import web

__all__ = ["LoopbackServer", "reserve_loopback_socket"]


def reserve_loopback_socket() -> socket.socket:
    """A listening-ready socket on 127.0.0.1 with a port the system chose."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LoopbackServer:
    """Serves one application on 127.0.0.1 until stopped."""

    def __init__(self, app: web.Application, sock: socket.socket | None = None) -> None:
        self._app = app
        self._sock = sock or reserve_loopback_socket()
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
