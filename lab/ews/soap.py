"""SOAP plumbing for the EWS simulator: namespaces, a small element builder, envelopes and faults.

Responses are built as element trees (never string-pasted), so scenario text such as display names
with `&` or non-ASCII letters is always escaped and encoded correctly.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "NS",
    "EwsError",
    "ServerVersion",
    "child_text",
    "el",
    "envelope",
    "error_message",
    "local_name",
    "parse_request",
    "q",
    "soap_fault",
    "success_message",
]

NS = {
    "s": "http://schemas.xmlsoap.org/soap/envelope/",
    "m": "http://schemas.microsoft.com/exchange/services/2006/messages",
    "t": "http://schemas.microsoft.com/exchange/services/2006/types",
    "e": "http://schemas.microsoft.com/exchange/services/2006/errors",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

Child = ET.Element | str | None


@dataclass(frozen=True)
class EwsError(Exception):
    """A per-message EWS error (ResponseClass="Error"), e.g. ErrorNonExistentMailbox."""

    code: str
    text: str


@dataclass(frozen=True)
class ServerVersion:
    major: int
    minor: int
    build: int
    revision: int

    @classmethod
    def from_admin_display_version(cls, text: str) -> ServerVersion:
        """'Version 15.2 (Build 1544.4)' -> 15.2.1544.4, as Get-ExchangeServer reports it."""
        match = re.search(r"(\d+)\.(\d+) \(Build (\d+)\.(\d+)\)", text)
        if match is None:
            raise ValueError(f"not an AdminDisplayVersion: {text!r}")
        return cls(*(int(part) for part in match.groups()))

    @property
    def schema(self) -> str:
        # Exchange 2016 and 2019 answer with this schema name whatever the request asked for.
        return "V2017_07_11" if (self.major, self.minor) >= (15, 1) else "Exchange2013_SP1"


def q(tag: str) -> str:
    """'t:Folder' -> '{types namespace}Folder'."""
    prefix, _, local = tag.partition(":")
    return f"{{{NS[prefix]}}}{local}"


def local_name(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def el(tag: str, *children: Child | Iterable[Child], **attrs: str) -> ET.Element:
    """Build `tag` (prefixed name) with attributes, text (str children) and child elements."""
    element = ET.Element(q(tag), attrs)
    for child in children:
        for item in [child] if isinstance(child, ET.Element | str | None) else child:
            if isinstance(item, ET.Element):
                element.append(item)
            elif isinstance(item, str):
                element.text = (element.text or "") + item
    return element


def child_text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    return element.findtext(path, namespaces=NS)


def parse_request(body: bytes) -> tuple[ET.Element | None, ET.Element]:
    """(SOAP header or None, the operation element in the body). Raises ValueError if not SOAP."""
    # expat resolves no external entities; the simulator listens on loopback for lab clients only.
    root = ET.fromstring(body)  # noqa: S314
    if root.tag != q("s:Envelope"):
        raise ValueError("not a SOAP envelope")
    body_element = root.find("s:Body", NS)
    if body_element is None or len(body_element) == 0:
        raise ValueError("SOAP envelope without a body")
    return root.find("s:Header", NS), body_element[0]


def envelope(version: ServerVersion, body: ET.Element) -> bytes:
    header = el(
        "s:Header",
        el(
            "t:ServerVersionInfo",
            MajorVersion=str(version.major),
            MinorVersion=str(version.minor),
            MajorBuildNumber=str(version.build),
            MinorBuildNumber=str(version.revision),
            Version=version.schema,
        ),
    )
    return _serialise(el("s:Envelope", header, el("s:Body", body)))


def success_message(tag: str, *payload: Child) -> ET.Element:
    return el(tag, el("m:ResponseCode", "NoError"), *payload, ResponseClass="Success")


def error_message(tag: str, error: EwsError, *extra: Child) -> ET.Element:
    return el(
        tag,
        el("m:MessageText", error.text),
        el("m:ResponseCode", error.code),
        el("m:DescriptiveLinkKey", "0"),
        *extra,
        ResponseClass="Error",
    )


def soap_fault(code: str, text: str, *detail: Child) -> bytes:
    """A SOAP fault as Exchange sends it with HTTP 500 (throttling, schema and header errors)."""
    fault = el(
        "s:Fault",
        _plain("faultcode", f"a:{code}", {"xmlns:a": NS["t"]}),
        _plain("faultstring", text, {"xml:lang": "en-US"}),
        _plain("detail", None, {}, el("e:ResponseCode", code), el("e:Message", text), *detail),
    )
    return _serialise(el("s:Envelope", el("s:Body", fault)))


def _plain(tag: str, text: str | None, attrs: dict[str, str], *children: Child) -> ET.Element:
    """An unqualified element (SOAP 1.1 fault children carry no namespace)."""
    element = ET.Element(tag)
    for name, value in attrs.items():
        # ElementTree has no API for a namespace declaration nobody else uses; the fault code needs it.
        element.set(name.replace("xml:", "{http://www.w3.org/XML/1998/namespace}"), value)
    element.text = text
    element.extend(c for c in children if isinstance(c, ET.Element))
    return element


def _serialise(root: ET.Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data
