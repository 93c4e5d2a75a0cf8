"""The Teams app package: the template filled in, checked against the official schema, zipped with its icons."""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from manifest.schema import SCHEMA_VERSION, SchemaError, schema_errors

__all__ = [
    "ICON_SIZES",
    "TEMPLATE_DIR",
    "ManifestError",
    "build_package",
    "fill",
    "parse_app_id",
    "parse_host",
    "parse_version",
]

TEMPLATE_DIR = Path(__file__).resolve().parent
TEMPLATE_NAME = "manifest.template.json"
ICON_SIZES = {"color": 192, "outline": 32}

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)$")  # the schema's `semver`
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
# A fixed timestamp keeps the zip byte-for-byte reproducible.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

Validate = Callable[[dict[str, Any]], list[SchemaError]]


class ManifestError(Exception):
    """The template or its icons cannot make a valid package."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def parse_app_id(text: str) -> str:
    """The bot's Entra app (client) id: a GUID. Raises ValueError."""
    if not _GUID.match(text.strip()):
        raise ValueError(f"must be a GUID, the bot's Entra app (client) id, got {_shown(text)}")
    return text.strip().lower()


def parse_host(text: str) -> str:
    """A bare DNS host name (no scheme, port or path), lower-cased. Raises ValueError."""
    host = text.strip().lower()
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()  # an IPv4 address, not a name
    ):
        raise ValueError(
            "must be a bare host name such as triage.contoso.com (no scheme, port or path), "
            f"got {_shown(text)}"
        )
    return host


def parse_version(text: str) -> str:
    """The app package's version, MAJOR.MINOR.PATCH. Raises ValueError."""
    if not _SEMVER.match(text.strip()):
        raise ValueError(f"must be a version like 1.2.3 (raise it for every upload), got {_shown(text)}")
    return text.strip()


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, string) for every string value in a JSON document."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def fill(template: Any, values: dict[str, str]) -> Any:
    """The template with every `{{NAME}}` replaced; an unknown or malformed placeholder names its field."""

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
        if isinstance(value, dict):
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    filled = substitute(template)
    left = [f"{path} ({text!r})" for path, text in _strings(filled) if "{{" in text]
    if left:
        raise ManifestError(f"{TEMPLATE_NAME}: placeholders nobody fills: {'; '.join(left)}")
    return filled


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _icons(manifest: dict[str, Any], template_dir: Path) -> dict[str, bytes]:
    """The icon files the manifest names, each checked to be a PNG of the size Teams requires."""
    files: dict[str, bytes] = {}
    for kind, size in ICON_SIZES.items():
        name = manifest["icons"][kind]
        path = template_dir / name
        if Path(name).name != name or not path.is_file():
            raise ManifestError(f"icons.{kind}: {name!r} is not a file beside {TEMPLATE_NAME}")
        data = path.read_bytes()
        if _png_size(data) != (size, size):
            raise ManifestError(f"icons.{kind}: {name} must be a {size}x{size} PNG, found {_png_size(data)}")
        files[name] = data
    return files


def _write_zip(out: Path, members: dict[str, bytes]) -> None:
    # Written beside the target and renamed, so a failed build never leaves half a package.
    handle, temporary = tempfile.mkstemp(prefix=".teams-app-", suffix=".zip", dir=out.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_package(
    *,
    app_id: str,
    host: str,
    version: str,
    out: Path,
    template_dir: Path = TEMPLATE_DIR,
    validate: Validate = schema_errors,
) -> dict[str, Any]:
    """Writes the zip a Teams admin uploads (manifest.json and the icons at its root); returns the manifest.

    Arguments are expected parsed (`parse_app_id`, `parse_host`, `parse_version`). Raises ManifestError
    when the filled template breaks the schema (each error names the field) or an icon is wrong, and
    `manifest.schema.ValidatorUnavailable` when the schema check cannot run.
    """
    template = json.loads((template_dir / TEMPLATE_NAME).read_text(encoding="utf-8"))
    manifest: dict[str, Any] = fill(template, {"APP_ID": app_id, "HOST": host, "VERSION": version})
    errors = validate(manifest)
    if errors:
        listed = "\n".join(f"  {error}" for error in errors)
        raise ManifestError(
            f"the manifest does not match the Teams manifest schema v{SCHEMA_VERSION}:\n{listed}"
        )
    members = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")}
    members.update(_icons(manifest, template_dir))
    _write_zip(out, members)
    return manifest
