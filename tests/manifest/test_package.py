"""Building the Teams app package, checked against the official schema with the real validator (Node)."""

from __future__ import annotations

import json
import shutil
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.inbound import SET_ESCALATION_CHANNEL
from dialogs.understand import command_of
from manifest.package import TEMPLATE_DIR, ManifestError, build_package, fill, parse_host
from manifest.schema import SCHEMA_URL, SCHEMA_VERSION, ValidatorUnavailable, field_path, schema_errors

APP_ID = "6f1c2a4e-8b3d-4e5f-9a7b-1c2d3e4f5a6b"
HOST = "triage.contoso.com"


def no_schema_check(manifest: dict[str, Any]) -> list[Any]:
    return []


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "app.zip"
    build_package(app_id=APP_ID, host=HOST, version="1.2.3", out=out)
    return out


@pytest.fixture(scope="module")
def built(package: Path) -> dict[str, Any]:
    with zipfile.ZipFile(package) as archive:
        manifest: dict[str, Any] = json.loads(archive.read("manifest.json"))
    return manifest


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "template"
    shutil.copytree(TEMPLATE_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return copy


def edit_template(directory: Path, change: Any) -> None:
    path = directory / "manifest.template.json"
    template = json.loads(path.read_text(encoding="utf-8"))
    change(template)
    path.write_text(json.dumps(template), encoding="utf-8")


def test_zip_holds_the_manifest_and_both_icons_at_its_root(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        for name in ("color.png", "outline.png"):
            assert archive.read(name) == (TEMPLATE_DIR / name).read_bytes()


def test_built_manifest_is_valid_against_the_official_schema(built: dict[str, Any]) -> None:
    assert built["$schema"] == SCHEMA_URL
    assert built["manifestVersion"] == SCHEMA_VERSION
    assert schema_errors(built) == []


def test_every_placeholder_is_filled(package: Path, built: dict[str, Any]) -> None:
    with zipfile.ZipFile(package) as archive:
        text = archive.read("manifest.json").decode("utf-8")
    assert "{{" not in text and "}}" not in text
    assert built["version"] == "1.2.3"
    assert built["developer"]["websiteUrl"] == f"https://{HOST}/"


def test_bot_id_is_the_app_id_and_the_host_is_a_valid_domain(built: dict[str, Any]) -> None:
    assert built["id"] == APP_ID
    assert [bot["botId"] for bot in built["bots"]] == [APP_ID]
    assert HOST in built["validDomains"]


def test_bot_is_conversational_in_personal_team_and_group_chat(built: dict[str, Any]) -> None:
    (bot,) = built["bots"]
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert bot["supportsFiles"] is False and bot["isNotificationOnly"] is False
    assert built["name"]["short"] == "Exchange Triage" and built["developer"]["name"] == "Exchange Triage"


def test_each_scope_lists_commands_the_bot_understands(built: dict[str, Any]) -> None:
    lists = {
        tuple(entry["scopes"]): [c["title"] for c in entry["commands"]]
        for entry in built["bots"][0]["commandLists"]
    }
    assert set(lists) == {("personal",), ("groupChat",), ("team",)}
    for scope in (("personal",), ("groupChat",)):
        assert lists[scope] == ["help", "start", "status"]
        assert [command_of(title) for title in lists[scope]] == ["help", "restart", "status"]
    assert SET_ESCALATION_CHANNEL in lists[("team",)]
    assert all(command_of(title) or title == SET_ESCALATION_CHANNEL for title in lists[("team",)])


def test_a_schema_error_names_the_field(template_copy: Path, tmp_path: Path) -> None:
    def break_it(template: dict[str, Any]) -> None:
        template["version"] = 1
        template["bots"][0]["scopes"].append("meetingChat")
        template["developer"]["nickname"] = "ET"

    edit_template(template_copy, break_it)
    out = tmp_path / "app.zip"
    with pytest.raises(ManifestError) as caught:
        build_package(app_id=APP_ID, host=HOST, version="1.0.0", out=out, template_dir=template_copy)
    message = str(caught.value)
    assert f"schema v{SCHEMA_VERSION}" in message
    assert "  version: must be string" in message
    assert (
        "  bots[0].scopes[3]: must be equal to one of the allowed values: team, personal, groupChat"
        in message
    )
    assert "  developer: must NOT have additional properties ('nickname')" in message
    assert not out.exists() and list(tmp_path.glob(".teams-app-*")) == []


def test_an_unfilled_placeholder_names_the_field(template_copy: Path, tmp_path: Path) -> None:
    edit_template(template_copy, lambda t: t["developer"].update(privacyUrl="https://{{HOST}}/{{PRIVACY}}"))
    with pytest.raises(
        ManifestError, match=r"developer\.privacyUrl \('https://triage\.contoso\.com/\{\{PRIVACY\}\}'\)"
    ):
        build_package(
            app_id=APP_ID, host=HOST, version="1.0.0", out=tmp_path / "a.zip", template_dir=template_copy
        )


def test_an_icon_of_the_wrong_size_names_the_icon(template_copy: Path, tmp_path: Path) -> None:
    shutil.copy(template_copy / "outline.png", template_copy / "color.png")
    with pytest.raises(
        ManifestError, match=r"icons\.color: color\.png must be a 192x192 PNG, found \(32, 32\)"
    ):
        build_package(
            app_id=APP_ID,
            host=HOST,
            version="1.0.0",
            out=tmp_path / "a.zip",
            template_dir=template_copy,
            validate=no_schema_check,
        )


def test_the_package_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    for out in (first, second):
        build_package(app_id=APP_ID, host=HOST, version="1.0.0", out=out, validate=no_schema_check)
    assert first.read_bytes() == second.read_bytes()


def test_without_node_modules_the_check_says_how_to_install(tmp_path: Path) -> None:
    check = partial(schema_errors, root=tmp_path)
    with pytest.raises(ValidatorUnavailable, match=r"@microsoft/app-manifest.*`make install`"):
        build_package(app_id=APP_ID, host=HOST, version="1.0.0", out=tmp_path / "a.zip", validate=check)


def test_without_node_the_check_says_what_is_missing() -> None:
    with pytest.raises(ValidatorUnavailable, match=r"needs Node\.js .*`make install`"):
        schema_errors({}, node="no-such-node-executable")


@pytest.mark.parametrize(
    ("pointer", "path"),
    [
        ("", "(manifest root)"),
        ("/version", "version"),
        ("/bots/0/commandLists/2/commands/1/title", "bots[0].commandLists[2].commands[1].title"),
        ("/a~1b/c~0d", "a/b.c~d"),
    ],
)
def test_field_paths_read_as_people_write_them(pointer: str, path: str) -> None:
    assert field_path(pointer) == path


def test_fill_replaces_placeholders_inside_strings_only() -> None:
    template = {"id": "{{APP_ID}}", "url": "https://{{HOST}}/x", "n": 3, "list": ["{{HOST}}"]}
    assert fill(template, {"APP_ID": "a", "HOST": "h.example"}) == {
        "id": "a",
        "url": "https://h.example/x",
        "n": 3,
        "list": ["h.example"],
    }


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("Triage.Contoso.COM", "triage.contoso.com"),
        (" bot.example.org ", "bot.example.org"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_host_names_are_accepted_and_lower_cased(text: str, host: str) -> None:
    assert parse_host(text) == host
