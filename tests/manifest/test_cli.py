"""`triage manifest build`: exit codes, one-line errors that name the option, and the zip it writes."""

from __future__ import annotations

import json
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from triage.cli import main

APP_ID = "0b8f7c6d-5e4a-4b3c-9d2e-1f0a9b8c7d6e"


def build(*extra: str) -> list[str]:
    return ["manifest", "build", *extra]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_build_writes_the_package_and_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "teams.zip"
    code = main(build("--app-id", APP_ID.upper(), "--host", "Triage.Contoso.com", "--out", str(out)))
    assert code == 0
    assert capsys.readouterr().out.startswith(f"{out} (Teams manifest v1.30, app and bot id {APP_ID}")
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["triage.contoso.com"]
    assert manifest["version"] == metadata.version("exchange-triage")  # when --app-version is not given


@pytest.mark.parametrize(
    "app_id",
    ["nope", "", f"{{{APP_ID}}}", APP_ID.replace("-", ""), APP_ID[:-1] + "g", APP_ID + "0"],
)
def test_a_bad_app_id_is_exit_2_naming_the_option(
    app_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a.zip"
    assert main(build(f"--app-id={app_id}", "--host", "triage.contoso.com", "--out", str(out))) == 2
    assert one_line_error(capsys).startswith("triage: error: --app-id must be a GUID")
    assert not out.exists()


@pytest.mark.parametrize(
    "host",
    [
        "https://triage.contoso.com",
        "triage.contoso.com/api/messages",
        "triage.contoso.com:443",
        "localhost",
        "10.1.2.3",
        "-triage.contoso.com",
        "triage..contoso.com",
        "triage contoso.com",
        "*.contoso.com",
        "a" * 64 + ".contoso.com",
        "",
    ],
)
def test_a_bad_host_is_exit_2_naming_the_option(
    host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a.zip"
    assert main(build("--app-id", APP_ID, f"--host={host}", "--out", str(out))) == 2
    assert one_line_error(capsys).startswith("triage: error: --host must be a bare host name")
    assert not out.exists()


def test_a_bad_version_is_exit_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build("--app-id", APP_ID, "--host", "t.contoso.com", "--out", str(tmp_path / "a.zip"))
    assert main([*args, "--app-version", "1.0"]) == 2
    assert one_line_error(capsys).startswith("triage: error: --app-version must be a version like 1.2.3")


@pytest.mark.parametrize(("where", "says"), [("missing/a.zip", "directory"), (".", "is a directory")])
def test_a_bad_out_is_exit_2_naming_the_option(
    where: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build("--app-id", APP_ID, "--host", "t.contoso.com", "--out", str(tmp_path / where))
    assert main(args) == 2
    error = one_line_error(capsys)
    assert error.startswith("triage: error: --out") and says in error


def test_without_node_the_build_fails_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "a.zip"
    assert main(build("--app-id", APP_ID, "--host", "t.contoso.com", "--out", str(out))) == 1
    assert "needs Node.js" in capsys.readouterr().err
    assert not out.exists()
