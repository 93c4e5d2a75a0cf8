"""Pasted PowerShell output read back into cmdlet-shaped sections: real-looking pastes, fallbacks, limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.reader.command_output import MAX_PASTE_BYTES, read_command_output
from knowledge.reader.error_text import PasteTooLarge
from knowledge.reader.ps_format import typed_value
from tests.checks.powershell_text import format_list, format_table, shown

PASTES = Path(__file__).parent / "command_pastes"
FED = "3226500C943B6235AEB493A307F084710FD1D5D0"


def _read(name: str) -> list[dict[str, Any]]:
    sections: list[dict[str, Any]] = read_command_output((PASTES / name).read_text(encoding="utf-8"))
    return sections


def _one(sections: list[dict[str, Any]], command: str, **params: Any) -> dict[str, Any]:
    found = [s for s in sections if s["command"] == command and s["params"] == params]
    assert len(found) == 1, [(s["command"], s["params"]) for s in sections]
    return found[0]


def test_a_german_shell_s_federation_output_with_a_table_and_an_unreachable_server() -> None:
    sections = _read("fedcert-de.txt")
    trust = _one(sections, "Get-FederationTrust")["rows"][0]
    assert trust["OrgPrivCertificate"] == FED and trust["OrgPrevPrivCertificate"] is None
    # Calculated properties (OrgCertificate.NotAfter) come back nested; day-first dates as ISO 8601.
    assert trust["OrgCertificate"] == {"NotAfter": "2029-03-14T11:02:41+00:00"}
    table = _one(sections, "Test-FederationTrustCertificate")["rows"]
    assert [(r["Server"], r["State"]) for r in table] == [
        ("EX01", "Installed"),
        ("EX02", "Installed"),
        ("EX03", "NotInstalled"),
    ]
    assert table[2]["Site"] == "contoso.com/Configuration/Sites/Zürich"
    ex03 = _one(sections, "Get-ExchangeCertificate", Server="EX03")
    assert [r["Thumbprint"] for r in ex03["rows"]] == ["ED887CD230B2F5B695A3281ADF301F46B245A9E8"]
    assert ex03["rows"][0]["Subject"].endswith("L=Zürich, S=Zürich, C=CH")
    edge = _one(sections, "Get-ExchangeCertificate", Server="EDGE01")
    assert edge["rows"] == [] and not edge["not_found"]
    assert (
        edge["error"] == "The Exchange server 'EDGE01' could not be reached: the RPC server is unavailable."
    )
    assert {s["by"] for s in sections} == {"marker"}


def test_a_paste_through_teams_with_no_break_spaces_crlf_and_powershell_7_errors() -> None:
    sections = _read("topology-teams.txt")
    servers = _one(sections, "Get-ExchangeServer")["rows"]
    assert [s["Site"] for s in servers] == [
        "contoso.com/Configuration/Sites/HQ",
        "contoso.com/Configuration/Sites/Zürich",
    ]
    assert servers[1]["InternetWebProxy"] is None
    alice = _one(sections, "Get-Mailbox", Identity="alice@contoso.com")
    assert alice["rows"] == [] and alice["not_found"]
    assert alice["error"].startswith("The operation couldn't be performed because object 'alice@contoso.com'")
    bjorn = _one(sections, "Get-Mailbox", Identity="bjorn@contoso.com")["rows"][0]
    assert bjorn["DisplayName"] == "Bjørn Ødegård (Zürich) 山田"
    remote = _one(sections, "Get-RemoteMailbox", Identity="alice@contoso.com")["rows"][0]
    assert remote["RemoteRoutingAddress"] == "SMTP:alice@contoso.mail.onmicrosoft.com"


def test_a_cut_list_is_marked_and_commands_without_markers_are_named_by_their_prompt() -> None:
    sections = _read("orgrel-truncated.txt")
    relationship = _one(sections, "Get-OrganizationRelationship")
    assert relationship["by"] == "prompt"
    assert relationship["truncated"] == ["DomainNames"]
    assert relationship["rows"][0]["DomainNames"][-1] == "northwind.com"
    connector = _one(sections, "Get-IntraOrganizationConnector")["rows"][0]
    # A distinguished name word-wrapped at a space in it comes back with that space.
    assert connector["DistinguishedName"].startswith("CN=HybridIOC - 8e4c1d2f")
    assert ",CN=Federation,CN=Contoso," in connector["DistinguishedName"]


def test_host_output_keeps_its_server_wrapped_paths_and_a_multi_line_event_message() -> None:
    sections = _read("host-ex03.txt")
    registry = _one(sections, "registry-values")
    assert (registry["source"], registry["server"]) == ("host", "EX03")
    server_key = registry["rows"][0]
    assert server_key["PSPath"].endswith("\\SCHANNEL\\Protocols\\TLS 1.2\\Server")
    assert (server_key["Enabled"], server_key["DisabledByDefault"]) == (0, 1)
    assert registry["rows"][1]["PSPath"].endswith("\\.NETFramework\\v4.0.30319")
    event = _one(sections, "win-events")["rows"][0]
    assert (event["Id"], event["TimeCreated"]) == (4002, "2026-03-02T08:41:07+00:00")
    message = event["Message"]
    assert (
        "ProxyWebRequest CrossSite from S-1-5-21-1004336348-1177238915-682003330-1105 to https://ex03"
        in message
    )
    assert "(403) Forbidden.\n\nName of the server where exception originated: EX01." in message
    assert "the Active Directory site/forest" in message


def test_without_marker_or_prompt_objects_are_named_by_their_properties() -> None:
    text = (
        "Some notes the admin typed.\n\n"
        "ForestName   : fabrikam.com\nAccessMethod : OrgWideFB\nProxyUrl     :\n\n"
        "Name      : Default Sharing Policy\nDomains   : {Anonymous:CalendarSharingFreeBusyReviewer, "
        "*:CalendarSharingFreeBusySimple}\nEnabled   : True\nDefault   : True\n\n"
        "Colour    : blue\n"
    )
    sections: Any = read_command_output(text)
    assert [(s["command"], s["by"]) for s in sections] == [
        ("Get-AvailabilityAddressSpace", "properties"),
        ("Get-SharingPolicy", "properties"),
    ]
    assert sections[1]["rows"][0]["Domains"] == [
        "Anonymous:CalendarSharingFreeBusyReviewer",
        "*:CalendarSharingFreeBusySimple",
    ]


def test_markers_name_the_side_and_the_server_and_echoed_ones_are_ignored() -> None:
    text = "\n".join(
        [
            'PS> Get-ExchangeServer | % { "## exchange-triage: Get-ExchangeCertificate -Server $($_.Name)"; x }',
            "## exchange-triage: Get-ExchangeCertificate -Server $($_.Name)",
            "## exchange-triage: online Get-OrganizationConfig",
            "",
            "Name       : contoso",
            "EwsEnabled : False",
            "",
            "## exchange-triage: host ex01.contoso.com iis-ssl",
            "",
            "path      : owa",
            "ssl_flags : Ssl,Ssl128",
            "## exchange-triage: Get-Mailbox -Identity o'brien@contoso.com",
        ]
    )
    sections: Any = read_command_output(text)
    assert [(s["source"], s["command"], s["params"], s["server"]) for s in sections] == [
        ("exchange_online", "Get-OrganizationConfig", {}, ""),
        ("host", "iis-ssl", {}, "EX01.CONTOSO.COM"),
        ("exchange", "Get-Mailbox", {"Identity": "o'brien@contoso.com"}, ""),
    ]
    assert sections[0]["rows"] == [{"Name": "contoso", "EwsEnabled": False}]
    assert sections[2]["rows"] == []  # ran, printed nothing: an answer too


def test_a_cut_table_cell_is_marked() -> None:
    text = "[PS] C:\\>Get-ExchangeServer | ft Name,Site\n\nName Site\n---- ----\nEX01 contoso.com/Configuration/Si...\n"
    section: Any
    (section,) = read_command_output(text)
    assert section["truncated"] == ["Site"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3/14/2029 11:02:41 AM", "2029-03-14T11:02:41+00:00"),
        ("3/4/2029 1:02:41 PM", "2029-03-04T13:02:41+00:00"),
        ("14/03/2029 11:02:41", "2029-03-14T11:02:41+00:00"),
        ("04.03.2029 23:02:41", "2029-03-04T23:02:41+00:00"),
        ("2029-03-04 23:02:41", "2029-03-04T23:02:41+00:00"),
        ("True", True),
        ("{}", []),
        ("{a, b}", ["a", "b"]),
        ("42", 42),
        ("007", "007"),
        ("", None),
        ("Version 15.2 (Build 1544.25)", "Version 15.2 (Build 1544.25)"),
        ("31/31/2029 10:00:00", "31/31/2029 10:00:00"),
    ],
)
def test_values_come_back_typed(text: str, value: Any) -> None:
    assert typed_value(text) == (value, False)


_WORD = st.text(
    st.characters(whitelist_categories=("Lu", "Ll", "Nd", "Lo"), whitelist_characters="-./:\\@=,"),
    min_size=1,
    max_size=30,
).filter(lambda w: w not in ("True", "False") and not w.startswith("{") and "," not in w)
_TEXT = st.lists(_WORD, min_size=1, max_size=40).map(" ".join)
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(1, 10**6), _TEXT, st.lists(_WORD, max_size=6))
_NAMES = st.lists(st.from_regex(r"[A-Z][A-Za-z]{1,20}", fullmatch=True), min_size=1, max_size=6, unique=True)


@settings(max_examples=150, deadline=None)
@given(names=_NAMES, data=st.data(), width=st.integers(60, 200))
def test_format_list_output_reads_back_to_the_same_values(names: list[str], data: Any, width: int) -> None:
    rows = [{n: data.draw(_VALUE) for n in names} for _ in range(data.draw(st.integers(1, 3)))]
    text = "## exchange-triage: Get-Thing\n" + format_list(rows, names, width=width)
    section: Any
    (section,) = read_command_output(text)
    expected = [{n: typed_value(shown(v))[0] for n, v in r.items()} for r in rows]
    if not any(line.startswith(" ") for line in text.splitlines()):  # no value wrapped
        assert section["rows"] == expected
    else:
        # Where a value wrapped, the paste does not say whether a line ended inside a word or between two
        # (the console width is not in it): the spaces there are a judgement; everything else is exact.
        assert [{n: _squeezed(v) for n, v in r.items()} for r in section["rows"]] == [
            {n: _squeezed(v) for n, v in r.items()} for r in expected
        ]


def _squeezed(value: Any) -> str:
    return "".join(str(value).split())


@settings(max_examples=60, deadline=None)
@given(names=_NAMES, data=st.data())
def test_format_table_output_reads_back_to_the_same_values(names: list[str], data: Any) -> None:
    # Two cells the paste itself cannot tell apart from PowerShell's own marks are not asked to read back: one
    # of dashes alone under another row (a new table's header and underline, `0` over `-`), and one ending in
    # `...` (what Format-Table prints for a value it cut).
    cell = (
        st.lists(_WORD, min_size=1, max_size=3)
        .map(" ".join)
        .filter(lambda c: bool(set(c) - {"-", " "}) and not c.endswith(("...", "\u2026")))
    )
    rows = [{n: data.draw(cell) for n in names} for _ in range(data.draw(st.integers(1, 4)))]
    section: Any
    (section,) = read_command_output("## exchange-triage: Get-Thing\n" + format_table(rows, names))
    assert section["rows"] == [{n: typed_value(v)[0] for n, v in r.items()} for r in rows]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_reads_without_error_to_plain_json(text: str) -> None:
    sections: Any = read_command_output(text)
    assert json.loads(json.dumps(sections)) == sections


_PIECES = st.sampled_from(
    [
        "## exchange-triage: Get-Mailbox -Identity a@b.com\n",
        "## exchange-triage: host EX01 win-events\n",
        "[PS] C:\\>Get-FederationTrust | fl\n",
        "Name   : x\n",
        "          continued\n",
        "\n",
        "---- ----\n",
        "Id Type\n",
        "    + CategoryInfo          : NotSpecified: (:) [Get-Mailbox], ManagementObjectNotFoundException\n",
        "Get-Mailbox: gone\n",
        "{a, b...}\n",
        "DomainNames : {a, b...}\n",
        "NotAfter : 31/31/2029 99:99:99\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_output_shaped_noise_reads_without_error(text: str) -> None:
    sections: Any = read_command_output(text)
    assert json.loads(json.dumps(sections)) == sections


def test_a_paste_over_one_mebibyte_is_refused_and_one_just_under_is_read() -> None:
    record = (
        "Thumbprint    : " + "A" * 40 + "\nSubject       : CN=Zürich, O=Contoso\nHasPrivateKey : True\n\n"
    )
    body = "## exchange-triage: Get-ExchangeCertificate -Server EX01\n"
    big = body + record * ((MAX_PASTE_BYTES - len(body.encode())) // len(record.encode()))
    # How fast: bench/ (a timed assertion would fail on a busy machine).
    sections: Any = read_command_output(big)
    assert len(sections[0]["rows"]) == 2000  # rows are capped; the paste is still read
    with pytest.raises(PasteTooLarge):
        read_command_output(big + record * 20)
