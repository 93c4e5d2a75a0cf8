"""Request facts from logs and headers: IIS W3SVC log lines, HttpProxy log rows, X-BEServer and friends.

Each request becomes a record {method, path, status, substatus, win32, backend_status, error, server, agent}
under `http.requests` (the fields a line does not carry are empty); headers set the servers a request
went through and the error OWA returned.
"""

from __future__ import annotations

import csv
import re
from typing import Any

from knowledge.reader.scan import Paste, scan, search
from knowledge.reader.values import MAX_ITEMS, add_all, real_host, url_parts

__all__ = ["read_logs"]

_METHOD_NAMES = (
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "PROPFIND",
    "RPC_IN_DATA",
    "RPC_OUT_DATA",
)
# Each method with the space and slash after it, so the scan's anchors are "POST /" and the like, not "POST".
_METHOD_PATH = "|".join(f"{name}[ ]/" for name in _METHOD_NAMES)
# date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) [cs(Referer)]
# sc-status sc-substatus sc-win32-status time-taken: the method and path, then the four numbers ending the line.
_IIS_LINE = re.compile(
    rf"\b({_METHOD_PATH})([^ \t\n]{{0,400}})[ ]([^\n]{{0,1500}}?)[ ](\d{{3}})[ ](\d{{1,4}})[ ](\d{{1,10}})[ ](\d{{1,9}})[ \t]*(?=\n|$)"
)
# "POST /EWS/Exchange.asmx HTTP/1.1" then, later, "HTTP/1.1 401 Unauthorized": a trace's request and answer.
_TRACE_METHOD = "|".join(f"{name}[ ]" for name in _METHOD_NAMES)
_TRACE_REQUEST = re.compile(
    rf"\b({_TRACE_METHOD})(https?://[^ \t\n]{{1,400}}|/[^ \t\n]{{0,400}})[ ]HTTP/\d(?:\.\d)?\b"
)
# The proxying Exchange component in a request's user agent: ASProxy/CrossSite, ASProxy/CrossForest, ...
_AGENT = re.compile(r"ASProxy/[A-Za-z]{2,40}")
_TRACE_ANSWER = re.compile(r"\bHTTP/\d(?:\.\d)?[ ](\d{3})\b")
_HEADER = re.compile(
    r"^[ \t]{0,8}(X-BEServer|X-FEServer|X-CalculatedBETarget|X-OWA-Error|X-BackEndHttpStatus|X-DiagInfo)"
    r"[ \t]{0,4}:[ \t]{0,8}([^\s;,]{1,300})",
    re.MULTILINE | re.IGNORECASE,
)
_HTTPPROXY_MARK = "UrlStem"
_MAX_ROWS = 200
_FIELDS = ("method", "path", "status", "substatus", "win32", "backend_status", "error", "server", "agent")


def _record(**values: Any) -> dict[str, str]:
    """A request record: every field a string (records hold strings), empty when the line lacks it."""
    return {name: str(values.get(name, "")) for name in _FIELDS}


def _number(text: str) -> str:
    text = text.strip()
    return text if text.isdigit() and len(text) <= 10 else ""


def _iis(paste: Paste) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if " /" not in paste.text:  # every logged request has its path after a space: one find rules a paste out
        return rows
    # At most MAX_ITEMS distinct records are kept: twice that many lines are enough to find them.
    for match in scan(_IIS_LINE, paste, 2 * MAX_ITEMS):
        method, path, middle, status, substatus, win32, _taken = match.groups()
        agent = _AGENT.search(middle)
        rows.append(
            _record(
                method=method[:-2],
                path="/" + path,
                status=status,
                substatus=substatus,
                win32=win32,
                agent=agent.group(0) if agent else "",
            )
        )
    return rows


def _header_line(text: str) -> tuple[str, int] | None:
    """The HttpProxy log's header line (it names UrlStem and HttpStatus) and where the line after it starts."""
    at = text.find(_HTTPPROXY_MARK)
    for _ in range(20):
        if at < 0:
            return None
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if "HttpStatus" in line and len(line) <= 20000:
            return line, end + 1
        at = text.find(_HTTPPROXY_MARK, end)
    return None


def _httpproxy(paste: Paste) -> list[dict[str, Any]]:
    header = _header_line(paste.text)
    if header is None:
        return []
    names = [name.strip().lstrip("#").strip() for name in next(csv.reader([header[0]]))]
    lines = paste.text[header[1] :].split("\n", _MAX_ROWS)[:_MAX_ROWS]
    rows = []
    for values in csv.reader(line for line in lines if line.strip()):
        if len(values) < 5:
            continue
        row = dict(zip(names, values, strict=False))
        status = _number(row.get("HttpStatus", ""))
        if status == "":
            continue
        rows.append(
            _record(
                method=row.get("Method", ""),
                path=row.get("UrlStem", ""),
                status=status,
                backend_status=_number(row.get("BackEndStatus", "")),
                error=(row.get("ErrorCode") or "").strip()[:200],
                server=(row.get("TargetServer") or "").strip()[:255],
            )
        )
    return rows


def _trace(paste: Paste, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """A request line and the status after it; else the pasted URL beside the first status."""
    request = search(_TRACE_REQUEST, paste) if "HTTP/" in paste.text else None
    if request is not None:
        answer = _TRACE_ANSWER.search(paste.text, request.end(), request.end() + 20000)
        if answer is not None:
            target = request.group(2)
            parts = url_parts(target)
            path = "/" + target.split("/", 3)[3] if parts is not None and target.count("/") >= 3 else target
            return [_record(method=request.group(1).strip(), path=path, status=answer.group(1))]
    url = facts.get("target.url")
    statuses = facts.get("http.statuses") or []
    if isinstance(url, str) and statuses and url.count("/") >= 3:
        return [_record(path="/" + url.split("/", 3)[3], status=statuses[0])]
    return []


def _headers(paste: Paste, facts: dict[str, Any]) -> None:
    low = paste.low if paste.low is not None else paste.text.lower()
    if "x-" not in low:
        return
    for match in scan(_HEADER, paste, 40):
        name, value = match.group(1).casefold(), match.group(2).strip()
        if name in ("x-beserver", "x-calculatedbetarget"):
            host = value.split("~", 1)[0]
            if real_host(host):
                facts.setdefault("proxy.backend_server", host)
        elif name == "x-feserver" and real_host(value):
            facts.setdefault("proxy.frontend_server", value)
        elif name == "x-owa-error":
            facts.setdefault("owa.error", value)
            add_all(facts, "exception.types", [value.rsplit(".", 1)[-1]])
        elif name == "x-backendhttpstatus" and value.isdigit():
            add_all(facts, "http.statuses", [int(value)])


def read_logs(paste: Paste, facts: dict[str, Any]) -> None:
    """Add `http.requests` and the header facts found in the paste."""
    _headers(paste, facts)
    rows = [*_iis(paste), *_httpproxy(paste)]
    if not rows:
        rows = _trace(paste, facts)
    unique: list[dict[str, Any]] = []
    for row in rows:
        if row not in unique and len(unique) < MAX_ITEMS:
            unique.append(row)
    if unique:
        # Statuses stay in the records: a log holds many normal 401 challenges beside the one that matters.
        facts["http.requests"] = unique
        add_all(facts, "error.codes", (r["error"] for r in unique if r["error"]))
