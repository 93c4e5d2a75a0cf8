"""A lint over the product's regular expressions: no nested unbounded quantifiers.

`(a+)+`, `(\\s+x?)*` and their kin backtrack exponentially (or at best quadratically) on input that almost
matches. Every pattern the product compiles — module-level patterns (also inside dicts and lists), literal
patterns handed to `re.*` inside functions, and the knowledge base's signatures and `matches` conditions — is
parsed, and a repeat without an upper bound inside another one is flagged. The few such patterns that remain
are listed below with why they cannot backtrack (a mandatory separator between iterations that the inner
repeat cannot match); a new one fails this test until it is rewritten or reviewed into the list.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from knowledge.loader import load_knowledge

# The standard library's own regex parser and its opcodes (private modules, without type stubs).
sre_parser: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "dialogs", "knowledge", "checks", "triage")
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)

# Reviewed: each iteration of the outer repeat must consume a separator the inner repeat cannot match.
REVIEWED = {
    # a greeting, then ", there" / " all" ...: each iteration starts with [\s,]+ and ends with a word.
    r"(?:[\s,]+(?:there|all|everyone|team|folks|bot|triage|again))*",
    # dot-separated atoms of an address's local part
    r"(?:\.[A-Za-z0-9!%&*+/=?^_~-]+)*",
    # a Format-Table underline: dashes separated by spaces
    r"(?: +-+)*",
}


def nested_quantifiers(pattern: str, flags: int = 0) -> list[str]:
    """The outer repeats of `pattern` that hold an unbounded repeat inside an unbounded repeat."""
    found: list[str] = []

    def walk(items: Any, inside_unbounded: bool) -> bool:
        nested = False
        for op, av in items:
            if op in _REPEATS:
                _low, high, body = av
                unbounded = high == sre_constants.MAXREPEAT
                if unbounded and inside_unbounded:
                    nested = True
                nested |= walk(body, inside_unbounded or unbounded)
            elif op == sre_constants.SUBPATTERN:
                nested |= walk(av[-1], inside_unbounded)
            elif op == sre_constants.BRANCH:
                for branch in av[1]:
                    nested |= walk(branch, inside_unbounded)
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                nested |= walk(av[1], inside_unbounded)
            # POSSESSIVE_REPEAT and ATOMIC_GROUP never backtrack into themselves: not walked.
        return nested

    parsed = sre_parser.parse(pattern, flags)
    if walk(parsed, False):
        found.append(pattern)
    return found


def _module_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    for package in PRODUCT:
        module = importlib.import_module(package)
        names = [package] + [
            info.name for info in pkgutil.walk_packages(module.__path__, prefix=package + ".")
        ]
        for name in names:
            if name.endswith("__main__"):
                continue
            try:
                loaded = importlib.import_module(name)
            except ImportError:
                continue
            for attribute, value in vars(loaded).items():
                for item in _patterns_in(value):
                    yield f"{name}.{attribute}", item


def _patterns_in(value: Any) -> Iterator[re.Pattern[str]]:
    if isinstance(value, re.Pattern):
        if isinstance(value.pattern, str):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            if isinstance(item, re.Pattern) and isinstance(item.pattern, str):
                yield item
    elif isinstance(value, list | tuple | frozenset | set):
        for item in value:
            if isinstance(item, re.Pattern) and isinstance(item.pattern, str):
                yield item


def _literal_patterns() -> Iterator[tuple[str, str]]:
    """Patterns written as literals in `re.match(r"...")`-style calls anywhere in the product's source."""
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "re"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0].value


def _knowledge_patterns() -> Iterator[tuple[str, str]]:
    kb = load_knowledge()
    for signature in getattr(kb, "signatures", []) or []:
        for field in ("regex", "pattern"):
            value = getattr(signature, field, None)
            if isinstance(value, str):
                yield f"signature {getattr(signature, 'id', '?')}", value
            elif isinstance(value, re.Pattern):
                yield f"signature {getattr(signature, 'id', '?')}", value.pattern


def _flagged(pattern: str, flags: int = 0) -> bool:
    stripped = pattern
    for reviewed in REVIEWED:
        stripped = stripped.replace(reviewed, "(?:)")
    return bool(nested_quantifiers(stripped, flags))


def test_the_lint_flags_nested_quantifiers_and_nothing_else() -> None:
    for bad in (r"(a+)+", r"(?:\s+x?)*$", r"^(?:(?:it's|the)\s+)+", r"(x|y+)*z", r"(?:a*b?)+"):
        assert nested_quantifiers(bad), bad
    for good in (r"a+b+", r"(?:ab)+", r"(?:a{1,5}b)+", r"(?:a++)+", r"(?>a+)+", r"[^@]{1,64}@\S{1,253}"):
        assert not nested_quantifiers(good), good


def test_no_pattern_in_the_product_nests_unbounded_quantifiers() -> None:
    flagged = [
        f"{where}: {pattern.pattern[:120]}"
        for where, pattern in _module_patterns()
        if _flagged(pattern.pattern, pattern.flags & ~re.UNICODE)
    ]
    flagged += [f"{where}: {pattern[:120]}" for where, pattern in _literal_patterns() if _flagged(pattern)]
    flagged += [f"{where}: {pattern[:120]}" for where, pattern in _knowledge_patterns() if _flagged(pattern)]
    assert flagged == []


def test_the_lint_sees_the_products_patterns() -> None:
    seen = {where for where, _ in _module_patterns()}
    assert "dialogs.understand._SITE_PREFIX" in seen and "knowledge.validators._LOCAL" in seen
    assert len(seen) > 50
