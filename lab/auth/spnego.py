"""The few DER structures of SPNEGO (RFC 4178) the lab reads and writes: NegTokenInit and NegTokenResp."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "KERBEROS",
    "MS_KERBEROS",
    "NTLM",
    "SPNEGO",
    "NegTokenInit",
    "accept_completed",
    "accept_incomplete",
    "parse_init",
    "parse_resp",
]

SPNEGO = bytes.fromhex("2b0601050502")  # 1.3.6.1.5.5.2
NTLM = bytes.fromhex("2b06010401823702020a")  # 1.3.6.1.4.1.311.2.2.10
KERBEROS = bytes.fromhex("2a864886f712010202")  # 1.2.840.113554.1.2.2
MS_KERBEROS = bytes.fromhex("2a864882f712010202")  # 1.2.840.48018.1.2.2
_ACCEPT_COMPLETED, _ACCEPT_INCOMPLETE = 0, 1


def _read(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, offset after the element) of the DER element at `offset`."""
    if offset + 2 > len(data):
        raise ValueError("truncated DER element")
    tag, first = data[offset], data[offset + 1]
    offset += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    else:
        length = first
    if offset + length > len(data):
        raise ValueError("truncated DER value")
    return tag, data[offset : offset + length], offset + length


def _items(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """Every element of a constructed value: (tag, value, the element's own encoding)."""
    items, offset = [], 0
    while offset < len(data):
        tag, value, end = _read(data, offset)
        items.append((tag, value, data[offset:end]))
        offset = end
    return items


def _encode(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return bytes((tag, length)) + value
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big") + value


@dataclass(frozen=True)
class NegTokenInit:
    mechs: tuple[bytes, ...]  # OIDs, content octets only
    mech_list: bytes  # the MechTypeList's DER, as the mechListMIC covers it
    token: bytes | None


def parse_init(data: bytes) -> NegTokenInit:
    """An InitialContextToken carrying SPNEGO's NegTokenInit; ValueError for anything else."""
    tag, body, _end = _read(data)
    if tag != 0x60:
        raise ValueError("not a GSS-API initial context token")
    oid_tag, oid, offset = _read(body)
    if oid_tag != 0x06 or oid != SPNEGO:
        raise ValueError("not SPNEGO")
    choice, inner, _ = _read(body, offset)
    if choice != 0xA0:
        raise ValueError("not a NegTokenInit")
    seq_tag, fields, _ = _read(inner)
    if seq_tag != 0x30:
        raise ValueError("NegTokenInit is not a sequence")
    mechs: tuple[bytes, ...] = ()
    mech_list, token = b"", None
    for tag, value, _raw in _items(fields):
        if tag == 0xA0:
            list_tag, oids, _ = _read(value)
            mech_list = value
            mechs = tuple(v for t, v, _r in _items(oids) if t == 0x06) if list_tag == 0x30 else ()
        elif tag == 0xA2:
            token = _read(value)[1]
    return NegTokenInit(mechs, mech_list, token)


def parse_resp(data: bytes) -> tuple[bytes | None, bytes | None]:
    """(responseToken, mechListMIC) of a NegTokenResp."""
    tag, inner, _ = _read(data)
    if tag != 0xA1:
        raise ValueError("not a NegTokenResp")
    seq_tag, fields, _ = _read(inner)
    if seq_tag != 0x30:
        raise ValueError("NegTokenResp is not a sequence")
    token = mic = None
    for field_tag, value, _raw in _items(fields):
        if field_tag == 0xA2:
            token = _read(value)[1]
        elif field_tag == 0xA3:
            mic = _read(value)[1]
    return token, mic


def _resp(state: int, mech: bytes | None, token: bytes | None, mic: bytes | None) -> bytes:
    fields = _encode(0xA0, _encode(0x0A, bytes((state,))))
    if mech is not None:
        fields += _encode(0xA1, _encode(0x06, mech))
    if token is not None:
        fields += _encode(0xA2, _encode(0x04, token))
    if mic is not None:
        fields += _encode(0xA3, _encode(0x04, mic))
    return _encode(0xA1, _encode(0x30, fields))


def accept_incomplete(mech: bytes, token: bytes) -> bytes:
    return _resp(_ACCEPT_INCOMPLETE, mech, token, None)


def accept_completed(mic: bytes | None) -> bytes:
    return _resp(_ACCEPT_COMPLETED, None, None, mic)
