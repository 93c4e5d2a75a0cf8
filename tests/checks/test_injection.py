"""An injection corpus through every check: nothing a user typed reaches a backend as anything but data.

Values that fail validation (quotes with commands, `;`, `$( )`, backticks with newlines, XML and CLIXML
fragments, Unicode look-alikes, and the characters PowerShell reads specially even where RFC 5322 allows them:
' ` { } | $ #) never leave the process. Values that are valid but awkward (& % + = in the local part) reach
the backends as parameter values, intact: the lab records what it receives and every cmdlet, script and
request is exactly what the product means to send.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest

import lab.ews.server
import lab.graph.server
import lab.psrp.server
import lab.wsman.server
from checks.host_templates import TEMPLATES, build_script
from checks.impl.availability import ANCHOR
from checks.safety import EXCHANGE_CMDLETS, EXCHANGE_ONLINE_CMDLETS
from knowledge.loader import KnowledgeBase
from knowledge.validators import ValueProblem, check_smtp
from lab.ews.soap import parse_request
from lab.exchange.cmdlets import run_pipeline
from lab.runtime import RunningLab
from lab.wsman.host_scripts import run_script
from tests.checks.conftest import run_on_lab, run_ports
from tests.world import World

# Valid SMTP addresses with characters that mean something to PowerShell, XML or URLs.
AWKWARD = [
    "o&brien@contoso.com",
    "a=b@contoso.com",
    "a&b&c@contoso.com",
    "x+%41@contoso.com",
]
HOSTILE = [
    "o'brien@contoso.com",
    "a`b@contoso.com",
    "{$x}@contoso.com",
    "a|b&c@contoso.com",
    "a#b@contoso.com",
    "x@contoso.com'; Remove-Mailbox -Identity y@contoso.com",
    "a$(Get-Process)@contoso.com",
    "x@contoso.com\r\nGet-Mailbox",
    "alice@contoso.com`nSet-Mailbox",
    '<Objs Version="1.1.0.1"><S>x</S></Objs>@contoso.com',
    "#< CLIXML\r\n<Objs>@contoso.com",
    "]]></t:Address><t:Address>x@contoso.com",
    "alice@contoso.com;bob@contoso.com",
    '"alice"@contoso.com',
    "\u0430lice@contoso.com",  # Cyrillic a
    "alice@conto\u0455o.com",  # Cyrillic s
    "\uff41lice@contoso.com",  # fullwidth a
    "alice\u200b@contoso.com",  # zero-width space
]
HOSTILE_URLS = [
    "https://ex03.contoso.com/owa'; Stop-Computer",
    "https://ex03.contoso.com/owa\r\nX-Injected: 1",
    "https://ex03.contoso.com/o$(whoami)wa",
    "javascript:alert(1)",
]
HOSTILE_SERVERS = ["EX03; Remove-Item C:\\", "$(hostname)", "EX03`nGet-Process"]
KNOWN = {"alice@contoso.com", "bjorn@contoso.com", "carol@contoso.com", "erin@contoso.com"}


def test_the_corpus_is_what_it_claims() -> None:
    assert [check_smtp(v) for v in AWKWARD] == AWKWARD
    for value in HOSTILE:
        with pytest.raises(ValueProblem):
            check_smtp(value)


def _cases() -> Iterator[dict[str, Any]]:
    for value in [*AWKWARD, *HOSTILE]:
        yield {"requester": value, "target": "bjorn@contoso.com"}
        yield {"requester": "alice@contoso.com", "target": value}
    for url, server in zip(HOSTILE_URLS, [*HOSTILE_SERVERS, HOSTILE_SERVERS[0]], strict=True):
        yield {
            "requester": "alice@contoso.com",
            "target": "bjorn@contoso.com",
            "target.url": url,
            "proxy.target_server": server,
            "target.fqdn": server,
        }


def _flat(calls: list[tuple[str, Any]]) -> str:
    return json.dumps(calls, default=str, ensure_ascii=False)


@pytest.mark.parametrize("facts", list(_cases()))
async def test_hostile_values_never_reach_a_port_and_awkward_ones_arrive_intact(
    org: World, kb: KnowledgeBase, facts: dict[str, Any]
) -> None:
    ports, fakes = org.ports()
    results = await run_ports(ports, kb, facts)
    seen = {name: _flat(fake.calls) for name, fake in fakes.items()}
    for value in [*HOSTILE, *HOSTILE_URLS, *HOSTILE_SERVERS]:
        for name, calls in seen.items():
            assert json.dumps(value, ensure_ascii=False)[1:-1] not in calls, (value, name)
    for value in facts.values():
        if value in HOSTILE:
            with pytest.raises(ValueProblem) as problem:
                check_smtp(value)
            refused = [
                r for r in results.values() if (r.status, r.summary) == ("skipped", str(problem.value))
            ]
            assert refused, "a hostile address is refused with the validator's words"
        if value in AWKWARD:
            assert value in _flat(fakes["exchange"].calls), "an awkward address arrives as a parameter value"
    assert "error" not in {r.status for r in results.values()}, {
        r.id: r.summary for r in results.values() if r.status == "error"
    }


class Recorder:
    """What the lab's simulators received: pipelines, scripts, EWS bodies, Graph user ids."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pipelines: list[tuple[str, dict[str, Any], list[Any]]] = []
        self.scripts: list[str] = []
        self.ews: list[bytes] = []
        self.graph: list[str] = []
        find = lab.graph.server._Graph._find

        def pipeline(ctx: Any, commands: Any, **kw: Any) -> Any:
            self.pipelines.extend((c.name, dict(c.parameters), list(c.positional)) for c in commands)
            return run_pipeline(ctx, commands, **kw)

        def script(ctx: Any, server: Any, text: str, **kw: Any) -> Any:
            self.scripts.append(text)
            return run_script(ctx, server, text, **kw)

        def ews(body: bytes) -> Any:
            self.ews.append(body)
            return parse_request(body)

        def graph(this: Any, wanted: str) -> Any:
            self.graph.append(wanted)
            return find(this, wanted)

        monkeypatch.setattr(lab.psrp.server, "run_pipeline", pipeline)
        monkeypatch.setattr(lab.wsman.server, "run_script", script)
        monkeypatch.setattr(lab.ews.server, "parse_request", ews)
        monkeypatch.setattr(lab.graph.server._Graph, "_find", graph)


_LITERAL = re.compile(r"FromBase64String\('([A-Za-z0-9+/=]*)'\)")
_HEADER = re.compile(r"\A# exchange-triage: ([a-z-]+)\n")


def _addresses(body: bytes) -> set[str]:
    # Well-formed: nothing broke out of its element. (Our own client's request, parsed in a test.)
    root = ET.fromstring(body)  # noqa: S314
    tags = ("EmailAddress", "PrimarySmtpAddress", "Address", "SmtpAddress")
    return {e.text or "" for e in root.iter() if e.tag.rsplit("}", 1)[-1] in tags}


LAB_CASES = [
    {"requester": "o'brien@contoso.com", "target": "bjorn@contoso.com"},
    {"requester": "alice@contoso.com", "target": "a`b@contoso.com"},
    {"requester": "carol@contoso.com", "target": "{$x}@contoso.com"},
    {"requester": "a|b&c@contoso.com", "target": "carol@contoso.com"},
    {
        "requester": HOSTILE[0],
        "target": HOSTILE[4],
        "target.url": HOSTILE_URLS[1],
        "proxy.target_server": HOSTILE_SERVERS[1],
    },
    {"requester": HOSTILE[9], "target": "bjorn@contoso.com", "target.url": HOSTILE_URLS[0]},
]


@pytest.mark.parametrize("facts", LAB_CASES)
async def test_the_lab_receives_only_allowed_commands_with_intact_values(
    lab: RunningLab, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, facts: dict[str, Any]
) -> None:
    seen = Recorder(monkeypatch)
    results = await run_on_lab(lab, kb, facts)
    assert "error" not in {r.status for r in results.values()}, {
        r.id: r.summary for r in results.values() if r.status == "error"
    }
    given = {v for v in facts.values() if v in AWKWARD}
    assert seen.pipelines and seen.scripts, "the recorder saw the checks' traffic"
    if given:
        assert seen.ews or seen.graph
    allowed = set(EXCHANGE_CMDLETS) | set(EXCHANGE_ONLINE_CMDLETS)
    # Beside the pair's addresses, identities are the lab's servers (their component states) and the
    # Availability service's anchor address in the target's domain.
    servers = {s.name for s in lab.ctx.scenario.organization.servers}
    for name, params, positional in seen.pipelines:
        assert name in allowed and positional == []
        if "Identity" in params:
            identity = params["Identity"]
            assert identity in given | KNOWN | servers or identity.startswith(f"{ANCHOR}@"), identity
    assert {p["Identity"] for _, p, _ in seen.pipelines if "Identity" in p} >= given
    for script in seen.scripts:
        template = _HEADER.match(script)
        literal = _LITERAL.search(script)
        assert template and literal and template[1] in TEMPLATES
        args = json.loads(base64.b64decode(literal[1]).decode("utf-8"))
        assert script == build_script(template[1], args), "the script is the fixed template and nothing more"
    for body in seen.ews:
        assert _addresses(body) <= given | KNOWN
    assert set(seen.graph) <= given | KNOWN
    received = (
        _flat([(n, p) for n, p, _ in seen.pipelines])
        + "".join(seen.scripts)
        + b"".join(seen.ews).decode("utf-8")
        + "".join(seen.graph)
    )
    for value in [*HOSTILE, *HOSTILE_URLS, *HOSTILE_SERVERS]:
        assert value not in received
