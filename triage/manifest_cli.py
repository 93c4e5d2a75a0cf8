"""`triage manifest build`: the Teams app package a Teams admin uploads."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_OUT", "register"]

DEFAULT_OUT = "exchange-triage-teams-app.zip"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "manifest",
        help="the Teams app package (manifest and icons)",
        description="Build the Teams app package: the manifest filled in, checked offline against the "
        "official schema, zipped with the icons.",
    )
    actions = parser.add_subparsers(dest="manifest_action", metavar="ACTION")
    actions.required = True
    build = actions.add_parser(
        "build",
        help="write the zip a Teams admin uploads",
        description="Write the Teams app package (manifest.json, color.png, outline.png at the zip's root).",
    )
    build.add_argument("--app-id", required=True, metavar="GUID", help="the bot's Entra app (client) id")
    build.add_argument(
        "--host", required=True, metavar="HOST", help="the bot's public host name, e.g. triage.contoso.com"
    )
    build.add_argument(
        "--out", default=DEFAULT_OUT, metavar="FILE", help=f"zip to write (default {DEFAULT_OUT})"
    )
    build.add_argument(
        "--app-version",
        metavar="X.Y.Z",
        help="the package's version; Teams wants a higher one for every upload (default: the project's)",
    )
    build.set_defaults(func=run_build)


def _parsed(option: str, parse: Any, text: str) -> str:
    from triage.usage import UsageError

    try:
        value: str = parse(text)
    except ValueError as exc:
        raise UsageError(f"{option} {exc}") from None
    return value


def _out_path(text: str) -> Path:
    from triage.usage import UsageError

    out = Path(text)
    if out.is_dir():
        raise UsageError(f"--out must name a file, {text!r} is a directory")
    if not out.parent.resolve().is_dir():
        raise UsageError(f"--out: the directory {str(out.parent)!r} does not exist")
    return out


def run_build(args: argparse.Namespace) -> int:
    from manifest.package import ManifestError, build_package, parse_app_id, parse_host, parse_version
    from manifest.schema import SCHEMA_VERSION, ValidatorUnavailable

    app_id = _parsed("--app-id", parse_app_id, args.app_id)
    host = _parsed("--host", parse_host, args.host)
    version = _parsed("--app-version", parse_version, args.app_version or metadata.version("exchange-triage"))
    out = _out_path(args.out)
    try:
        build_package(app_id=app_id, host=host, version=version, out=out)
    except (ManifestError, ValidatorUnavailable) as exc:
        print(f"triage manifest build: {exc}", file=sys.stderr)
        return 1
    print(
        f"{out} (Teams manifest v{SCHEMA_VERSION}, app and bot id {app_id}, host {host}, version {version})"
    )
    return 0
