"""The read-only allow-list: anything else is refused in-process, before a byte reaches Exchange."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import lab.psrp.server
from checks.backends.psrp import PsrpExchange
from checks.errors import Refused
from checks.safety import EXCHANGE_CMDLETS, EXCHANGE_ONLINE_CMDLETS, guard_cmdlet
from lab.exchange.cmdlets import run_pipeline
from lab.runtime import RunningLab
from triage.backends import from_lab_endpoints

# cmdlet, parameters, words the refusal holds
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("Set-OrganizationRelationship", {"Identity": "Contoso", "FreeBusyAccessEnabled": True}, "read-only"),
    ("Remove-Mailbox", {"Identity": "alice@contoso.com"}, "read-only"),
    ("New-OrganizationRelationship", {"Name": "Fabrikam"}, "read-only"),
    ("New-MailboxExportRequest", {}, "read-only"),
    ("get-mailbox", {"Identity": "alice@contoso.com"}, "read-only"),  # only the exact name is listed
    ("Get-Mailbox", {"Filter": "*"}, "takes no parameter 'Filter'"),
    ("Get-OrganizationRelationship", {"Identity": "Contoso"}, "takes no parameter 'Identity'"),
    ("Get-Mailbox", {"Identity": "x@contoso.com'; Remove-Mailbox -Identity y"}, "Get-Mailbox -Identity"),
    ("Get-ExchangeServer", {"Identity": "EX01; Stop-Computer"}, "Get-ExchangeServer -Identity"),
    ("Get-MailboxDatabase", {"Status": False}, "switch"),
]
IDS = [f"{c}-{'-'.join(p) or 'none'}" for c, p, _ in REFUSED]
LISTS = {"exchange": EXCHANGE_CMDLETS, "exchange-online": EXCHANGE_ONLINE_CMDLETS}


@pytest.mark.parametrize(("cmdlet", "params", "words"), REFUSED, ids=IDS)
@pytest.mark.parametrize("allowed", list(LISTS), ids=list(LISTS))
def test_guard_cmdlet_refuses(cmdlet: str, params: dict[str, Any], words: str, allowed: str) -> None:
    with pytest.raises(Refused) as refusal:
        guard_cmdlet(cmdlet, params, LISTS[allowed], backend="Exchange PowerShell")
    assert refusal.value.backend == "Exchange PowerShell"
    if cmdlet in LISTS[allowed] or words == "read-only":
        assert words in refusal.value.message, refusal.value.message


@pytest.mark.parametrize("allowed", list(LISTS), ids=list(LISTS))
def test_every_allowed_cmdlet_only_reads(allowed: str) -> None:
    assert LISTS[allowed]
    for cmdlet in LISTS[allowed]:
        assert cmdlet.startswith(("Get-", "Test-")), cmdlet


class _Pipelines:
    """Every pipeline the lab's PSRP endpoint runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []

        def recording(ctx: Any, commands: Any, **kw: Any) -> Any:
            self.names.extend(c.name for c in commands)
            return run_pipeline(ctx, commands, **kw)

        monkeypatch.setattr(lab.psrp.server, "run_pipeline", recording)


@pytest.mark.parametrize("online", [False, True], ids=["exchange", "exchange-online"])
async def test_the_live_psrp_port_refuses_and_the_lab_sees_nothing(
    lab: RunningLab, monkeypatch: pytest.MonkeyPatch, online: bool
) -> None:
    seen = _Pipelines(monkeypatch)
    settings = from_lab_endpoints(dict(lab.endpoints), lab.ctx.scenario.exchange_online.tenant).exchange
    assert settings is not None
    with ThreadPoolExecutor(2) as executor:
        path = lab.endpoints["psrp_online"].rsplit("/", 1)[1] if online else settings.path
        chosen = dataclasses.replace(settings, connections=1, online=online, path=path)
        port = PsrpExchange(chosen, executor)
        try:
            await port.open()
            for cmdlet, params, _words in REFUSED:
                with pytest.raises(Refused):
                    await port.run(cmdlet, params)
            # The same connection runs an allowed cmdlet: the recorder would have seen the others.
            assert await port.run("Get-AcceptedDomain")
        finally:
            await port.close()
    assert seen.names == ["Get-AcceptedDomain"]
