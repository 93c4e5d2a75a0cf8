"""Helpers for the HTTPS simulator tests: a lab context, TLS servers on loopback, client settings.

The client settings here are the ones the product's live backends use against a real organisation,
with the lab CA in place of the system trust store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from lab.context import LabContext, new_credentials
from lab.faults import FaultController
from lab.pki import LabPki, create_pki
from lab.scenario.load import Scenario, load_scenario
from lab.serve import BackgroundServer

__all__ = ["make_context", "scenario_with", "serve"]


def scenario_with(base: str = "healthy", **changes: Callable[[dict[str, Any]], None]) -> Scenario:
    """A bundled scenario with in-place edits applied to its dict form, re-validated."""
    data = load_scenario(base).model_dump(mode="json")
    for change in changes.values():
        change(data)
    return Scenario.model_validate(data)


def make_context(scenario: Scenario, tls: LabPki | None = None) -> LabContext:
    """A fresh lab context; pass `tls` to share one CA between several labs in a test module."""
    hostnames = [server.fqdn for server in scenario.organization.servers]
    return LabContext(
        scenario=scenario,
        faults=FaultController(list(scenario.faults)),
        credentials=new_credentials(scenario),
        tls=tls or create_pki(hostnames),
    )


@contextlib.contextmanager
def serve(ctx: LabContext, build_app: Callable[[LabContext], web.Application]) -> Iterator[str]:
    """Serve one simulator over TLS on 127.0.0.1; yields its base URL."""
    with BackgroundServer(build_app(ctx), ssl_context=ctx.tls.server_ssl_context()) as server:
        yield server.base_url
