"""Every product module names its public surface in `__all__`, and every name there exists."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "dialogs", "knowledge", "checks", "lab", "manifest", "triage")
# Check implementations are found through the registry they register into, never imported by name.
REGISTERED_ONLY = ("checks/impl/",)


def modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if path.name in ("__init__.py", "__main__.py") or relative.startswith(REGISTERED_ONLY):
                continue
            found.append(relative.removesuffix(".py").replace("/", "."))
    return found


@pytest.mark.parametrize("name", modules())
def test_module_declares_an_existing_public_surface(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ names something twice"
    missing = [member for member in exported if not hasattr(module, member)]
    assert missing == [], f"{name}.__all__ names what it does not define: {missing}"
