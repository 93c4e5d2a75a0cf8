"""Load scenario files: YAML, `extends:` a base scenario, validate, check cross-references.

Every problem is reported as `ScenarioError` naming the file and the key path, e.g.
`lab/scenarios/x.yaml: organization.servers[2].site: unknown site 'Nowhere' (known: HQ, Branch)`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lab.scenario.model import (
    AvailabilityError,
    CalendarEvent,
    CalendarPermission,
    Mailbox,
    Scenario,
    Server,
    SharingSubscription,
    resolve_time,
)
from lab.scenario.refs import cross_reference_problems

__all__ = [
    "SCENARIO_DIR",
    "AvailabilityError",
    "CalendarEvent",
    "CalendarPermission",
    "Mailbox",
    "Scenario",
    "ScenarioError",
    "Server",
    "SharingSubscription",
    "bundled_scenario_names",
    "load_bundled_scenarios",
    "load_scenario",
    "resolve_time",
    "scenario_with",
]

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"

# List items are matched across `extends:` by the first of these keys that every item carries.
_IDENTITY_KEYS = ("name", "address", "thumbprint", "domain_name", "forest_name", "user", "sharer_identity")
_REMOVE = "_remove"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: scenarios load 5x faster


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and each bad key."""

    def __init__(self, source: Path | str, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = problems
        super().__init__(f"{self.source}: " + "; ".join(problems))


def bundled_scenario_names() -> list[str]:
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))


def load_bundled_scenarios() -> list[Scenario]:
    return [load_scenario(name) for name in bundled_scenario_names()]


def load_scenario(ref: str | Path) -> Scenario:
    """Load a bundled scenario by name, or a scenario file by path."""
    path = _resolve(ref, SCENARIO_DIR)
    return _validated(path, _read_merged(path, ()))


def scenario_with(ref: str | Path, patch: Mapping[str, Any]) -> Scenario:
    """A scenario with `patch` on top, merged as a file that `extends:` it would be (named list items merge
    item by item, `_remove: true` deletes one): a variant of a bundled organisation without a new file."""
    path = _resolve(ref, SCENARIO_DIR)
    return _validated(path, _merge(_read_merged(path, ()), copy.deepcopy(dict(patch)), path, ""))


def _validated(path: Path, data: dict[str, Any]) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(path, _validation_problems(exc, data)) from None
    problems = cross_reference_problems(scenario)
    if problems:
        raise ScenarioError(path, problems)
    return scenario


def _resolve(ref: str | Path, directory: Path) -> Path:
    text = str(ref)
    as_path = Path(text)
    if as_path.suffix in (".yaml", ".yml") or "/" in text or "\\" in text:
        path = as_path if as_path.is_absolute() else (directory / as_path if directory else as_path)
        if not path.is_file() and as_path.is_file():
            path = as_path
        if not path.is_file():
            raise ScenarioError(text, ["no such scenario file"])
        return path.resolve()
    path = SCENARIO_DIR / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(bundled_scenario_names())
        raise ScenarioError(text, [f"unknown scenario (known: {known})"])
    return path


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506  (a safe loader)
    except yaml.YAMLError as exc:
        raise ScenarioError(path, [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(path, ["the file must hold a mapping at the top level"])
    return data


def _read_merged(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    data = _read_yaml(path)
    base_ref = data.pop("extends", None)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str):
        raise ScenarioError(path, ["extends: must be a scenario name or a relative path"])
    base_path = _resolve(base_ref, path.parent)
    if base_path in (*chain, path):
        raise ScenarioError(path, [f"extends: {base_ref!r} extends itself"])
    base = _read_merged(base_path, (*chain, path))
    merged: dict[str, Any] = _merge(base, data, path, "")
    return merged


def _merge(base: Any, override: Any, path: Path, where: str) -> Any:
    """Override wins; mappings merge key by key; lists of named mappings merge item by item."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base[key], value, path, f"{where}.{key}".lstrip(".")) if key in base else value
        return out
    if isinstance(base, list) and isinstance(override, list):
        key = _identity_key(base, override)
        if key is not None:
            return _merge_named(base, override, key, path, where)
    return override


def _identity_key(base: list[Any], override: list[Any]) -> str | None:
    items = [*base, *override]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    return next((key for key in _IDENTITY_KEYS if all(key in item for item in items)), None)


def _merge_named(
    base: list[dict[str, Any]], override: list[dict[str, Any]], key: str, path: Path, where: str
) -> list[dict[str, Any]]:
    out = list(base)
    for item in override:
        index = next((i for i, old in enumerate(out) if old[key] == item[key]), None)
        if item.get(_REMOVE):
            if index is None:
                raise ScenarioError(path, [f"{where}: nothing to remove with {key} {item[key]!r}"])
            del out[index]
        elif index is None:
            out.append(item)
        else:
            out[index] = _merge(out[index], item, path, f"{where}[{item[key]}]")
    return out


def _validation_problems(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        problem = f"{_key_path(error['loc'], data)}: {error['msg']}"
        if problem not in problems:
            problems.append(problem)
    return problems


def _key_path(loc: tuple[int | str, ...], data: Any) -> str:
    """The part of a pydantic location that exists in the data (drops union member tags)."""
    text, node = "", data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            text, node = f"{text}[{part}]", node[part]
        elif isinstance(node, dict) and (part in node or last):
            text, node = f"{text}.{part}" if text else str(part), node.get(part)
        else:
            break
    return text or "(top level)"
