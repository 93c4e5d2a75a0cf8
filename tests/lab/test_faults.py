"""Fault knobs: which call a fault hits, how often, the latency it adds, and the transport-level kinds.

How each protocol renders a fault to its real client is tested with that client (test_ews, test_graph).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from pydantic import ValidationError

from lab.faults import FaultController, FaultSpec, reset_connection, stall
from lab.serve import BackgroundServer


def test_a_spec_names_a_known_service_and_kind() -> None:
    with pytest.raises(ValidationError, match="service"):
        FaultSpec.model_validate({"service": "smtp", "kind": "timeout"})
    with pytest.raises(ValidationError, match="kind"):
        FaultSpec.model_validate({"service": "ews", "kind": "explode"})
    with pytest.raises(ValidationError, match="count"):
        FaultSpec(service="ews", kind="reset", count=0)
    with pytest.raises(ValidationError, match="extra"):
        FaultSpec.model_validate({"service": "ews", "kind": "reset", "delay": 3})


async def test_operation_none_hits_every_call_of_its_service_only() -> None:
    faults = FaultController([FaultSpec(service="graph", kind="throttle")])
    assert await faults.take("graph", "getSchedule") is not None
    assert await faults.take("graph", "calendarPermissions") is not None
    assert await faults.take("ews", "GetFolder") is None


async def test_operation_matches_ignoring_case() -> None:
    faults = FaultController([FaultSpec(service="ews", operation="GetUserAvailability", kind="unauthorized")])
    assert await faults.take("ews", "GetFolder") is None
    taken = await faults.take("ews", "getuseravailability")
    assert taken is not None
    assert taken.kind == "unauthorized"


async def test_count_limits_the_hits_then_the_next_spec_applies() -> None:
    faults = FaultController()
    faults.add(FaultSpec(service="ews", kind="throttle", count=2))
    faults.add(FaultSpec(service="ews", kind="reset"))
    kinds = [spec.kind for spec in [await faults.take("ews", "GetFolder") for _ in range(4)] if spec]
    assert kinds == ["throttle", "throttle", "reset", "reset"]
    assert [(service, op) for service, op, _ in faults.taken] == [("ews", "GetFolder")] * 4


async def test_clear_removes_every_fault_and_the_record() -> None:
    faults = FaultController([FaultSpec(service="token", kind="unauthorized")])
    assert await faults.take("token", "token") is not None
    faults.clear()
    assert await faults.take("token", "token") is None
    assert faults.taken == []


def _recording(slept: list[float]) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return sleep


async def test_take_sleeps_the_added_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = FaultController([FaultSpec(service="psrp", kind="latency", latency_ms=150)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    spec = await faults.take("psrp", "Get-ExchangeServer")
    assert spec is not None
    assert loop.time() - started >= 0.14
    slept: list[float] = []
    monkeypatch.setattr(sys.modules[FaultController.__module__].asyncio, "sleep", _recording(slept))
    assert await faults.take("winrm", "hostname") is None
    assert slept == []  # a call without a fault is not delayed at all (recorded, not timed)


async def test_faults_added_from_another_thread_apply_to_the_next_call() -> None:
    faults = FaultController()
    adder = threading.Thread(target=faults.add, args=(FaultSpec(service="winrm", kind="timeout", count=1),))
    adder.start()
    adder.join()
    taken = await faults.take("winrm", "Command")
    assert taken is not None
    assert taken.kind == "timeout"
    assert await faults.take("winrm", "Command") is None


def _raw_request(port: int, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return sock.recv(1024)


def test_reset_aborts_the_connection_with_a_tcp_reset() -> None:
    async def handler(request: web.Request) -> web.Response:
        return reset_connection(request)

    app = web.Application()
    app.router.add_get("/", handler)
    with BackgroundServer(app) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        with pytest.raises(ConnectionResetError):
            _raw_request(port, timeout=5)


def test_stall_answers_nothing_and_ends_when_the_client_hangs_up() -> None:
    ended = threading.Event()

    async def handler(request: web.Request) -> web.Response:
        await stall(request, seconds=30)
        ended.set()
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_get("/", handler)
    with BackgroundServer(app) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            _raw_request(port, timeout=0.3)
        # The client gave up and closed: the stalled handler notices it, long before its 30 s are up.
        assert ended.wait(20)
        assert time.monotonic() - started < 20
