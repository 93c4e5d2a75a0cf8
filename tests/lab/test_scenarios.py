"""Scenario files: the bundled ones load and make sense; bad ones fail naming the file and the key."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest

from lab.scenario.load import SCENARIO_DIR, ScenarioError, bundled_scenario_names, load_scenario, resolve_time

# The cause ids the lab contract asks the bundled scenarios to use.
CONTRACT_CAUSES = {
    "federation-cert-missing-on-site",
    "sharing-subscription-without-permission",
    "owa-internalurl-not-https",
    "owa-target-vdir-not-ssl",
    "orgrel-domain-missing",
    "orgrel-freebusy-disabled",
    "ioc-target-domain-missing",
    "oauth-auth-certificate-missing",
    "dedicated-hybrid-app-not-activated",
    "default-calendar-permission-none",
    "ews-internalnlbbypassurl-wrong",
    "availability-address-space-mismatch",
    "ecp-internalurl-not-https",
    "internet-web-proxy-missing",
    "internet-web-proxy-https-scheme",
    "ews-target-internalurl-not-https",
    "owa-proxy-kerberos-spn-missing",
}
# Scenarios with several faults at once, each a contract cause: named for what they combine, not for one cause.
COMBINED = {"owa-branch-two-servers"}
# A contract cause again, on the other side of the hybrid (the fix runs in Exchange Online).
VARIANTS = {"exo-orgrel-freebusy-disabled"}


def test_every_bundled_scenario_loads_with_two_pairs() -> None:
    names = bundled_scenario_names()
    assert len(names) == 20
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.mailbox(scenario.working_pair.requester) is not None
        if name == "healthy":
            assert scenario.failing_pair is None and scenario.expected_causes == []
            continue
        assert scenario.failing_pair is not None and scenario.expected_causes
        assert scenario.failing_pair != scenario.working_pair
        assert any(not m.display_name.isascii() for m in scenario.mailboxes)


def test_every_contract_cause_has_a_scenario_named_after_it() -> None:
    causes = {cause for name in bundled_scenario_names() for cause in load_scenario(name).expected_causes}
    assert causes == CONTRACT_CAUSES
    seeds = {
        "seed-000-federation-cert",
        "seed-001-sharing-subscription",
        "seed-002-owa-internalurl-http",
        "seed-002-owa-vdir-403",
    }
    assert set(bundled_scenario_names()) == {"healthy"} | seeds | COMBINED | VARIANTS | (
        CONTRACT_CAUSES - {c for s in seeds for c in load_scenario(s).expected_causes}
    )
    for name in COMBINED:
        assert len(load_scenario(name).expected_causes) >= 2


def test_broken_pairs_answer_with_an_error_and_working_pairs_do_not() -> None:
    for name in bundled_scenario_names():
        scenario = load_scenario(name)
        assert (
            scenario.availability_error(scenario.working_pair.requester, scenario.working_pair.target) is None
        )
        if scenario.failing_pair and not name.startswith(
            ("seed-002", "ecp-", "owa-")
        ):  # OWA/ECP proxying, not free/busy
            assert (
                scenario.availability_error(scenario.failing_pair.requester, scenario.failing_pair.target)
                is not None
            )


def test_seed_000_differs_from_healthy_only_where_it_should() -> None:
    healthy, seed = load_scenario("healthy"), load_scenario("seed-000-federation-cert")
    fed = healthy.organization.federation_trust
    assert fed is not None
    holders = {
        s.name
        for s in seed.organization.servers
        if any(c.thumbprint == fed.org_certificate for c in s.certificates)
    }
    assert holders == {"EX01", "EX02"}
    assert [len(s.certificates) for s in seed.organization.servers] == [4, 4, 3, 3]
    assert (
        seed.organization.servers[2].virtual_directories
        == healthy.organization.servers[2].virtual_directories
    )
    assert [e.id for e in seed.organization.servers[0].events] == [4002, 4002]
    assert seed.organization.sites == healthy.organization.sites


def test_relative_times_resolve_against_the_lab_start() -> None:
    anchor = datetime.datetime(2026, 3, 10, 15, 45, tzinfo=datetime.UTC)
    assert resolve_time("now-25m", anchor) == datetime.datetime(2026, 3, 10, 15, 20, tzinfo=datetime.UTC)
    assert resolve_time("today+1d@09:30", anchor) == datetime.datetime(
        2026, 3, 11, 9, 30, tzinfo=datetime.UTC
    )
    assert resolve_time("2025-06-02T08:00:00Z", anchor) == datetime.datetime(
        2025, 6, 2, 8, tzinfo=datetime.UTC
    )


def write(tmp_path: Path, text: str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_for(path: Path) -> str:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    message = str(raised.value)
    assert message.startswith(str(path))
    return message


BASE = f"extends: {SCENARIO_DIR / 'healthy.yaml'}\nname: broken\ndescription: test\n"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "organization:\n  servers:\n    - name: EX02\n      certs: []\n")
    assert "organization.servers[1].certs: Extra inputs are not permitted" in error_for(path)


def test_wrong_type_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "organization:\n  sites:\n    - {name: HQ, internet_facing: perhaps}\n")
    assert "organization.sites[0].internet_facing: Input should be a valid boolean" in error_for(path)


def test_dangling_database_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "mailboxes:\n  - {address: bjorn@contoso.com, database: DB99}\n")
    assert "mailboxes[2].database: unknown database 'DB99' (known: DB01, DB02, DB03, DB04)" in error_for(path)


def test_dangling_site_and_server_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + "organization:\n  servers:\n    - {name: EX04, site: Lisbon}\n  databases:\n    - {name: DB05, server: EX09}\n",
    )
    message = error_for(path)
    assert "organization.servers[3].site: unknown site 'Lisbon' (known: HQ, Branch)" in message
    assert "organization.databases[4].server: unknown server 'EX09'" in message


def test_pair_with_unknown_mailbox_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + "failing_pair: {requester: alice@contoso.com, target: zoe@contoso.com}\nexpected_causes: [x]\n",
    )
    assert "failing_pair.target: no mailbox 'zoe@contoso.com'" in error_for(path)


def test_bad_time_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + "organization:\n  servers:\n    - name: EX01\n      events:\n        - {provider: X, id: 1, time_created: yesterday, message: m}\n",
    )
    assert "organization.servers[0].events[0].time_created: Value error, 'yesterday' is neither" in error_for(
        path
    )


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "name: bare\ndescription: no organisation\n")
    message = error_for(path)
    assert "organization: Field required" in message and "mailboxes: Field required" in message


def test_remove_of_unknown_item_and_unknown_base(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "organization:\n  servers:\n    - {name: EX07, _remove: true}\n")
    assert "organization.servers: nothing to remove with name 'EX07'" in error_for(path)
    path = write(tmp_path, "extends: nowhere.yaml\nname: x\n", "orphan.yaml")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(path)


def test_not_yaml_and_unknown_names(tmp_path: Path) -> None:
    path = write(tmp_path, "name: [unclosed\n")
    assert "not valid YAML" in error_for(path)
    with pytest.raises(
        ScenarioError, match=r"unknown scenario \(known: availability-address-space-mismatch, "
    ):
        load_scenario("no-such-scenario")


def test_extends_merges_named_items(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + "working_pair: {requester: alice@contoso.com, target: carol@contoso.com}\n"
        + "organization:\n  servers:\n    - name: EX03\n      virtual_directories:\n        owa: {internal_url: http://ex03.contoso.com/owa}\n"
        + "      certificates:\n        - {thumbprint: 8D37A94BACF7D92FECCF29F8EE8F71F4EFB3701B, _remove: true}\n",
    )
    scenario = load_scenario(path)
    ex03 = scenario.server("EX03")
    assert ex03 is not None
    assert ex03.virtual_directories.owa.internal_url == "http://ex03.contoso.com/owa"
    assert ex03.virtual_directories.owa.authentication == ["Basic", "Fba"]  # kept from the base
    assert len(ex03.certificates) == 3
    assert [s.name for s in scenario.organization.servers] == ["EX01", "EX02", "EX03", "EX04"]
