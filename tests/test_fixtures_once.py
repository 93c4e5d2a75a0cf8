"""One fixture world: every text fixture is kept once. No two fixture files hold the same text (line endings
and trailing spaces aside), and no long text a test spells out inline repeats another or a fixture file
(`tests/texts.py` reads pasted texts, `tests/world.py` the organisations)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_ROOTS = ("tests", "lab/scenarios", "knowledge", "triage/examples")
CODE_ROOTS = ("tests", "bench")
LONG = 150  # characters: a pasted text or a document, not an expected sentence


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _fixture_files() -> list[Path]:
    found = []
    for root in FIXTURE_ROOTS:
        for path in (ROOT / root).rglob("*"):
            if (
                path.is_file()
                and path.suffix != ".py"
                and "__pycache__" not in path.parts
                and path.stat().st_size
            ):
                found.append(path)
    return sorted(found)


def _long_texts() -> list[tuple[str, str]]:
    """Multi-line string literals in the tests (not docstrings), with where they are."""
    found = []
    for root in CODE_ROOTS:
        for path in sorted((ROOT / root).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.body
                and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
            }
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                    and node.value.count("\n") >= 2
                    and len(node.value) >= LONG
                ):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", _normalised(node.value)))
    return found


def test_no_two_fixture_files_hold_the_same_text() -> None:
    by_text: dict[str, list[str]] = defaultdict(list)
    for path in _fixture_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        by_text[_normalised(text)].append(str(path.relative_to(ROOT)))
    assert len(by_text) > 50, "the fixture files were not found"
    assert [paths for paths in by_text.values() if len(paths) > 1] == []


def test_no_long_text_is_spelled_out_twice_in_the_tests() -> None:
    texts = _long_texts()
    by_text: dict[str, list[str]] = defaultdict(list)
    for where, text in texts:
        by_text[text].append(where)
    assert [places for places in by_text.values() if len(places) > 1] == []
    files = {
        str(p.relative_to(ROOT)): _normalised(p.read_text(encoding="utf-8", errors="replace"))
        for p in _fixture_files()
    }
    copies = [(where, name) for where, text in texts for name, body in files.items() if text in body]
    assert copies == [], "read the fixture file instead of copying it into the test"
