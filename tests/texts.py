"""The pasted texts the tests read, one copy of each: `tests/knowledge/pastes/`, and the example the README
runs (`triage/examples/seed-000-event-4002.txt`, the first seed case's event)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASTES = ROOT / "tests" / "knowledge" / "pastes"
EXAMPLE = ROOT / "triage" / "examples" / "seed-000-event-4002.txt"


def text_path(name: str) -> Path:
    """Where the pasted text `name` is kept."""
    return EXAMPLE if name == EXAMPLE.name else PASTES / name


def pasted_text(name: str) -> str:
    return text_path(name).read_text(encoding="utf-8")


def every_text() -> list[Path]:
    """Every pasted text, once."""
    return sorted([*PASTES.iterdir(), EXAMPLE])
