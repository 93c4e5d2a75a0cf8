"""The loader rejects each kind of broken knowledge with a message naming the file, the id and the key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.loader import DATA_DIR, KnowledgeError, load_knowledge, load_knowledge_from


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    return copy


def edit(path: Path, change: Callable[[Any], None]) -> None:
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(content)
    path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")


def problems(data: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge_from(data)
    return caught.value.problems


def first_cause(content: Any) -> dict[str, Any]:
    cause: dict[str, Any] = content["causes"][0]
    return cause


def test_bundled_knowledge_loads_once() -> None:
    kb = load_knowledge()
    assert load_knowledge() is kb
    assert {"federation-cert-missing-on-site", "sharing-subscription-without-permission"} <= set(kb.causes)
    assert {"owa-internalurl-not-https", "owa-target-vdir-not-ssl"} <= set(kb.causes)


def test_unknown_key_names_file_id_and_key(data: Path) -> None:
    edit(data / "causes/federation_dauth.yaml", lambda c: first_cause(c).update(severity="high"))
    [problem] = problems(data)
    assert problem.endswith(
        "causes/federation_dauth.yaml: cause 'federation-cert-missing-on-site': severity: unknown key"
    )


def test_unknown_key_in_an_indicator(data: Path) -> None:
    edit(data / "causes/federation_dauth.yaml", lambda c: first_cause(c)["indicators"][0].update(wieght=0.3))
    [problem] = problems(data)
    assert problem.endswith("cause 'federation-cert-missing-on-site': indicators[0].wieght: unknown key")


def test_duplicate_cause_id_across_files(data: Path) -> None:
    owa = yaml.safe_load((data / "causes/owa_cross_site_proxy.yaml").read_text(encoding="utf-8"))
    edit(data / "causes/federation_dauth.yaml", lambda c: c["causes"].append(owa["causes"][0]))
    found = problems(data)
    assert any("cause 'owa-internalurl-not-https'" in p and "duplicate id" in p for p in found)


def test_duplicate_yaml_key_is_an_error(data: Path) -> None:
    path = data / "symptoms.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "symptoms: []\n", encoding="utf-8")
    assert any("symptoms.yaml" in p and "duplicate key 'symptoms'" in p for p in problems(data))


def test_dangling_remediation_reference(data: Path) -> None:
    edit(
        data / "causes/federation_dauth.yaml",
        lambda c: first_cause(c)["remediations"].append("reboot-everything"),
    )
    assert any(
        "cause 'federation-cert-missing-on-site'" in p and "unknown remediation 'reboot-everything'" in p
        for p in problems(data)
    )


def test_dangling_symptom_and_case_references(data: Path) -> None:
    def change(content: Any) -> None:
        first_cause(content)["symptoms"].append("printer-on-fire")
        first_cause(content)["cases"].append("no-such-case")

    edit(data / "causes/federation_dauth.yaml", change)
    found = problems(data)
    assert any("symptoms[" in p and "unknown symptom 'printer-on-fire'" in p for p in found)
    assert any("cases[" in p and "unknown reference case 'no-such-case'" in p for p in found)


def test_unknown_check_id(data: Path) -> None:
    edit(data / "causes/federation_dauth.yaml", lambda c: first_cause(c)["checks"].append("ping-everything"))
    assert any("checks[" in p and "unknown check id 'ping-everything'" in p for p in problems(data))


def test_unknown_check_id_in_a_symptom(data: Path) -> None:
    edit(data / "symptoms.yaml", lambda c: c["symptoms"][0]["checks"].append("ping-everything"))
    assert any("symptom 'freebusy-cloud-to-onprem'" in p and "ping-everything" in p for p in problems(data))


def test_unknown_fact_in_an_indicator(data: Path) -> None:
    edit(
        data / "causes/federation_dauth.yaml",
        lambda c: first_cause(c)["indicators"][0].update(fact="moon.phase"),
    )
    assert any("indicators[0].fact: unknown fact 'moon.phase'" in p for p in problems(data))


def test_unreachable_tree_node(data: Path) -> None:
    orphan = {"id": "orphan", "kind": "text", "asks": ["pasted"], "prompt": "?", "next": [{"goto": "checks"}]}
    edit(data / "tree.yaml", lambda c: c["nodes"].append(orphan))
    assert any("tree.yaml: node 'orphan': unreachable from the root 'symptom'" in p for p in problems(data))


def test_tree_transition_to_unknown_node(data: Path) -> None:
    edit(data / "tree.yaml", lambda c: c["nodes"][0].update(next=[{"goto": "nowhere"}]))
    found = problems(data)
    assert any("node 'symptom': next[0].goto: unknown node 'nowhere'" in p for p in found)


def test_remediation_parameter_no_fact_can_fill(data: Path) -> None:
    def change(content: Any) -> None:
        content["remediations"][0]["params"][0]["fact"] = "fedcert.made_up"

    edit(data / "remediations/seeds.yaml", change)
    assert any(
        "remediation 'copy-federation-certificate': params[0].fact: no fact 'fedcert.made_up' can fill parameter SourceServer"
        in p
        for p in problems(data)
    )


def test_remediation_parameter_from_a_fact_no_check_establishes(data: Path) -> None:
    edit(
        data / "checks.yaml",
        lambda c: next(k for k in c["checks"] if k["id"] == "federation-certificates")["establishes"].remove(
            "fedcert.source_server"
        ),
    )
    assert any(
        "params[0].fact: no check establishes 'fedcert.source_server' to fill parameter SourceServer" in p
        for p in problems(data)
    )


def test_remediation_placeholder_without_parameter(data: Path) -> None:
    edit(
        data / "remediations/seeds.yaml",
        lambda c: c["remediations"][0]["commands"].append("Restart-Service {Svc}"),
    )
    assert any(
        "remediation 'copy-federation-certificate'" in p and "uses {Svc} but params declare no Svc" in p
        for p in problems(data)
    )


def test_condition_needs_exactly_one_operator(data: Path) -> None:
    edit(
        data / "causes/federation_dauth.yaml",
        lambda c: first_cause(c)["indicators"][0].update(equals="x"),
    )
    assert any("takes exactly one of" in p for p in problems(data))


def test_bad_regex_in_a_signature(data: Path) -> None:
    edit(data / "signatures/general.yaml", lambda c: c["signatures"][0].update(pattern="(unclosed"))
    assert any(
        "signature 'connection-forcibly-closed'" in p and "not a valid regular expression" in p
        for p in problems(data)
    )


def test_every_problem_is_reported_at_once(data: Path) -> None:
    def change(content: Any) -> None:
        first_cause(content)["checks"].append("ping-everything")
        first_cause(content)["remediations"].append("reboot-everything")

    edit(data / "causes/federation_dauth.yaml", change)
    assert len(problems(data)) >= 2


def test_unknown_fact_in_an_also_condition(data: Path) -> None:
    edit(
        data / "causes/federation_dauth.yaml",
        lambda c: first_cause(c)["indicators"][0].update(also=[{"fact": "moon.phase", "equals": "full"}]),
    )
    assert any("indicators[0].also[0].fact: unknown fact 'moon.phase'" in p for p in problems(data))


def test_a_records_fact_fills_a_parameter_only_through_a_field_of_one_records_fact_per_line(
    data: Path,
) -> None:
    def change(content: Any) -> None:
        by_id = {r["id"]: r for r in content["remediations"]}
        by_id["set-owa-internalurl-https"]["params"][0].pop("field")  # records fact, no field
        by_id["require-ssl-on-owa-vdir"]["params"][1]["fact"] = (
            "owa.target.suggested_internal_url"  # field, string fact
        )
        by_id["copy-federation-certificate"]["params"][0] = {
            "name": "SourceServer",
            "type": "server",
            "fact": "owa.site.https_403",
            "field": "server",
            "description": "Mixed with another records fact on one line.",
        }
        by_id["copy-federation-certificate"]["params"].append(
            {
                "name": "Other",
                "type": "server",
                "fact": "ecp.site.https_403",
                "field": "server",
                "description": "The other records fact.",
            }
        )
        by_id["copy-federation-certificate"]["commands"].append("Get-Item {SourceServer} {Other}")

    edit(data / "remediations/seeds.yaml", change)
    found = problems(data)
    assert any(
        "'set-owa-internalurl-https': params[0].fact: fact 'owa.site.http_internal_urls' is records; parameter TargetVdir needs a field"
        in p
        for p in found
    ), found
    assert any(
        "'require-ssl-on-owa-vdir': params[1].fact: parameter TargetUrl names field 'url' of "
        "'owa.target.suggested_internal_url', not records" in p
        for p in found
    ), found
    assert any(
        "'copy-federation-certificate': one line names the fields of several records facts "
        "(ecp.site.https_403, owa.site.https_403)" in p
        for p in found
    ), found
