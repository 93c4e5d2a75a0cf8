"""The architecture's layering rules (docs/architecture.md), checked over the source's imports."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "dialogs", "knowledge", "checks", "lab", "manifest", "triage")

SDK = ("microsoft_agents",)
CLIENTS = ("pypsrp", "winrm", "exchangelib", "msal", "spnego", "requests_ntlm")
WEB_SERVER = ("aiohttp.web",)


@functools.cache
def _tree(path: Path) -> ast.Module:
    """A source file's syntax tree, parsed once for all the rules here (they only read it)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@functools.cache
def imports_of(path: Path) -> frozenset[str]:
    tree = _tree(path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


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


def test_only_triage_imports_the_lab() -> None:
    """The lab is test equipment and the demo backend: only the composition root (and tests) wire it in."""
    for package in PACKAGES:
        if package not in ("triage", "lab"):
            assert offenders(package, ("lab",)) == []


def test_dialogs_import_only_the_check_interface_and_knowledge() -> None:
    found = []
    for path in sources("dialogs"):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in PACKAGES and top not in ("dialogs", "knowledge") and not name.startswith("checks.api"):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    assert found == []


def test_checks_know_nothing_of_the_lab_endpoints() -> None:
    """The lab's endpoint dictionary is turned into backend settings in triage/, not in checks/."""
    for path in sources("checks"):
        text = path.read_text(encoding="utf-8")
        assert "from_lab_endpoints" not in text and "vdir_hosts" not in text, path


def _import_module_calls(path: Path) -> list[ast.Call]:
    calls = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in ("import_module", "__import__"):
                calls.append(node)
    return calls


def test_no_project_module_is_imported_from_a_string() -> None:
    found = []
    for package in PACKAGES:
        for path in sources(package):
            for call in _import_module_calls(path):
                argument = call.args[0] if call.args else None
                literal = argument.value if isinstance(argument, ast.Constant) else None
                if not isinstance(literal, str) or literal.split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno} {ast.unparse(call)}")
    assert found == []


def _module_name(path: Path) -> str:
    name = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
    return name.removesuffix(".__init__")


def _runtime_imports(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports when it runs (anywhere in it, but not for type checking only)."""
    tree = _tree(path)
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            typing_only.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def test_no_import_circles() -> None:
    """No two project modules import each other, however indirectly (a function-level import counts)."""
    paths = {_module_name(path): path for package in PACKAGES for path in sources(package)}
    known = set(paths)
    graph = {name: _runtime_imports(path, known) - {name} for name, path in paths.items()}
    circles: list[list[str]] = []

    def visit(name: str, trail: list[str], done: set[str]) -> None:
        for target in sorted(graph[name]):
            if target in trail:
                circles.append([*trail[trail.index(target) :], target])
            elif target not in done:
                visit(target, [*trail, target], done)
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name], done)
    assert circles == []


# What judges a triage: conditions, weights, the ranking. Outside knowledge/ a triage is assessed only
# through knowledge.assessment (the types of its answer may be named).
JUDGING = (
    "knowledge.conditions.holds",
    "knowledge.conditions.holds_all",
    "knowledge.inference.infer",
    "knowledge.inference.noisy_or",
)


def test_only_knowledge_evaluates_conditions_and_weights() -> None:
    for package in PACKAGES:
        if package != "knowledge":
            assert offenders(package, JUDGING) == []


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
