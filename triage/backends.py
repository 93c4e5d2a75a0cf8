"""The check backends, wired: a runner against the lab (started here, on loopback, its endpoints turned into
the real clients' settings) or against a real organisation (its configuration file). The lab is known here
and nowhere in `checks/`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from checks.api import CheckRequest, CheckResult, ProgressEvent
from checks.backends.ews import EwsSettings
from checks.backends.exo_host import ExoHostSettings
from checks.backends.graph import GraphSettings
from checks.backends.https_probe import ProbeSettings
from checks.backends.psrp import PsrpSettings
from checks.backends.session_pool import SessionPools
from checks.backends.winrm_host import WinrmSettings
from checks.config import LiveConfig, load_config
from checks.ports import Ports
from checks.runner import Runner
from checks.wiring import BackendSettings, from_config, ports_factory
from knowledge.loader import KnowledgeBase

if TYPE_CHECKING:
    from lab.runtime import RunningLab

__all__ = [
    "LAB_TIMEOUTS",
    "LabRunner",
    "build_runner",
    "from_lab_endpoints",
    "run_checks_once",
    "runner_for_lab",
]

# The lab's clients give up well before its "timeout" fault (a two-minute stall) ends.
LAB_TIMEOUTS = {"operation": 2, "read": 3}
# Checks against the lab finish in well under a second; a client stuck on a "timeout" fault gives up
# after its read timeout, and the runner's own limit sits above that.
LAB_CHECK_SECONDS = LAB_TIMEOUTS["read"] * 2 + 2.0
LAB_TRIAGE_SECONDS = LAB_CHECK_SECONDS * 3


class LabRunner(Runner):
    """A runner whose backends are a lab it started; `lab` gives tests the fault knobs, `pools` the shared
    remote sessions (their peak use)."""

    lab: RunningLab
    pools: SessionPools


@asynccontextmanager
async def build_runner(
    backend: Literal["lab", "live"],
    *,
    scenario: str | Path | None = None,
    config: str | Path | LiveConfig | None = None,
    kb: KnowledgeBase | None = None,
) -> AsyncIterator[Runner]:
    """A runner for the lab (`scenario`: a bundled name or a file) or a live organisation (`config`)."""
    if backend == "lab":
        if scenario is None:
            raise ValueError("the lab backend needs a scenario (a bundled name or a YAML file)")
        async with _lab_runner(scenario, kb) as runner:
            yield runner
        return
    if backend != "live":
        raise ValueError(f"unknown backend {backend!r}: use 'lab' or 'live'")
    if config is None:
        raise ValueError("the live backend needs a configuration file")
    loaded = config if isinstance(config, LiveConfig) else load_config(config)
    limits = loaded.limits
    yield Runner(
        ports_factory(from_config(loaded)),
        kb=kb,
        check_seconds=limits.check_seconds,
        triage_seconds=limits.triage_seconds,
        cache_seconds=limits.org_cache_seconds,
    )


@asynccontextmanager
async def _lab_runner(scenario: str | Path, kb: KnowledgeBase | None) -> AsyncIterator[LabRunner]:
    from lab.runtime import start_lab  # the lab is test equipment: imported only when asked for

    lab = await asyncio.to_thread(start_lab, scenario)
    try:
        yield runner_for_lab(lab, kb=kb)
    finally:
        await asyncio.to_thread(lab.close)


def runner_for_lab(lab: RunningLab, *, kb: KnowledgeBase | None = None, **limits: float) -> LabRunner:
    """A runner whose real clients talk to `lab`, a lab that is already running."""
    endpoints: dict[str, Any] = dict(lab.endpoints)
    settings = from_lab_endpoints(endpoints, lab.ctx.scenario.exchange_online.tenant)
    pools = SessionPools(int(limits.pop("sessions", settings.sessions)))
    runner = LabRunner(
        ports_factory(settings, pools),
        kb=kb,
        check_seconds=limits.get("check_seconds", LAB_CHECK_SECONDS),
        triage_seconds=limits.get("triage_seconds", LAB_TRIAGE_SECONDS),
    )
    runner.lab = lab
    runner.pools = pools
    return runner


async def run_checks_once(
    backend: Literal["lab", "live", "pasted"],
    *,
    facts: Mapping[str, Any],
    kb: KnowledgeBase,
    scenario: str | Path | None = None,
    config: str | Path | LiveConfig | None = None,
    pasted: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Every catalogue check once, for the command line. Against the lab, a pair not given is the
    scenario's failing pair (else its working pair). `pasted` command output (`knowledge.reader.command_output`)
    answers before the backends; the "pasted" backend has no other. Returns the results and the facts
    they ran with."""
    if backend == "pasted":
        runner = Runner(_no_backends, kb=kb)
        return await runner.run(CheckRequest(tuple(kb.checks), dict(facts), tuple(pasted)), _quiet), dict(
            facts
        )
    async with build_runner(backend, scenario=scenario, config=config, kb=kb) as runner:
        given = dict(facts)
        if isinstance(runner, LabRunner):
            lab_scenario = runner.lab.ctx.scenario
            pair = lab_scenario.failing_pair or lab_scenario.working_pair
            given.setdefault("requester", pair.requester)
            given.setdefault("target", pair.target)
        results = await runner.run(CheckRequest(tuple(kb.checks), given, tuple(pasted)), _quiet)
    return results, given


@asynccontextmanager
async def _no_backends() -> AsyncIterator[Ports]:
    yield Ports()


async def _quiet(_event: ProgressEvent) -> None:
    return None


def from_lab_endpoints(endpoints: dict[str, object], tenant: str) -> BackendSettings:
    """The real clients, pointed at a running lab (`lab.runtime.RunningLab.endpoints`)."""
    creds = endpoints["credentials"]
    assert isinstance(creds, dict)
    ca = str(endpoints["ca_cert"])
    user, password = str(creds["username"]), str(creds["password"])
    psrp = urlsplit(str(endpoints["psrp"]))
    winrm_servers = endpoints["winrm_servers"]
    assert isinstance(winrm_servers, dict)
    op, read = LAB_TIMEOUTS["operation"], LAB_TIMEOUTS["read"]
    winrm = WinrmSettings(
        endpoints=dict(winrm_servers),
        transport="ntlm",
        username=user,
        password=password,
        ca_file=ca,
        operation_timeout=op,
        read_timeout=read,
    )
    # The lab has no separate management host: the first server's WinRM listener stands in for it.
    management = WinrmSettings(
        endpoints={"MGMT01": str(endpoints["winrm"])},
        transport="ntlm",
        username=user,
        password=password,
        ca_file=ca,
        operation_timeout=op,
        read_timeout=read,
    )
    oauth = {
        "client_id": str(creds["client_id"]),
        "client_secret": str(creds["client_secret"]),
        "tenant_id": str(creds["tenant_id"]),
    }
    hosts = endpoints.get("vdir_hosts") or {}
    assert isinstance(hosts, dict)
    return BackendSettings(
        exchange=PsrpSettings(
            server=psrp.hostname or "127.0.0.1",
            port=psrp.port,
            path=psrp.path.lstrip("/"),
            auth="ntlm",
            username=user,
            password=password,
            ca_file=ca,
            connections=4,
            operation_timeout=op,
            read_timeout=read,
        ),
        exo_host=ExoHostSettings(
            "MGMT01", tenant, app_id=str(creds["client_id"]), certificate_thumbprint="0" * 40
        ),
        exo_host_winrm=management,
        winrm=winrm,
        ews=EwsSettings(
            endpoint=str(endpoints["ews"]),
            auth="basic",
            username=user,
            password=password,
            ca_file=ca,
            timeout=LAB_TIMEOUTS["read"],
        ),
        ews_online=EwsSettings(
            endpoint=str(endpoints["ews"]),
            auth="oauth",
            authority=str(endpoints["token"]),
            ca_file=ca,
            name="Exchange Online EWS",
            timeout=LAB_TIMEOUTS["read"],
            **oauth,
        ),
        graph=GraphSettings(
            authority=str(endpoints["token"]),
            graph_url=str(endpoints["graph"]),
            ca_file=ca,
            timeout=LAB_TIMEOUTS["read"],
            use_environment_proxy=False,
            **oauth,
        ),
        probe=ProbeSettings(ca_file=ca, hosts=dict(hosts), timeout=LAB_TIMEOUTS["read"], only_mapped=True),
    )
