"""One fixture world: the check ports answered in-process from a lab scenario (`lab/scenarios/*.yaml`).

The lab's listeners serve a scenario over PSRP, WS-Management, EWS, Graph and HTTPS; the fakes here answer
the same ports (`checks.ports`) from the same scenario with the lab's own translations, without a socket:
cmdlets through `lab.exchange.cmdlets.run_pipeline` (its objects serialised and read back as the PSRP client
reads them), host templates through `lab.wsman.host_scripts.run_script` (the script the WinRM backend would
send), Exchange Online through the product's `ExoHost` over that host, the HTTPS probe through
`lab.iis.vdirs.answer_for`, Graph's free/busy through `lab.graph.server.schedule_information`. The rest of the
mailboxes (EWS, Graph) and Entra's key credentials read the scenario the way the lab's EWS and Graph
simulators render it (with their permission mappings), and `tests/checks/test_world_agrees.py` runs every
bundled scenario both ways and compares the facts, so the fakes and the lab cannot drift apart.

A variant organisation (a fault) is a scenario too: `scenario("healthy", patch)` merges `patch` on top as a
file that `extends:` it would (`server("EX03", certificates=[{"thumbprint": FED, "_remove": True}])`).
Every fake keeps the `checks.testing` fakes' knobs: `calls`, `failures`, `delays`, `latency`.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import copy
import dataclasses
import datetime
import functools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pypsrp.serializer import Serializer

from checks.api import CheckRequest, CheckResult, Progress, ProgressEvent
from checks.backends.ews import EWS_RIGHTS
from checks.backends.exo_host import ExoHost, ExoHostSettings
from checks.backends.graph import GRAPH_ROLES
from checks.backends.psrp import plain
from checks.backends.winrm_host import NAME as WINRM
from checks.backends.winrm_host import clixml_text
from checks.errors import CommandFailed, NotFound, Unreachable
from checks.host_templates import build_script
from checks.ports import FreeBusy, KeyCredential, Permission, Ports, ProbeAnswer, Row, Subscription
from checks.runner import Runner
from checks.testing import FakeDirectory, FakeExchange, FakeHost, FakeMailboxes, FakeProbe, fixed_ports
from dialogs.testing import FakeCheckRunner
from knowledge.loader import KnowledgeBase, load_knowledge
from lab.context import LabContext, new_credentials
from lab.ews.store import NO_FREE_BUSY_ACCESS, calendar_rights, effective_read_items
from lab.exchange.cmdlets import run_pipeline
from lab.faults import FaultController
from lab.graph.server import graph_role, schedule_information
from lab.iis.vdirs import answer_for
from lab.pki import LabPki, create_pki
from lab.psrp.wire import Command, object_xml
from lab.scenario.load import load_scenario, scenario_with
from lab.scenario.model import Mailbox, Scenario
from lab.wsman.host_scripts import run_script

__all__ = [
    "AUTH",
    "FED",
    "HEALTHY",
    "MAIL",
    "NOW",
    "ONLINE_APP",
    "PAIR",
    "REQUESTER",
    "ROUTING",
    "SEED_000",
    "SEED_001",
    "SEED_002",
    "TARGET",
    "LookupRunner",
    "World",
    "mailbox",
    "merged",
    "online",
    "organization",
    "results_of",
    "run_world",
    "scenario",
    "scenario_runner",
    "server",
]

# The moment every in-process world stands at: the lab's relative times ("now+245d") count from it, and
# the runner's clock reads it, so certificate ages and event windows are the same on every run.
NOW = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
# healthy.yaml's thumbprints and people (every bundled scenario extends it).
FED = "3226500C943B6235AEB493A307F084710FD1D5D0"
AUTH = "CB875168889265EF7B0BD124DB43D388AB2EF6B1"
MAIL = "ED887CD230B2F5B695A3281ADF301F46B245A9E8"
ROUTING = "contoso.mail.onmicrosoft.com"
ONLINE_APP = "00000002-0000-0ff1-ce00-000000000000"
REQUESTER, TARGET = "alice@contoso.com", "bjorn@contoso.com"
PAIR = {"requester": REQUESTER, "target": TARGET}
# The bundled scenarios the conversation's tests talk to.
HEALTHY = "healthy"
SEED_000 = "seed-000-federation-cert"  # alice (cloud) -> bjorn (Branch): EX03 and EX04 lack the certificate
SEED_001 = "seed-001-sharing-subscription"  # carol (HQ) -> erin (cloud): a hidden sharing subscription
SEED_002 = "seed-002-owa-internalurl-http"  # OWA proxying to Branch: EX03's OWA InternalUrl is http://
MANAGEMENT_HOST = "MGMT01"  # the lab's stand-in for the Exchange Online management host
EWS = "Exchange Web Services (EWS)"


# ---- scenarios and patches -------------------------------------------------------------------------


def scenario(name: str = "healthy", *patches: Mapping[str, Any]) -> Scenario:
    """A bundled scenario, with `patches` merged on top in order (as `extends:` merges a file)."""
    if not patches:
        return load_scenario(name)
    return scenario_with(name, merged(*patches))


def merged(*patches: Mapping[str, Any]) -> dict[str, Any]:
    """Several patches as one: mappings merge key by key, lists of items follow one another (the loader
    then merges each named item in turn)."""
    out: dict[str, Any] = {}
    for patch in patches:
        for key, value in patch.items():
            old = out.get(key)
            if isinstance(old, dict) and isinstance(value, Mapping):
                out[key] = merged(old, value)
            elif isinstance(old, list) and isinstance(value, list):
                out[key] = [*old, *value]
            else:
                out[key] = value
    return out


def server(name: str, **changes: Any) -> dict[str, Any]:
    """A patch to one on-premises server (`virtual_directories`, `certificates`, `events`, ...)."""
    return {"organization": {"servers": [{"name": name, **changes}]}}


def organization(**changes: Any) -> dict[str, Any]:
    """A patch to the on-premises organisation's configuration."""
    return {"organization": changes}


def online(**changes: Any) -> dict[str, Any]:
    """A patch to the Exchange Online side."""
    return {"exchange_online": changes}


def mailbox(address: str, **changes: Any) -> dict[str, Any]:
    """A patch to one mailbox (`_remove=True` takes it out)."""
    return {"mailboxes": [{"address": address, **changes}]}


# ---- the lab context an in-process world reads ------------------------------------------------------


@functools.cache
def _pki() -> LabPki:
    # The context wants the lab's certificate authority; nothing in-process uses it, so one is made once.
    pki = create_pki(())
    atexit.register(pki.cleanup)
    return pki


def _context(scenario: Scenario, at: datetime.datetime) -> LabContext:
    return LabContext(
        scenario=scenario,
        faults=FaultController([]),
        credentials=new_credentials(scenario, password="in-process"),
        tls=_pki(),
        started_at=at,
    )


# ---- the ports ----------------------------------------------------------------------------------


_NOT_FOUND = "ManagementObjectNotFoundException"


def _rows(objects: list[Any]) -> list[Row]:
    """Cmdlet output objects as the PSRP backend hands them to the checks: CLIXML read by pypsrp, then
    `checks.backends.psrp.plain`."""
    return [copy.deepcopy(_read_back(object_xml(o))) for o in objects]


@functools.lru_cache(maxsize=8192)
def _read_back(clixml: str) -> Row:
    # By the object's CLIXML: the same object (most of them, test after test) is read once per process.
    found = plain(Serializer().deserialize(ET.fromstring(clixml), clear=True))  # noqa: S314
    return found if isinstance(found, dict) else {"Value": found}


@dataclass
class ScenarioExchange(FakeExchange):
    """ExchangePort: Exchange's on-premises cmdlets, answered by the lab's PSRP endpoint logic."""

    ctx: LabContext | None = None
    name: str = "Exchange PowerShell"

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        await self._enter(cmdlet, dict(params or {}))
        assert self.ctx is not None
        result = run_pipeline(self.ctx, [Command(cmdlet, dict(params or {}))])
        if result.failure is not None:
            raise CommandFailed(self.name, f"{cmdlet}: {result.failure.message}")
        rows = _rows(result.objects)
        if result.errors and not rows:
            first = result.errors[0]
            if _NOT_FOUND in first.category_reason + first.fully_qualified_error_id:
                raise NotFound(self.name, first.message, reason=first.category_reason)
            raise CommandFailed(self.name, f"{cmdlet}: {first.message}", reason=first.category_reason)
        return rows


@dataclass
class ScenarioHost(FakeHost):
    """HostPort: the host templates' scripts (`checks.host_templates`) run by the lab's WinRM host logic.
    `management` names a host that is not an Exchange server (the Exchange Online management host)."""

    ctx: LabContext | None = None
    management: str = ""

    def __post_init__(self) -> None:
        self.handler = self._answer

    def _answer(self, name: str, template: str, args: Mapping[str, Any]) -> Any:
        assert self.ctx is not None
        servers = self.ctx.scenario.organization.servers
        found = servers[0] if name.upper() == self.management.upper() else self.ctx.scenario.server(name)
        if found is None:
            raise Unreachable(WINRM, f"Could not reach the WinRM listener on {name}.")
        result = run_script(self.ctx, found, build_script(template, json.loads(json.dumps(dict(args)))))
        if result.exit_code != 0:
            message = clixml_text(result.stderr).splitlines() or [f"exit code {result.exit_code}"]
            raise CommandFailed(WINRM, f"{template} on {name} failed: {message[0][:200]}")
        out = result.stdout.strip()
        return json.loads(out) if out else None


@dataclass
class ScenarioMailboxes(FakeMailboxes):
    """MailboxPort: a mailbox's calendar as the lab's EWS (`protocol="ews"`) or Graph simulator shows it."""

    ctx: LabContext | None = None

    def _box(self, address: str) -> Mailbox:
        assert self.ctx is not None
        found = self.ctx.scenario.mailbox(address)
        if found is None:
            name = EWS if self.protocol == "ews" else "Microsoft Graph"
            raise NotFound(name, f"{name} has no such mailbox: {address}")
        return found

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]:
        await self._enter("subscriptions", mailbox)
        box = self._box(mailbox)
        return [
            Subscription(sharer=s.sharer_identity, url=s.url, folder="Sharing")
            for s in box.sharing_subscriptions
        ]

    async def calendar_permissions(self, mailbox: str) -> list[Permission]:
        await self._enter("permissions", mailbox)
        out = []
        for entry in self._box(mailbox).calendar_permissions:
            distinguished = entry.user.lower() in ("default", "anonymous")
            user = entry.user.capitalize() if distinguished else entry.user
            if self.protocol == "ews":
                level = calendar_rights(entry).level
                out.append(Permission(user, EWS_RIGHTS.get(level, level)))
            else:
                out.append(Permission(user, GRAPH_ROLES.get(graph_role(entry), "Custom")))
        return out

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        await self._enter("free_busy", [requester, target, start.isoformat(), end.isoformat()])
        assert self.ctx is not None
        asking = self._box(requester)  # the account the request is made as must exist
        if self.protocol == "graph":  # the lab's getSchedule answer, read as GraphMailboxes reads it
            info = schedule_information(self.ctx, asking, target, (start, end), 30)
            error = info.get("error")
            if error:
                return FreeBusy(
                    ok=False, error_code=str(error["responseCode"]), error_message=str(error["message"])
                )
            return FreeBusy(ok=True, slots=len(info.get("scheduleItems") or []))
        # EWS GetUserAvailability as the lab's availability service answers it (lab.ews.availability).
        scenario, ctx = self.ctx.scenario, self.ctx
        broken = scenario.availability_error(requester, target)
        if broken is not None and broken.http_status:
            raise Unreachable(EWS, f"{EWS} failed: HTTP {broken.http_status} {broken.message}")
        if broken is not None:
            return FreeBusy(ok=False, error_code=broken.code, error_message=broken.message)
        box = scenario.mailbox(target)
        if box is None:
            message = f"Unable to resolve e-mail address {target} to an Active Directory object."
            return FreeBusy(ok=False, error_code="ErrorMailRecipientNotFound", error_message=message)
        if effective_read_items(box, asking.address) == "None":
            return FreeBusy(
                ok=False, error_code=NO_FREE_BUSY_ACCESS.code, error_message=NO_FREE_BUSY_ACCESS.text
            )
        slots = [e for e in box.calendar if ctx.time(e.start) < end and ctx.time(e.end) > start]
        return FreeBusy(ok=True, slots=len(slots))


@dataclass
class ScenarioProbe(FakeProbe):
    """ProbePort: each server's IIS as the lab's listener answers, over the lab's trusted certificate."""

    ctx: LabContext | None = None

    async def probe(self, url: str) -> ProbeAnswer:
        await self._enter("probe", url)
        if url in self.answers:
            return self.answers[url]
        if self.default_error:
            return ProbeAnswer(url=url, tls_ok=False, error=self.default_error)
        assert self.ctx is not None
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self.ctx.scenario.server(host) is None:
            return ProbeAnswer(url=url, tls_ok=False, error=f"{host} is not a server of this organisation")
        answer = answer_for(self.ctx.scenario, host, parts.path or "/")
        return ProbeAnswer(
            url=url,
            tls_ok=True,
            cert_name_ok=True,
            cert_trusted=True,
            status=answer.status,
            server_header=answer.headers.get("Server", ""),
        )


def _apps(scenario: Scenario) -> dict[str, list[KeyCredential]]:
    return {
        sp.app_id.lower(): [KeyCredential(t, display_name=sp.display_name) for t in sp.key_thumbprints]
        for sp in scenario.exchange_online.service_principals
    }


@dataclass
class World:
    """One organisation, in-process: ports for the checks and a runner over them."""

    scenario: Scenario = field(default_factory=lambda: load_scenario("healthy"))
    at: datetime.datetime = NOW  # where the scenario's relative times count from
    clock: Callable[[], datetime.datetime] | None = None  # the runner's clock; None: always `at`
    # A network fault rather than configuration: every HTTPS probe fails to connect with this error.
    probe_error: str = ""

    def ports(self, *, latency: float = 0.0, with_online: bool = True) -> tuple[Ports, dict[str, Any]]:
        ctx = _context(self.scenario, self.at)
        exchange = ScenarioExchange(latency=latency, ctx=ctx)
        host = ScenarioHost(latency=latency, ctx=ctx)
        management = ScenarioHost(latency=latency, ctx=ctx, management=MANAGEMENT_HOST)
        tenant = self.scenario.exchange_online.tenant
        exo = ExoHost(ExoHostSettings(MANAGEMENT_HOST, tenant, "in-process", "0" * 40), management)
        onprem = ScenarioMailboxes(latency=latency, protocol="ews", ctx=ctx)
        cloud = ScenarioMailboxes(latency=latency, protocol="graph", ctx=ctx)
        probe = ScenarioProbe(latency=latency, ctx=ctx, default_error=self.probe_error)
        directory = FakeDirectory(latency=latency, apps=_apps(self.scenario))
        ports = Ports(exchange, exo if with_online else None, host, onprem, cloud, probe, directory)
        return ports, {
            "exchange": exchange,
            "online": management,
            "host": host,
            "onprem": onprem,
            "cloud": cloud,
            "probe": probe,
            "directory": directory,
        }

    def runner(self, kb: KnowledgeBase, **port_options: Any) -> Runner:
        ports, _fakes = self.ports(**port_options)
        clock = self.clock or (lambda: self.at)
        return Runner(fixed_ports(ports), kb=kb, clock=clock, check_seconds=5, triage_seconds=10)


async def run_world(
    world: World, kb: KnowledgeBase, facts: Mapping[str, Any] | None = None, *ids: str
) -> dict[str, CheckResult]:
    """Run `ids` (every catalogue check when none) once over `world`; results by id."""

    async def quiet(_event: ProgressEvent) -> None:
        return None

    pair = world.scenario.failing_pair or world.scenario.working_pair
    given = dict(facts) if facts is not None else {"requester": pair.requester, "target": pair.target}
    request = CheckRequest(ids or tuple(kb.checks), given)
    return {r.id: r for r in await world.runner(kb).run(request, quiet)}


@functools.cache
def _kb() -> KnowledgeBase:
    return load_knowledge()


@functools.cache
def results_of(name: str, requester: str = "", target: str = "") -> tuple[CheckResult, ...]:
    """Every catalogue check's result for a pair in a bundled scenario (by default its failing pair, else its
    working pair), run once per process over the in-process world."""
    world = World(load_scenario(name))
    pair = world.scenario.failing_pair or world.scenario.working_pair
    facts = {"requester": requester or pair.requester, "target": target or pair.target}
    # Its own thread and loop: it is asked for from inside the tests' event loops too.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        found = thread.submit(asyncio.run, run_world(world, _kb(), facts)).result()
    return tuple(found.values())


def scenario_runner(name: str, requester: str = "", target: str = "") -> FakeCheckRunner:
    """A check runner for the conversation that answers every check as the checks found scenario `name`
    for the pair (by default the scenario's failing pair)."""
    return FakeCheckRunner(copy.deepcopy(results_of(name, requester, target)))  # each test its own copy


class LookupRunner(FakeCheckRunner):
    """`scenario_runner(name)` whose directory lookup and topology really run over the in-process world with
    each request's facts (who was named changes their answers), as the lab's checks would; `directory=False`:
    no Exchange backend configured, so the lookup is skipped as the runner skips it."""

    LIVE = ("directory-names", "topology")

    def __init__(self, name: str, *patches: Mapping[str, Any], directory: bool = True) -> None:
        super().__init__([copy.deepcopy(r) for r in results_of(name) if r.id not in self.LIVE])
        self.world = World(scenario(name, *patches))
        self.directory = directory

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
        live = tuple(c for c in request.check_ids if c in self.LIVE)
        rest = tuple(c for c in request.check_ids if c not in self.LIVE)
        out = await super().run(dataclasses.replace(request, check_ids=rest), progress) if rest else []
        if not rest:
            self.requests.append(request)
        if live:
            ports, _fakes = self.world.ports()
            if not self.directory:
                ports = dataclasses.replace(ports, exchange=None, exchange_online=None)
            clock = self.world.clock or (lambda: self.world.at)
            runner = Runner(fixed_ports(ports), kb=_kb(), clock=clock, check_seconds=5, triage_seconds=10)
            out += await runner.run(dataclasses.replace(request, check_ids=live), progress)
        return out
