"""Fault knobs: latency, timeouts, 401, throttling and connection resets, per service and per call.

A scenario's `faults:` list and tests (from any thread) add `FaultSpec`s to the lab's `FaultController`.
Each simulator asks `take(service, operation)` once per call and renders what it gets the way its
protocol would: the controller only chooses the fault and applies the added latency.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "TIMEOUT_STALL_SECONDS",
    "FaultController",
    "FaultKind",
    "FaultSpec",
    "Service",
    "reset_connection",
    "stall",
]

Service = Literal["psrp", "winrm", "ews", "graph", "token"]
FaultKind = Literal["latency", "timeout", "unauthorized", "throttle", "reset"]

# A "timeout" answers nothing for this long unless the client hangs up first: longer than any client
# timeout the product or the tests use, short enough that a forgotten fault does not wedge a shutdown.
TIMEOUT_STALL_SECONDS = 120.0


class FaultSpec(BaseModel):
    """One fault; also the schema of a scenario's `faults:` entries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: Service
    operation: str | None = None
    kind: FaultKind
    latency_ms: int = Field(default=0, ge=0)
    back_off_ms: int = Field(default=2000, ge=0)
    count: int | None = Field(default=None, ge=1)
    after: int = Field(
        default=0, ge=0
    )  # let this many matching calls through first (a write failing halfway)

    def matches(self, service: str, operation: str) -> bool:
        if self.service != service:
            return False
        return self.operation is None or self.operation.lower() == operation.lower()


class FaultController:
    """Holds the active faults. `add`/`clear` are safe from any thread; `take` runs on a lab loop."""

    def __init__(self, specs: list[FaultSpec] | None = None) -> None:
        self._lock = threading.Lock()
        self._active: list[tuple[FaultSpec, list[int | None]]] = []  # [remaining count, calls let through]
        self._taken: list[tuple[str, str, FaultSpec]] = []
        for spec in specs or []:
            self.add(spec)

    def add(self, spec: FaultSpec) -> None:
        with self._lock:
            self._active.append((spec, [spec.count, 0]))

    def clear(self) -> None:
        with self._lock:
            self._active.clear()
            self._taken.clear()

    @property
    def taken(self) -> list[tuple[str, str, FaultSpec]]:
        """(service, operation, spec) of every fault handed out since the last `clear`."""
        with self._lock:
            return list(self._taken)

    def pick(self, service: str, operation: str) -> FaultSpec | None:
        """The first matching fault, its remaining count spent by one; no latency applied."""
        with self._lock:
            for index, (spec, remaining) in enumerate(self._active):
                if not spec.matches(service, operation):
                    continue
                passed = remaining[1] or 0
                if passed < spec.after:
                    remaining[1] = passed + 1
                    continue
                if remaining[0] is not None:
                    remaining[0] -= 1
                    if remaining[0] <= 0:
                        del self._active[index]
                self._taken.append((service, operation, spec))
                return spec
        return None

    async def take(self, service: str, operation: str) -> FaultSpec | None:
        """The fault for this call (or None), after sleeping its added latency."""
        spec = self.pick(service, operation)
        if spec is not None and spec.latency_ms:
            await asyncio.sleep(spec.latency_ms / 1000)
        return spec


async def stall(request: web.Request, seconds: float = TIMEOUT_STALL_SECONDS) -> None:
    """Answer nothing until the client gives up (closes the connection) or `seconds` pass.

    Polls the transport rather than sleeping blindly so a client-side timeout frees the handler at once
    and a lab shutdown is not held up by stalled calls.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)


def reset_connection(request: web.Request) -> web.Response:
    """Abort the connection with a TCP RST, as a crashed or filtering proxy does.

    Returns a placeholder response for the handler to return; it never reaches the client because the
    transport is gone.
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER with a zero timeout turns close() into an RST instead of an orderly FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=500)
