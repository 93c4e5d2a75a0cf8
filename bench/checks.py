"""How long a triage's checks take with slow backends, and what one reused WinRM shell saves.

Prints figures; asserts nothing. Run: `.venv/bin/python -m bench.checks [--latency-ms 200] [--rounds 3]`.

1. Wall time of a full triage divided by its slowest single check (each check run alone, on fresh
   connections). Target: at most 1.25. Measured twice: over our fake ports with the latency added to
   every port call (the runner and its memo alone), and with the real clients against the lab with the
   latency added to every backend call (lab fault `latency` on every service), the lab in its own
   process as real backends are (in-process, its simulators would share our two cores and GIL).
2. N templates on one server: one reused UTF-8 shell versus a new shell per command (as pywinrm's
   `Session.run_ps` does), both sequential, with the latency on every WinRM operation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from checks.api import CheckRequest, ProgressEvent
from checks.backends.winrm_host import WinrmHost
from checks.runner import Runner
from checks.testing import fixed_ports
from checks.wiring import ports_factory
from knowledge.loader import KnowledgeBase, load_knowledge
from lab.scenario.load import load_scenario
from tests.world import NOW, PAIR, World
from triage.backends import from_lab_endpoints

SERVICES = ("psrp", "winrm", "ews", "graph", "token")
LAB_PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}


async def _quiet(_event: ProgressEvent) -> None:
    return None


async def _timed(run: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


async def _ratio(
    make_runner: Callable[[], Runner], ids: tuple[str, ...], facts: dict[str, str], rounds: int
) -> tuple[float, float, str]:
    """(full triage seconds, slowest single check seconds, its id), medians over `rounds`."""
    fulls, slowest = [], []
    name = ""
    for _ in range(rounds):
        fulls.append(await _timed(functools.partial(make_runner().run, CheckRequest(ids, facts), _quiet)))
        alone = {}
        for check_id in ids:
            alone[check_id] = await _timed(
                functools.partial(make_runner().run, CheckRequest((check_id,), facts), _quiet)
            )
        name = max(alone, key=lambda k: alone[k])
        slowest.append(alone[name])
    return statistics.median(fulls), statistics.median(slowest), name


async def fake_ports_ratio(kb: KnowledgeBase, latency: float, rounds: int) -> tuple[float, float, str]:
    def make() -> Runner:
        ports, _ = World().ports(latency=latency)
        return Runner(fixed_ports(ports), kb=kb, clock=lambda: NOW)

    return await _ratio(make, tuple(kb.checks), PAIR, rounds)


async def lab_ratio(
    endpoints: dict[str, Any], tenant: str, kb: KnowledgeBase, rounds: int
) -> tuple[float, float, str]:
    settings = from_lab_endpoints(endpoints, tenant)
    return await _ratio(lambda: Runner(ports_factory(settings), kb=kb), tuple(kb.checks), LAB_PAIR, rounds)


async def shell_reuse(endpoints: dict[str, Any], tenant: str, commands: int) -> tuple[float, float]:
    """Seconds for `commands` registry reads on EX01: one reused shell, then a new shell for each."""
    settings = from_lab_endpoints(endpoints, tenant).winrm
    assert settings is not None
    args = [
        {"path": "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319", "names": [f"Value{i}"]}
        for i in range(commands)
    ]
    with ThreadPoolExecutor(8) as executor:

        async def reused() -> None:
            host = WinrmHost(settings, executor)
            for a in args:
                await host.run("EX01", "registry-values", a)
            await host.close()

        async def fresh() -> None:
            for a in args:
                host = WinrmHost(settings, executor)
                await host.run("EX01", "registry-values", a)
                await host.close()

        return await _timed(reused), await _timed(fresh)


@contextlib.contextmanager
def slow_lab(latency_ms: int) -> Iterator[tuple[dict[str, Any], str]]:
    """`triage lab up` in its own process (as real backends are), every service answering late."""
    with tempfile.TemporaryDirectory() as directory:
        scenario = Path(directory) / "bench-latency.yaml"
        faults = [{"service": s, "kind": "latency", "latency_ms": latency_ms} for s in SERVICES]
        scenario.write_text(
            yaml.safe_dump(
                {
                    "extends": "healthy",
                    "name": "bench-latency",
                    "description": "healthy, slow backends",
                    "faults": faults,
                }
            ),
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "triage", "lab", "up", "--scenario", str(scenario)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            endpoints = json.loads(process.stdout.readline())
            yield endpoints, load_scenario("healthy").exchange_online.tenant
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)


async def main(latency_ms: int, rounds: int, commands: int) -> None:
    warnings.simplefilter("ignore")
    kb = load_knowledge()
    full, single, name = await fake_ports_ratio(kb, latency_ms / 1000, rounds)
    print(f"fake ports, {latency_ms} ms per port call, {len(kb.checks)} checks:")
    print(
        f"  full triage {full:.2f} s, slowest single check {single:.2f} s ({name}): ratio {full / single:.2f}"
    )
    with slow_lab(latency_ms) as (endpoints, tenant):
        full, single, name = await lab_ratio(endpoints, tenant, kb, rounds)
        print(
            f"lab in its own process (real clients), {latency_ms} ms per backend call on {', '.join(SERVICES)}:"
        )
        print(
            f"  full triage {full:.2f} s, slowest single check {single:.2f} s ({name}): ratio {full / single:.2f}"
        )
        reused, fresh = await shell_reuse(endpoints, tenant, commands)
        print(f"WinRM, {commands} templates on one server, {latency_ms} ms per WinRM operation, sequential:")
        print(
            f"  one reused shell {reused:.2f} s, a new shell per command {fresh:.2f} s: ratio {fresh / reused:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commands", type=int, default=10)
    options = parser.parse_args()
    asyncio.run(main(options.latency_ms, options.rounds, options.commands))
