"""PSRP on the wire ([MS-PSRP] 2.2): fragments, messages and the CLIXML the server side needs.

Only what a server answering pypsrp needs: read the client's fragments and its CREATE_PIPELINE
commands, write SESSION_CAPABILITY / RUNSPACEPOOL_STATE / PIPELINE_OUTPUT / ERROR_RECORD /
PIPELINE_STATE messages carrying objects shaped like deserialized Exchange objects.
"""

from __future__ import annotations

import base64
import datetime
import os
import re
import struct
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeAlias
from xml.sax.saxutils import escape

__all__ = [
    "Command",
    "Defragmenter",
    "ErrorInfo",
    "MessageType",
    "PsObject",
    "PsValue",
    "RawMessage",
    "Uri",
    "decrypt_secure_string",
    "encrypted_session_key",
    "error_record_xml",
    "fragment",
    "object_xml",
    "pack_message",
    "parse_create_pipeline",
    "pipeline_state_xml",
    "public_key_of",
]

_DESTINATION_CLIENT = 1
_BOM = b"\xef\xbb\xbf"
_MAX_BLOB = 32_000  # per fragment; keeps each Receive response well under the client's envelope size


class MessageType(IntEnum):
    SESSION_CAPABILITY = 0x00010002
    INIT_RUNSPACEPOOL = 0x00010004
    RUNSPACEPOOL_STATE = 0x00021005
    CREATE_PIPELINE = 0x00021006
    APPLICATION_PRIVATE_DATA = 0x00021009
    GET_COMMAND_METADATA = 0x0002100A
    PIPELINE_OUTPUT = 0x00041004
    ERROR_RECORD = 0x00041005
    PIPELINE_STATE = 0x00041006
    PUBLIC_KEY = 0x00010005
    ENCRYPTED_SESSION_KEY = 0x00010006


class Uri(str):
    """A string that Exchange types as System.Uri (InternalUrl, ExternalUrl, ...)."""


PsValue: TypeAlias = "bool | int | str | bytes | datetime.datetime | uuid.UUID | list[PsValue] | dict[str, PsValue] | PsObject | None"


@dataclass(frozen=True)
class PsObject:
    type_names: tuple[str, ...]  # most derived first; System.Object last
    properties: dict[str, PsValue]
    to_string: str


@dataclass(frozen=True)
class ErrorInfo:
    """An ErrorRecord: what `Write-Error` or a failed command leaves in the error stream."""

    message: str
    exception_types: tuple[str, ...]
    fully_qualified_error_id: str
    category: int  # System.Management.Automation.ErrorCategory
    category_reason: str
    target_name: str
    category_text: str  # e.g. "ObjectNotFound"


@dataclass(frozen=True)
class RawMessage:
    message_type: int
    rpid: uuid.UUID
    pid: uuid.UUID
    body: ET.Element | None


@dataclass(frozen=True)
class Command:
    name: str
    parameters: dict[str, PsValue] = field(default_factory=dict)  # a switch is True
    positional: list[PsValue] = field(default_factory=list)


class Defragmenter:
    """Reassembles client fragments ([MS-PSRP] 2.2.4) into messages, across calls."""

    def __init__(self) -> None:
        self._partial: dict[int, bytes] = {}

    def feed(self, data: bytes) -> Iterator[RawMessage]:
        while data:
            object_id, _fragment_id, flags, length = struct.unpack(">QQBI", data[:21])
            blob, data = data[21 : 21 + length], data[21 + length :]
            buffered = self._partial.pop(object_id, b"") + blob
            if flags & 0x2:
                yield _unpack_message(buffered)
            else:
                self._partial[object_id] = buffered


def _unpack_message(data: bytes) -> RawMessage:
    _destination, message_type = struct.unpack("<II", data[:8])
    body = data[40:].removeprefix(_BOM)
    return RawMessage(
        message_type=message_type,
        rpid=uuid.UUID(bytes_le=data[8:24]),
        pid=uuid.UUID(bytes_le=data[24:40]),
        body=ET.fromstring(body) if body.strip() else None,  # noqa: S314  (loopback test equipment)
    )


def pack_message(message_type: MessageType, rpid: uuid.UUID, pid: uuid.UUID | None, xml: str) -> bytes:
    header = struct.pack("<II", _DESTINATION_CLIENT, message_type)
    return header + rpid.bytes_le + (pid or uuid.UUID(int=0)).bytes_le + _BOM + xml.encode("utf-8")


def fragment(object_id: int, message: bytes) -> bytes:
    chunks = [message[i : i + _MAX_BLOB] for i in range(0, len(message), _MAX_BLOB)] or [b""]
    out = b""
    for index, chunk in enumerate(chunks):
        flags = (0x1 if index == 0 else 0) | (0x2 if index == len(chunks) - 1 else 0)
        out += struct.pack(">QQBI", object_id, index, flags, len(chunk)) + chunk
    return out


# ---- reading the client's CREATE_PIPELINE -------------------------------------------------------


def parse_create_pipeline(body: ET.Element, session_key: bytes | None = None) -> list[Command]:
    """The commands of a CREATE_PIPELINE message, with their named and positional arguments. A SecureString
    argument is decrypted with the pool's session key (from the key exchange); without one it is refused."""
    refs: dict[str, PsValue] = {"__session_key__": session_key}
    commands = []
    for cmd in body.iterfind(".//Obj[@N='PowerShell']/MS/Obj[@N='Cmds']/LST/Obj"):
        name = cmd.findtext("MS/S[@N='Cmd']", "")
        command = Command(name=name)
        for arg in cmd.iterfind("MS/Obj[@N='Args']/LST/Obj"):
            value_element = arg.find("MS/*[@N='V']")
            value = _read_value(value_element, refs) if value_element is not None else None
            key = arg.findtext("MS/S[@N='N']")
            if key:
                command.parameters[key] = True if value is None else value
            else:
                command.positional.append(value)
        commands.append(command)
    return commands


def _read_value(element: ET.Element, refs: dict[str, PsValue]) -> PsValue:
    tag, text = element.tag, element.text or ""
    value: PsValue
    if tag == "Nil":
        value = None
    elif tag == "B":
        value = text.lower() == "true"
    elif tag in ("I32", "I64", "I16", "U32", "U64", "U16", "By", "SB"):
        value = int(text)
    elif tag == "Ref":
        value = refs.get(element.get("RefId", ""))
    elif tag == "BA":
        value = base64.b64decode(text)
    elif tag == "SS":
        key = refs.get("__session_key__")
        if not isinstance(key, bytes):
            raise ValueError("a SecureString arrived before the session key exchange")
        value = decrypt_secure_string(key, text)
    elif tag == "Obj" and element.find("DCT") is not None:
        table = element.find("DCT")
        assert table is not None
        value = {
            str(_read_value(entry.find("*[@N='Key']"), refs)): _read_value(entry.find("*[@N='Value']"), refs)  # type: ignore[arg-type]
            for entry in table.iterfind("En")
        }
    elif tag == "Obj":
        items = element.find("LST")
        items = items if items is not None else element.find("IE")
        if items is not None:
            value = [_read_value(item, refs) for item in items]
        else:
            value = _decode_string(element.findtext("ToString", ""))
    else:
        value = _decode_string(text)
    if "RefId" in element.attrib and tag != "Ref":
        refs[element.attrib["RefId"]] = value
    return value


_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _decode_string(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _encode_string(text: str) -> str:
    # [MS-PSRP] 2.2.5.3.2: control characters and a literal "_x" are escaped as _xHHHH_.
    text = text.replace("_x", "_x005F_x")
    text = "".join(f"_x{ord(c):04X}_" if ord(c) < 0x20 else c for c in text)
    return escape(text)


# ---- writing objects ----------------------------------------------------------------------------


class _Writer:
    """One message's CLIXML: RefIds and type-name references are scoped to the message."""

    def __init__(self) -> None:
        self._next_ref = 0
        self._type_refs: dict[tuple[str, ...], int] = {}

    def next_ref(self) -> int:
        self._next_ref += 1
        return self._next_ref - 1

    def _types(self, names: tuple[str, ...]) -> str:
        if names in self._type_refs:
            return f'<TNRef RefId="{self._type_refs[names]}" />'
        self._type_refs[names] = len(self._type_refs)
        inner = "".join(f"<T>{escape(n)}</T>" for n in names)
        return f'<TN RefId="{self._type_refs[names]}">{inner}</TN>'

    def value(self, value: PsValue, name: str | None = None) -> str:
        attr = f' N="{escape(name)}"' if name is not None else ""
        if value is None:
            return f"<Nil{attr} />"
        if isinstance(value, bool):
            return f"<B{attr}>{'true' if value else 'false'}</B>"
        if isinstance(value, int):
            return f"<I32{attr}>{value}</I32>" if -(2**31) <= value < 2**31 else f"<I64{attr}>{value}</I64>"
        if isinstance(value, datetime.datetime):
            stamp = value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return f"<DT{attr}>{stamp}</DT>"
        if isinstance(value, uuid.UUID):
            return f"<G{attr}>{value}</G>"
        if isinstance(value, Uri):
            return f"<URI{attr}>{_encode_string(value)}</URI>"
        if isinstance(value, str):
            return f"<S{attr}>{_encode_string(value)}</S>"
        if isinstance(value, bytes):
            return f"<BA{attr}>{base64.b64encode(value).decode()}</BA>"
        if isinstance(value, list):
            items = "".join(self.value(item) for item in value)
            types = self._types(("System.Collections.ArrayList", "System.Object"))
            return f'<Obj{attr} RefId="{self.next_ref()}">{types}<LST>{items}</LST></Obj>'
        if isinstance(value, dict):
            entries = "".join(
                f"<En>{self.value(k, 'Key')}{self.value(v, 'Value')}</En>" for k, v in value.items()
            )
            types = self._types(("System.Collections.Hashtable", "System.Object"))
            return f'<Obj{attr} RefId="{self.next_ref()}">{types}<DCT>{entries}</DCT></Obj>'
        return self.obj(value, name)

    def obj(self, obj: PsObject, name: str | None = None) -> str:
        attr = f' N="{escape(name)}"' if name is not None else ""
        props = "".join(self.value(v, k) for k, v in obj.properties.items())
        return (
            f'<Obj{attr} RefId="{self.next_ref()}">{self._types(obj.type_names)}'
            f"<ToString>{_encode_string(obj.to_string)}</ToString><Props>{props}</Props></Obj>"
        )

    def error_record(self, error: ErrorInfo, name: str | None = None) -> str:
        attr = f' N="{escape(name)}"' if name is not None else ""
        exception = PsObject(
            error.exception_types,
            {"Message": error.message, "Source": "System.Management.Automation", "HResult": -2146233087},
            f"{error.exception_types[0]}: {error.message}",
        )
        members = "".join(
            [
                self.obj(exception, "Exception"),
                self.value(error.target_name, "TargetObject"),
                self.value(error.fully_qualified_error_id, "FullyQualifiedErrorId"),
                self.value(False, "SerializeExtendedInfo"),
                self.value(error.category, "ErrorCategory_Category"),
                self.value("", "ErrorCategory_Activity"),
                self.value(error.category_reason, "ErrorCategory_Reason"),
                self.value(error.target_name, "ErrorCategory_TargetName"),
                self.value("String", "ErrorCategory_TargetType"),
                self.value(
                    f"{error.category_text}: ({error.target_name}:String) [], {error.category_reason}",
                    "ErrorCategory_Message",
                ),
            ]
        )
        types = self._types(("System.Management.Automation.ErrorRecord", "System.Object"))
        return (
            f'<Obj{attr} RefId="{self.next_ref()}">{types}<ToString>{_encode_string(error.message)}</ToString>'
            f"<MS>{members}</MS></Obj>"
        )


def object_xml(value: PsValue) -> str:
    """A PIPELINE_OUTPUT body: the bare serialized object."""
    return _Writer().value(value)


def error_record_xml(error: ErrorInfo) -> str:
    """An ERROR_RECORD message body."""
    return _Writer().error_record(error)


def pipeline_state_xml(state: int, error: ErrorInfo | None = None) -> str:
    writer = _Writer()
    ref = writer.next_ref()
    members = writer.value(state, "PipelineState")
    if error is not None:
        members += writer.error_record(error, "ExceptionAsErrorRecord")
    return f'<Obj RefId="{ref}"><MS>{members}</MS></Obj>'


# ---- secure strings ([MS-PSRP] 2.2.2.3-4, 2.2.5.1.24) -------------------------------------------


def encrypted_session_key(public_key_blob: str) -> tuple[bytes, str]:
    """A fresh AES-256 session key, and the ENCRYPTED_SESSION_KEY body carrying it encrypted with the client's
    RSA public key (a CAPI PUBLICKEYBLOB: 16-byte header, exponent, modulus little-endian)."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    blob = base64.b64decode(public_key_blob)
    exponent = int.from_bytes(blob[16:20], "little")
    modulus = int.from_bytes(blob[20:276], "little")
    public = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    key = os.urandom(32)
    encrypted = public.encrypt(key, padding.PKCS1v15())[::-1]
    simple_blob = b"\x01\x02\x00\x00\x10\x66\x00\x00\x00\xa4\x00\x00" + encrypted
    body = f'<Obj RefId="0"><MS><S N="EncryptedSessionKey">{base64.b64encode(simple_blob).decode()}</S></MS></Obj>'
    return key, body


def public_key_of(body: ET.Element | None) -> str | None:
    return body.findtext(".//S[@N='PublicKey']") if body is not None else None


def decrypt_secure_string(key: bytes, text: str) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.padding import PKCS7

    decryptor = Cipher(algorithms.AES(key), modes.CBC(b"\x00" * 16)).decryptor()
    padded = decryptor.update(base64.b64decode(text)) + decryptor.finalize()
    unpadder = PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-16-le")
