"""Offline validation against the official Teams app manifest schema, through Node and `validate.mjs`.

The schema is the one Microsoft publishes, as bundled in the npm package `@microsoft/app-manifest` (a
devDependency in the project's package.json); `validate.mjs` reads it from `node_modules` and never fetches.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA_URL",
    "SCHEMA_VERSION",
    "SchemaError",
    "ValidatorUnavailable",
    "field_path",
    "schema_errors",
]

SCHEMA_VERSION = "1.30"
SCHEMA_URL = (
    f"https://developer.microsoft.com/json-schemas/teams/v{SCHEMA_VERSION}/MicrosoftTeams.schema.json"
)
NPM_PACKAGE = "@microsoft/app-manifest"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = Path(__file__).resolve().with_name("validate.mjs")
_INSTALL_HINT = "`make install` installs it (npm ci from package-lock.json)"


class ValidatorUnavailable(Exception):
    """Node.js or the npm package with the schema is missing, so the manifest cannot be checked."""


@dataclass(frozen=True)
class SchemaError:
    """One schema violation; `path` names the manifest field (`bots[0].botId`)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def field_path(pointer: str) -> str:
    """A JSON pointer (`/bots/0/botId`) as the field path people read (`bots[0].botId`)."""
    if not pointer:
        return "(manifest root)"
    path = ""
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path


def schema_errors(
    manifest: dict[str, Any], *, root: Path = PROJECT_ROOT, node: str | None = None, timeout: float = 60
) -> list[SchemaError]:
    """Every violation of the official v1.30 schema in `manifest` (empty: valid)."""
    executable = node or shutil.which("node")
    if executable is None or shutil.which(executable) is None:
        raise ValidatorUnavailable(
            f"checking the manifest needs Node.js (`node` on PATH) and the npm package {NPM_PACKAGE}; "
            f"install Node.js 18 or later, then {_INSTALL_HINT}"
        )
    if not (root / "node_modules" / NPM_PACKAGE / "package.json").is_file():
        raise ValidatorUnavailable(
            f"checking the manifest needs the npm package {NPM_PACKAGE} in {root / 'node_modules'}: {_INSTALL_HINT}"
        )
    try:
        # A fixed program and arguments, no shell: the manifest goes in on stdin.
        done = subprocess.run(  # noqa: S603
            [executable, str(VALIDATOR), str(root), SCHEMA_VERSION],
            input=json.dumps(manifest),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValidatorUnavailable(f"the schema check did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        hint = f"; {_INSTALL_HINT}" if done.returncode == 3 else ""
        raise ValidatorUnavailable(f"the schema check could not run: {lines[-1]}{hint}")
    return [_error(item) for item in json.loads(done.stdout)["errors"]]


def _error(item: dict[str, str]) -> SchemaError:
    message = item["message"]
    try:
        details = json.loads(item["details"]) if item["details"] else {}
    except json.JSONDecodeError:
        details = {}
    if isinstance(details, dict) and "additionalProperty" in details:
        message += f" ({details['additionalProperty']!r})"
    elif isinstance(details, dict) and "allowedValues" in details:
        message += f": {', '.join(map(str, details['allowedValues']))}"
    return SchemaError(field_path(item["path"]), message)
