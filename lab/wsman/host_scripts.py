"""Answers to the product's host-level PowerShell templates, from one server's scenario data.

Every script the product sends starts with `# exchange-triage: <template-id>` and carries its
arguments as a base64 JSON literal; the lab reads both and prints what the template's
`ConvertTo-Json -Compress` would print on that server.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.context import LabContext
from lab.exchange.cmdlets import run_pipeline
from lab.psrp.wire import Command, PsObject, PsValue
from lab.scenario.model import Server

__all__ = ["TEMPLATES", "WRITE_TEMPLATES", "ScriptResult", "run_script", "template_id"]

_HEADER = re.compile(r"\A\s*#\s*exchange-triage:\s*(?P<id>[A-Za-z0-9_.-]+)\s*$", re.M)
_ARGS = re.compile(r"FromBase64String\(\s*'(?P<b64>[A-Za-z0-9+/=\s]*)'\s*\)")
_HIVES = {"hkey_local_machine": "hklm:", "hkey_current_user": "hkcu:"}

Json = Any
Template = Callable[[LabContext, Server, dict[str, Json]], Json]


@dataclass(frozen=True)
class ScriptResult:
    stdout: str
    stderr: str = ""
    exit_code: int = 0


class _ArgumentError(ValueError):
    pass


class _WriteFailed(RuntimeError):
    """A write template's cmdlet failed: powershell.exe prints its error and exits 1 (-ErrorAction Stop)."""


def template_id(script: str) -> str | None:
    match = _HEADER.match(script)
    return match["id"] if match else None


def _registry_key(path: str) -> str:
    """HKLM:\\X, HKEY_LOCAL_MACHINE\\X and Registry::HKEY_LOCAL_MACHINE\\X name the same key."""
    key = path.strip().lower().removeprefix("registry::").replace("/", "\\")
    for long, short in _HIVES.items():
        if key.startswith(long):
            key = short + key[len(long) :]
    return key.replace(":\\\\", ":\\").rstrip("\\")


def _registry_values(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    path, names = _text(args, "path"), _texts(args, "names")
    key = _registry_key(path)
    values = next((v for p, v in server.registry.items() if _registry_key(p) == key), {})
    by_name = {name.lower(): value for name, value in values.items()}
    return {name: by_name.get(name.lower()) for name in names}


def _win_events(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    log, providers = _text(args, "log"), _texts(args, "providers")
    ids = {int(i) for i in args.get("ids") or []}
    since = ctx.time(_text(args, "since")) if args.get("since") else None
    until = ctx.time(_text(args, "until")) if args.get("until") else None
    limit = int(args.get("max") or 100)
    wanted_providers = {p.lower() for p in providers}
    events = []
    for event in server.events:
        created = ctx.time(event.time_created)
        if event.log.lower() != log.lower() or (since and created < since) or (until and created > until):
            continue
        if (wanted_providers and event.provider.lower() not in wanted_providers) or (
            ids and event.id not in ids
        ):
            continue
        events.append((created, event))
    events.sort(key=lambda pair: pair[0], reverse=True)  # Get-WinEvent lists newest first
    return [
        {
            "time_created": _stamp(created),
            "provider": e.provider,
            "id": e.id,
            "level": e.level,
            "message": e.message,
        }
        for created, e in events[:limit]
    ]


def _cert_store(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    wanted = {t.upper() for t in _texts(args, "thumbprints")}
    return [
        {
            "thumbprint": cert.thumbprint,
            "subject": cert.subject,
            "not_after": _stamp(ctx.time(cert.not_after)),
            "has_private_key": cert.has_private_key,
        }
        for cert in server.certificates
        if cert.thumbprint in wanted  # the template lists only the thumbprints it is given
    ]


def _iis_ssl(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    site = _text(args, "site")
    if site.lower() != "default web site":
        return []
    rows = []
    for path in _texts(args, "paths"):
        kind = path.strip("/").lower()
        vdir = (
            getattr(server.virtual_directories, kind)
            if kind in ("owa", "ecp", "ews", "autodiscover")
            else None
        )
        if vdir is None:
            continue
        rows.append(
            {
                "path": path,
                "ssl_flags": "Ssl" if vdir.require_ssl else "None",
                "require_ssl": vdir.require_ssl,
            }
        )
    return rows


def _hostname(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    return {"fqdn": server.fqdn}


def _clock(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    source = f"dc01.{ctx.scenario.organization.forest}"
    now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=server.clock_offset_seconds)
    return {"utc": now.isoformat(), "source": source, "offset_seconds": float(server.clock_offset_seconds)}


def _outbound(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    blocked = {u.lower() for u in server.unreachable_urls}
    rows: list[dict[str, Json]] = []
    for url in _texts(args, "urls"):
        if "*" in blocked or url.lower() in blocked:
            rows.append({"url": url, "status": None, "error": "Unable to connect to the remote server"})
        else:
            rows.append({"url": url, "status": 200, "error": None})
    return rows


def _services(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    stopped = {p.lower() for p in server.stopped_app_pools}
    pools = [
        {"name": name, "state": "Stopped" if name.lower() in stopped else "Started"}
        for name in _texts(args, "app_pools")
    ]
    return {"stopped_services": list(server.stopped_services), "app_pools": pools}


def _back_end_thumbprint(server: Server) -> str | None:
    if server.back_end_certificate != "auto":
        return server.back_end_certificate
    own = next((c for c in server.certificates if c.subject.upper() == f"CN={server.name.upper()}"), None)
    return (own or server.certificates[0]).thumbprint if server.certificates else None


def _iis_config(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    thumbprint = _back_end_thumbprint(server)
    found = any(c.thumbprint == thumbprint for c in server.certificates)
    binding = {
        "binding": "*:444:",
        "certificate_hash": thumbprint or "",
        "certificate_found": bool(thumbprint) and found,
    }
    handlers = []
    for path in _texts(args, "handler_paths"):
        kind = path.strip("/").lower()
        vdir = getattr(server.virtual_directories, kind, None) if kind in ("ews", "autodiscover") else None
        if vdir is not None:
            handlers.append({"path": path, "svc_integrated": vdir.svc_handler})
    return {"back_end": [binding], "handlers": handlers}


def _exo_json(value: PsValue) -> Json:
    """A cmdlet value as Windows PowerShell 5.1 `ConvertTo-Json` prints it (dates as /Date(ms)/)."""
    if isinstance(value, PsObject):
        return {k: _exo_json(v) for k, v in value.properties.items()}
    if isinstance(value, list):
        return [_exo_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return f"/Date({int(value.timestamp() * 1000)})/"
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _exo_cmdlets(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    """The management host: Connect-ExchangeOnline (app-only, certificate) then each allowed Get-*."""
    organization = _text(args, "organization")
    for key in ("app_id", "certificate_thumbprint"):
        _text(args, key)
    if organization.lower() != ctx.scenario.exchange_online.tenant.lower():
        return {"error": f"Connect-ExchangeOnline: the tenant '{organization}' was not found."}
    out: dict[str, Json] = {}
    for name in _texts(args, "cmdlets"):
        out[name] = _exo_run(ctx, Command(name))
    calls = args.get("calls") or []
    if not isinstance(calls, list):
        raise _ArgumentError("argument 'calls' must be a list")
    for index, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise _ArgumentError("each call needs a name")
        params = call.get("params") or {}
        out[f"call:{index}"] = _exo_run(ctx, Command(call["name"], dict(params)))
    return out


def _exo_run(ctx: LabContext, command: Command) -> Json:
    result = run_pipeline(ctx, [command], online=True)
    failure = result.failure or (result.errors[0] if result.errors and not result.objects else None)
    return {"error": failure.message} if failure else [_exo_json(o) for o in result.objects]


TEMPLATES: dict[str, Template] = {
    "registry-values": _registry_values,
    "win-events": _win_events,
    "cert-store": _cert_store,
    "iis-ssl": _iis_ssl,
    "hostname": _hostname,
    "clock": _clock,
    "outbound": _outbound,
    "services": _services,
    "iis-config": _iis_config,
    "exo-cmdlets": _exo_cmdlets,
}


def _iis_require_ssl(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    """Set sslFlags to Ssl on a vdir of the Default Web Site: IIS then accepts (and requires) SSL there."""
    if _text(args, "site").lower() != "default web site":
        raise _ArgumentError("only the Default Web Site's virtual directories")
    kind = _text(args, "path").strip("/").lower()
    if kind not in ("owa", "ecp"):
        raise _ArgumentError(f"no virtual directory '{kind}'")
    vdir = getattr(server.virtual_directories, kind)
    fixed = vdir.model_copy(
        update={
            "require_ssl": True,
            "answer_status": 200 if vdir.answer_status == 403 else vdir.answer_status,
        }
    )
    vdirs = server.virtual_directories.model_copy(update={kind: fixed})
    new_server = server.model_copy(update={"virtual_directories": vdirs})
    org = ctx.scenario.organization
    servers = [new_server if s.name == server.name else s for s in org.servers]
    ctx.scenario = ctx.scenario.model_copy(
        update={"organization": org.model_copy(update={"servers": servers})}
    )
    return [{"path": kind, "ssl_flags": "Ssl", "require_ssl": True}]


_EXO_WRITES = ("set-organizationrelationship", "add-mailboxfolderpermission", "remove-mailboxfolderpermission",
               "set-mailboxfolderpermission")  # fmt: skip


def _exo_write(ctx: LabContext, server: Server, args: dict[str, Json]) -> Json:
    """The management host with the write app: Connect-ExchangeOnline, one write cmdlet from the template's
    list with its parameters, disconnect; the cmdlet's error ends the script (exit code 1)."""
    organization = _text(args, "organization")
    for key in ("app_id", "certificate_thumbprint"):
        _text(args, key)
    name = _text(args, "name")
    if name.lower() not in _EXO_WRITES:
        raise _WriteFailed(f"not on the write list: {name}")
    if organization.lower() != ctx.scenario.exchange_online.tenant.lower():
        raise _WriteFailed(f"Connect-ExchangeOnline: the tenant '{organization}' was not found.")
    params = args.get("params") or {}
    if not isinstance(params, dict):
        raise _ArgumentError("argument 'params' must be an object")
    result = run_pipeline(ctx, [Command(name, dict(params))], online=True, writer=True)
    failure = result.failure or (result.errors[0] if result.errors else None)
    if failure is not None:
        raise _WriteFailed(failure.message)
    return [_exo_json(o) for o in result.objects]


# Run only in a shell of the account with the write rights.
WRITE_TEMPLATES: dict[str, Template] = {"iis-require-ssl": _iis_require_ssl, "exo-write": _exo_write}


def run_script(ctx: LabContext, server: Server, script: str, *, writer: bool = False) -> ScriptResult:
    """What powershell.exe on `server` prints for one template script (a write template only for `writer`)."""
    name = template_id(script)
    known = TEMPLATES | WRITE_TEMPLATES if writer else TEMPLATES
    if name is None or name not in known:
        first_line = script.strip().splitlines()[0][:60] if script.strip() else "(empty script)"
        shown = name or first_line
        return _error(
            f"Unknown exchange-triage template '{shown}'.", shown, "NotImplemented", "UnknownTemplate"
        )
    try:
        args = _arguments(script)
        answer = known[name](ctx, server, args)
    except _ArgumentError as exc:
        return _error(f"ConvertFrom-Json : {exc}", name, "InvalidArgument", "TemplateArguments")
    except _WriteFailed as exc:
        return _error(str(exc), name, "InvalidOperation", "WriteFailed")
    return ScriptResult(stdout=json.dumps(answer, ensure_ascii=False, separators=(",", ":")) + "\r\n")


def _arguments(script: str) -> dict[str, Json]:
    match = _ARGS.search(script)
    if match is None:
        raise _ArgumentError("the script carries no $TriageArgs literal")
    try:
        args = json.loads(base64.b64decode(match["b64"], validate=False).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _ArgumentError(f"Invalid JSON primitive: {exc}") from None
    if not isinstance(args, dict):
        raise _ArgumentError("the arguments are not a JSON object")
    return args


def _text(args: dict[str, Json], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise _ArgumentError(f"argument '{key}' must be a string")
    return value


def _texts(args: dict[str, Json], key: str) -> list[str]:
    value = args.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _ArgumentError(f"argument '{key}' must be a list of strings")
    return value


def _stamp(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _error(message: str, target: str, category: str, error_id: str) -> ScriptResult:
    """An error record as powershell.exe -EncodedCommand writes it to stderr (CLIXML), exit code 1."""
    lines = [message, f"    + CategoryInfo          : {category}: ({target}:String) [], RuntimeException",
             f"    + FullyQualifiedErrorId : {error_id}", ""]  # fmt: skip
    text = "_x000D__x000A_".join(_xml_text(line) for line in lines)
    stderr = (
        "#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        f'<S S="Error">{text}</S></Objs>'
    )
    return ScriptResult(stdout="", stderr=stderr, exit_code=1)


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
