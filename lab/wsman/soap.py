"""WS-Management SOAP plumbing shared by the WinRS shell and the PSRP endpoint.

Parses the request envelope pywinrm and pypsrp send, and renders responses and WS-Man faults the way
Windows Remote Management does (HTTP 500 with a `WSManFault` detail carrying the numeric code).
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

from aiohttp import web

from lab.context import LabCredentials
from lab.faults import FaultSpec, reset_connection, stall

__all__ = [
    "ACTION_COMMAND",
    "ACTION_CREATE",
    "ACTION_DELETE",
    "ACTION_RECEIVE",
    "ACTION_SEND",
    "ACTION_SIGNAL",
    "FAULT_ACCESS_DENIED",
    "FAULT_ACTION_NOT_SUPPORTED",
    "FAULT_INTERNAL",
    "FAULT_SHELL_NOT_FOUND",
    "FAULT_TIMED_OUT",
    "FAULT_UNKNOWN_RESOURCE",
    "NS",
    "SHELL_NS",
    "STATE_DONE",
    "STATE_RUNNING",
    "WsmanRequest",
    "basic_credentials_ok",
    "envelope",
    "fault",
    "parse_request",
    "render_fault",
    "resource_created",
    "throttled",
    "unauthorized",
]

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
}
SHELL_NS = NS["rsp"]
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{SHELL_NS}/Command"
ACTION_RECEIVE = f"{SHELL_NS}/Receive"
ACTION_SIGNAL = f"{SHELL_NS}/Signal"
ACTION_SEND = f"{SHELL_NS}/Send"
STATE_DONE = f"{SHELL_NS}/CommandState/Done"
STATE_RUNNING = f"{SHELL_NS}/CommandState/Running"

# Windows' WS-Man fault codes (winerror.h, ERROR_WSMAN_*): clients key their behaviour on them.
FAULT_TIMED_OUT = 2150858793  # Receive long-poll expired: pywinrm and pypsrp retry silently
FAULT_SHELL_NOT_FOUND = 2150858843
FAULT_ACTION_NOT_SUPPORTED = 2150858770
FAULT_UNKNOWN_RESOURCE = 2150858811
FAULT_ACCESS_DENIED = 5
FAULT_INTERNAL = 2150858752

_DURATION = re.compile(r"^PT(?P<seconds>\d+(?:\.\d+)?)S$")


@dataclass(frozen=True)
class WsmanRequest:
    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float  # seconds the client lets a Receive long-poll
    options: dict[str, str]
    body: ET.Element


def parse_request(data: bytes) -> WsmanRequest:
    root = ET.fromstring(data)  # noqa: S314  (loopback test equipment; clients are our own libraries)
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None or body is None:
        raise ValueError("not a SOAP envelope")
    timeout = _DURATION.match(header.findtext("w:OperationTimeout", "PT60S", NS))
    options = {
        option.get("Name", ""): option.text or "" for option in header.iterfind("w:OptionSet/w:Option", NS)
    }
    return WsmanRequest(
        action=header.findtext("a:Action", "", NS),
        message_id=header.findtext("a:MessageID", "", NS),
        resource_uri=header.findtext("w:ResourceURI", "", NS),
        shell_id=header.findtext("w:SelectorSet/w:Selector[@Name='ShellId']", None, NS),
        operation_timeout=float(timeout["seconds"]) if timeout else 60.0,
        options=options,
        body=body,
    )


def basic_credentials_ok(request: web.Request, credentials: LabCredentials) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return credentials.accepts(user, password)


def unauthorized(schemes: tuple[str, ...] = ('Basic realm="WSMAN"',)) -> web.Response:
    response = web.Response(status=401, body=b"")
    for scheme in schemes:
        response.headers.add("WWW-Authenticate", scheme)
    return response


def throttled() -> web.Response:
    """What IIS/HTTP.sys answers when the WinRM or Exchange PowerShell app pool refuses more work."""
    body = "<h1>Service Unavailable</h1><p>HTTP Error 503. The service is unavailable.</p>"
    return web.Response(status=503, text=body, content_type="text/html", headers={"Retry-After": "2"})


def envelope(action: str, relates_to: str, body: str, status: int = 200) -> web.Response:
    xml = (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}" '
        f'xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" xmlns:p="{NS["p"]}"><s:Header>'
        f"<a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    return web.Response(
        status=status, body=xml.encode("utf-8"), content_type="application/soap+xml", charset="UTF-8"
    )


def fault(relates_to: str, code: int, subcode: str, reason: str, machine: str = "127.0.0.1") -> web.Response:
    text = escape(reason)
    body = (
        f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{code}" '
        f'Machine="{escape(machine)}"><f:Message>{text}</f:Message></f:WSManFault></s:Detail></s:Fault>'
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body, status=500)


def resource_created(address: str, resource_uri: str, shell_id: str, shell_xml: str = "") -> str:
    return (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        f"</x:ResourceCreated>{shell_xml}"
    )


async def render_fault(
    request: web.Request, spec: FaultSpec, challenges: tuple[str, ...]
) -> web.StreamResponse | None:
    """How a WinRM/IIS host shows a fault to its client; None for a pure latency fault."""
    if spec.latency_ms:
        await asyncio.sleep(spec.latency_ms / 1000)
    if spec.kind == "unauthorized":
        return unauthorized(challenges)
    if spec.kind == "throttle":
        return throttled()
    if spec.kind == "reset":
        return reset_connection(request)
    if spec.kind == "timeout":
        await stall(request)
        return web.Response(status=504)
    return None
