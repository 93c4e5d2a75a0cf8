"""A connection-based NTLMv2 acceptor, as IIS runs one for Exchange's /PowerShell ([MS-NLMP]).

Raw NTLM tokens in `Negotiate` or `NTLM` headers (what pypsrp sends with `auth="ntlm"`); SPNEGO-wrapped
tokens are not understood. Once a connection completes the handshake it stays authenticated, as with
IIS. Only the NTLMv2 response is checked; message signing and sealing are not offered (the lab's
PSRP runs over TLS, where clients do not wrap messages).
"""

from __future__ import annotations

import base64
import hmac
import os
import struct
import time
import weakref
from dataclasses import dataclass

from aiohttp import web

from lab.context import LabCredentials

__all__ = ["NtlmAcceptor", "md4"]

_SIGNATURE = b"NTLMSSP\x00"
_NEGOTIATE, _CHALLENGE, _AUTHENTICATE = 1, 2, 3
_UNICODE, _REQUEST_TARGET, _NTLM, _ALWAYS_SIGN = 0x1, 0x4, 0x200, 0x8000
_TARGET_TYPE_DOMAIN, _EXTENDED_SESSION_SECURITY, _TARGET_INFO = 0x10000, 0x80000, 0x800000
_VERSION, _128, _KEY_EXCH, _56 = 0x2000000, 0x20000000, 0x40000000, 0x80000000
_OFFERED = (
    _UNICODE
    | _REQUEST_TARGET
    | _NTLM
    | _ALWAYS_SIGN
    | _EXTENDED_SESSION_SECURITY
    | _VERSION
    | _128
    | _KEY_EXCH
    | _56
)


def md4(data: bytes) -> bytes:
    """MD4 (RFC 1320): the NT hash needs it and OpenSSL 3 no longer ships it."""

    def rotl(x: int, n: int) -> int:
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    message = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]

    def choose(x: int, y: int, z: int) -> int:
        return (x & y) | (~x & z)

    def majority(x: int, y: int, z: int) -> int:
        return (x & y) | (x & z) | (y & z)

    def parity(x: int, y: int, z: int) -> int:
        return x ^ y ^ z

    rounds = (
        (choose, 0, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), (3, 7, 11, 19)),
        (majority, 0x5A827999, (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), (3, 5, 9, 13)),
        (parity, 0x6ED9EBA1, (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15), (3, 9, 11, 15)),
    )  # fmt: skip
    for offset in range(0, len(message), 64):
        x = struct.unpack("<16I", message[offset : offset + 64])
        a, b, c, d = h
        for function, constant, order, shifts in rounds:
            for i, word in enumerate(order):
                a, b, c, d = (
                    d,
                    rotl((a + function(b, c, d) + x[word] + constant) & 0xFFFFFFFF, shifts[i % 4]),
                    b,
                    c,
                )
        h = [(v + w) & 0xFFFFFFFF for v, w in zip(h, (a, b, c, d), strict=True)]
    return struct.pack("<4I", *h)


def _field(message: bytes, offset: int) -> bytes:
    length, _max, start = struct.unpack("<HHI", message[offset : offset + 8])
    return message[start : start + length]


@dataclass
class _Handshake:
    challenge: bytes


class NtlmAcceptor:
    """Checks NTLM handshakes against the lab credentials; remembers authenticated connections."""

    def __init__(self, credentials: LabCredentials, server_name: str = "EX01") -> None:
        self._credentials = credentials
        self._server = server_name.upper()
        self._pending: weakref.WeakKeyDictionary[object, _Handshake] = weakref.WeakKeyDictionary()
        self._trusted: weakref.WeakSet[object] = weakref.WeakSet()

    def step(self, request: web.Request) -> tuple[bool, str | None]:
        """(authenticated, WWW-Authenticate value to send back with a 401 or None)."""
        connection = request.transport
        if connection is not None and connection in self._trusted:
            return True, None
        scheme, _, token_text = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("negotiate", "ntlm") or connection is None:
            return False, None
        try:
            token = base64.b64decode(token_text)
        except ValueError:
            return False, None
        if not token.startswith(_SIGNATURE) or len(token) < 12:
            return False, None
        kind = struct.unpack("<I", token[8:12])[0]
        if kind == _NEGOTIATE:
            handshake = _Handshake(os.urandom(8))
            self._pending[connection] = handshake
            return False, f"{scheme} {base64.b64encode(self._challenge(token, handshake)).decode()}"
        pending = self._pending.pop(connection) if connection in self._pending else None
        if kind == _AUTHENTICATE and pending is not None and self._verify(token, pending):
            self._trusted.add(connection)
            return True, None
        return False, None

    def _challenge(self, negotiate: bytes, handshake: _Handshake) -> bytes:
        client_flags = struct.unpack("<I", negotiate[12:16])[0]
        flags = (client_flags & _OFFERED) | _TARGET_INFO | _TARGET_TYPE_DOMAIN | _UNICODE | _NTLM
        domain = self._credentials.domain.encode("utf-16-le")
        info = b"".join(
            struct.pack("<HH", av_id, len(value)) + value
            for av_id, value in (
                (2, domain),  # MsvAvNbDomainName
                (1, self._server.encode("utf-16-le")),  # MsvAvNbComputerName
                (7, struct.pack("<Q", int((time.time() + 11644473600) * 10_000_000))),  # MsvAvTimestamp
                (0, b""),  # MsvAvEOL
            )
        )
        header_length = 56
        return (
            _SIGNATURE
            + struct.pack("<I", _CHALLENGE)
            + struct.pack("<HHI", len(domain), len(domain), header_length)
            + struct.pack("<I", flags)
            + handshake.challenge
            + b"\x00" * 8
            + struct.pack("<HHI", len(info), len(info), header_length + len(domain))
            + bytes((10, 0)) + struct.pack("<H", 20348) + b"\x00\x00\x00\x0f"  # version: Windows Server 2022
            + domain
            + info
        )  # fmt: skip

    def _verify(self, message: bytes, handshake: _Handshake) -> bool:
        response = _field(message, 20)
        domain = _field(message, 28).decode("utf-16-le")
        user = _field(message, 36).decode("utf-16-le")
        if len(response) < 32 or not self._names_match(domain, user):
            return False
        nt_hash = md4(self._credentials.password.encode("utf-16-le"))
        identity = (user.upper() + domain).encode("utf-16-le")
        key = hmac.new(nt_hash, identity, "md5").digest()
        proof = hmac.new(key, handshake.challenge + response[16:], "md5").digest()
        return hmac.compare_digest(proof, response[:16])

    def _names_match(self, domain: str, user: str) -> bool:
        expected_domain = self._credentials.domain.lower()
        return user.lower() == self._credentials.user.lower() and domain.lower() in (expected_domain, "")
