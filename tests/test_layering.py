"""The architecture's layering rules (docs/architecture.md), checked over the source's imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "dialogs", "knowledge", "checks", "lab", "manifest", "triage")

SDK = ("microsoft_agents",)
CLIENTS = ("pypsrp", "winrm", "exchangelib", "msal", "spnego", "requests_ntlm")
WEB_SERVER = ("aiohttp.web",)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sources(package):
        for name in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_only_bot_imports_the_sdk() -> None:
    for package in PACKAGES:
        if package != "bot":
            assert offenders(package, SDK) == []


def test_knowledge_is_pure() -> None:
    forbidden = (
        *SDK,
        *CLIENTS,
        "aiohttp",
        "asyncio",
        "socket",
        "time",
        "datetime",
        "bot",
        "dialogs",
        "checks",
        "lab",
    )
    assert offenders("knowledge", forbidden) == []


def test_dialogs_import_no_sdk_or_web_server() -> None:
    assert offenders("dialogs", (*SDK, "aiohttp", "bot", "lab", *CLIENTS)) == []


def test_only_check_backends_import_client_libraries() -> None:
    for package in PACKAGES:
        if package != "checks":
            assert offenders(package, CLIENTS) == []


def test_lab_is_self_contained() -> None:
    assert offenders("lab", ("bot", "dialogs", "knowledge", "checks", "triage", *SDK, *CLIENTS)) == []


def test_only_bot_and_lab_run_web_servers() -> None:
    for package in PACKAGES:
        if package not in ("bot", "lab"):
            assert offenders(package, WEB_SERVER) == []


def test_only_the_backends_and_the_labs_listeners_speak_gssapi() -> None:
    found = [
        line
        for package in PACKAGES
        for line in offenders(package, ("gssapi", "krb5"))
        if not line.startswith(("checks/backends/", "lab/auth/"))
    ]
    assert found == []
