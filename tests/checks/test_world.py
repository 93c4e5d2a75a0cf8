"""The in-process world (`tests/world.py`): patches of a scenario, and ports that fail as the live backends do.
Whether its answers equal the lab's is `test_world_agrees.py` (it starts the lab)."""

from __future__ import annotations

import pytest

from checks.errors import CommandFailed, NotFound
from lab.scenario.load import ScenarioError
from tests.world import FED, TARGET, World, mailbox, merged, scenario, server


def test_a_patch_merges_named_items_and_removes_with_remove() -> None:
    patched = scenario(
        "healthy",
        server("EX03", certificates=[{"thumbprint": FED, "_remove": True}]),
        server("EX03", clock_offset_seconds=-412),
        mailbox(TARGET, block_external_outlook=True),
    )
    ex03, ex04 = patched.server("EX03"), patched.server("EX04")
    assert ex03 is not None and ex04 is not None
    assert FED not in {c.thumbprint for c in ex03.certificates}
    assert len(ex03.certificates) == len(ex04.certificates) - 1  # the rest of EX03 is kept
    assert ex03.clock_offset_seconds == -412 and ex04.clock_offset_seconds == 0
    box = patched.mailbox(TARGET)
    assert box is not None and box.block_external_outlook and box.database == "DB03"
    assert scenario("healthy").mailbox(TARGET).block_external_outlook is False  # type: ignore[union-attr]


def test_merged_patches_keep_both_lists_of_items() -> None:
    both = merged(server("EX01", internet_web_proxy=None), server("EX02", internet_web_proxy=None))
    assert [s["name"] for s in both["organization"]["servers"]] == ["EX01", "EX02"]


def test_a_bad_patch_is_refused_with_its_key_path() -> None:
    with pytest.raises(ScenarioError, match=r"organization\.servers\[\d\]\.clock_offset_seconds"):
        scenario("healthy", server("EX03", clock_offset_seconds="soon"))
    with pytest.raises(ScenarioError, match="nothing to remove"):
        scenario("healthy", server("EX09", _remove=True))


async def test_cmdlets_answer_rows_as_the_psrp_backend_reads_them() -> None:
    ports, _fakes = World().ports()
    assert ports.exchange is not None
    (row,) = await ports.exchange.run("Get-Mailbox", {"Identity": TARGET})
    assert row["PrimarySmtpAddress"] == TARGET and "ToString" in row
    with pytest.raises(NotFound, match="couldn't be found"):
        await ports.exchange.run("Get-Mailbox", {"Identity": "nobody@contoso.com"})
    with pytest.raises(CommandFailed, match="is not recognized"):
        await ports.exchange.run("Get-Nothing")


async def test_host_templates_fail_as_powershell_does_and_online_goes_through_the_management_host() -> None:
    ports, fakes = World().ports()
    assert ports.host is not None and ports.exchange_online is not None
    with pytest.raises(CommandFailed, match="must be a list of strings"):
        await ports.host.run("EX01", "registry-values", {"path": "HKLM:\\X", "names": "Enabled"})
    (config,) = await ports.exchange_online.run("Get-OrganizationConfig")
    assert config["EwsEnabled"] is True
    assert [operation for operation, _args in fakes["online"].calls] == ["exo-cmdlets"]
