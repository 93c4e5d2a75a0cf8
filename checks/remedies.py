"""The commands an admin can run and paste back when a check cannot look itself.

Values from the facts are validated and quoted with `powershell_literal` before they are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from knowledge.runbook import powershell_literal
from knowledge.validators import ValueProblem, check_smtp

__all__ = ["commands", "with_address"]


def commands(*lines: str) -> Callable[[Mapping[str, Any]], str]:
    """A remedy that does not depend on the facts."""
    text = "\n".join(lines)
    return lambda _facts: text


def quoted_address(facts: Mapping[str, Any], name: str, placeholder: str) -> str:
    value = facts.get(name)
    try:
        return powershell_literal(check_smtp(value)) if isinstance(value, str) else placeholder
    except ValueProblem:
        return placeholder


def with_address(*lines: str) -> Callable[[Mapping[str, Any]], str]:
    """A remedy whose lines name {requester} and {target}, filled with the validated, quoted addresses."""

    def remedy(facts: Mapping[str, Any]) -> str:
        values = {
            "requester": quoted_address(facts, "requester", "<requester address>"),
            "target": quoted_address(facts, "target", "<target address>"),
        }
        return "\n".join(line.format(**values) for line in lines)

    return remedy
