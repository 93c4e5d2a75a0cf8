"""Which write ports a live configuration gives: Exchange Online through the management host with the write app,
on-premises mailboxes over EWS with the write account; a plan needing one that is not configured is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from checks.backends.ews import EwsSettings
from checks.backends.exo_write import ExoWriteSettings
from checks.config import load_config
from knowledge.fix_plan import plan_fix
from knowledge.loader import load_knowledge
from triage.writers import live_writers, missing_writer

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "live-backend.example.yaml"
KB = load_knowledge()


def _config(tmp_path: Path, **write: Any) -> Any:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data["write"].update(write)
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRIAGE_EXCHANGE_PASSWORD", "TRIAGE_GRAPH_SECRET", "TRIAGE_WRITE_PASSWORD"):
        monkeypatch.setenv(name, "not-used")


def test_exchange_online_writes_use_the_write_app_on_the_management_host_as_the_write_account(
    tmp_path: Path,
) -> None:
    app, thumbprint = "66666666-7777-8888-9999-000000000000", "89ABCDEF" * 5
    writers = live_writers(
        _config(tmp_path, exchange_online_app_id=app, exchange_online_certificate_thumbprint=thumbprint)
    )
    online = writers["online"]
    assert isinstance(online, ExoWriteSettings)
    assert online.exo.app_id == app and online.exo.certificate_thumbprint == thumbprint
    assert online.exo.host == "MGMT01" and online.exo.organization == "contoso.onmicrosoft.com"
    assert online.winrm.username == "CONTOSO\\triage-fix" and online.winrm.endpoints == {
        "MGMT01": "https://mgmt01.contoso.com:5986/wsman"
    }
    ews = writers["ews"]
    assert isinstance(ews, EwsSettings) and ews.username == "CONTOSO\\triage-fix"
    assert ews.endpoint == "https://mail.contoso.com/EWS/Exchange.asmx" and ews.access == "impersonation"


def test_without_the_write_app_a_cloud_side_plan_is_refused_and_says_why(tmp_path: Path) -> None:
    writers = live_writers(_config(tmp_path))
    assert "online" not in writers
    facts: dict[str, Any] = {"orgrel.name": "O365 to On-premises - 1", "orgrel.freebusy_level": "None"}
    cloud = plan_fix(KB.remediations["enable-orgrel-freebusy"], {**facts, "orgrel.side": "online"})
    on_premises = plan_fix(KB.remediations["enable-orgrel-freebusy"], {**facts, "orgrel.side": "onprem"})
    assert cloud is not None and on_premises is not None
    assert missing_writer(cloud, writers) == "no write access is configured for the online side"
    assert missing_writer(on_premises, writers) == ""
    removal = plan_fix(
        KB.remediations["remove-stale-sharing-subscription"],
        {
            "requester": "carol@contoso.com",
            "sharing.subscription_sharer": "erin@contoso.com",
            "requester.location": "online",
        },
    )
    assert removal is not None
    assert missing_writer(removal, writers) == "no write access to online mailboxes over EWS is configured"
