"""A connection's NTLMv2 acceptor with session security, as IIS and WinRM run one ([MS-NLMP] 3.4): the keys WinRM's message encryption uses.

Extended session security, 128-bit keys and key exchange, as Windows negotiates them: the exported
session key comes from the NTLMv2 response, and the client-to-server and server-to-client RC4 streams
seal the messages and encrypt their checksums.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time
from collections.abc import Callable

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext

__all__ = ["NtlmError", "NtlmServer", "md4"]

_SIGNATURE = b"NTLMSSP\x00"
_NEGOTIATE, _CHALLENGE, _AUTHENTICATE = 1, 2, 3
_UNICODE, _REQUEST_TARGET, _SIGN, _SEAL, _NTLM = 0x1, 0x4, 0x10, 0x20, 0x200
_ALWAYS_SIGN, _TARGET_TYPE_DOMAIN, _ESS, _TARGET_INFO = 0x8000, 0x10000, 0x80000, 0x800000
_VERSION, _128, _KEY_EXCH, _56 = 0x2000000, 0x20000000, 0x40000000, 0x80000000
_OFFERED = (
    _UNICODE
    | _REQUEST_TARGET
    | _SIGN
    | _SEAL
    | _NTLM
    | _ALWAYS_SIGN
    | _ESS
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


class NtlmError(ValueError):
    """A malformed message or a wrong response: the handshake fails."""


def _field(message: bytes, offset: int) -> bytes:
    if len(message) < offset + 8:
        raise NtlmError("truncated NTLM message")
    length, _max, start = struct.unpack("<HHI", message[offset : offset + 8])
    return message[start : start + length]


def _rc4(key: bytes) -> CipherContext:
    return Cipher(ARC4(key), mode=None).encryptor()


class NtlmServer:
    """One connection's NTLM handshake, then its sealing and signing."""

    def __init__(self, password_for: Callable[[str, str], str | None], domain: str, server: str) -> None:
        self._password_for = password_for  # (user, domain) -> password, None for an unknown account
        self._domain, self._server = domain.upper(), server.upper()
        self._challenge = b""
        self._flags = 0
        self.complete = False
        self.user = ""
        self._keys: dict[str, bytes] = {}
        self._seq_in = self._seq_out = 0
        self._in: CipherContext | None = None
        self._out: CipherContext | None = None

    @staticmethod
    def is_ntlm(token: bytes) -> bool:
        return token.startswith(_SIGNATURE)

    def step(self, token: bytes) -> bytes | None:
        """The CHALLENGE for a NEGOTIATE, None once an AUTHENTICATE checks out; NtlmError otherwise."""
        if not self.is_ntlm(token) or len(token) < 16:
            raise NtlmError("not an NTLM message")
        kind = struct.unpack("<I", token[8:12])[0]
        if kind == _NEGOTIATE and not self._challenge:
            return self._challenge_message(struct.unpack("<I", token[12:16])[0])
        if kind == _AUTHENTICATE and self._challenge and not self.complete:
            self._authenticate(token)
            return None
        raise NtlmError("unexpected NTLM message")

    def _challenge_message(self, client_flags: int) -> bytes:
        self._challenge = os.urandom(8)
        self._flags = (client_flags & _OFFERED) | _TARGET_INFO | _TARGET_TYPE_DOMAIN | _UNICODE | _NTLM
        domain = self._domain.encode("utf-16-le")
        info = b"".join(
            struct.pack("<HH", av_id, len(value)) + value
            for av_id, value in (
                (2, domain),  # MsvAvNbDomainName
                (1, self._server.encode("utf-16-le")),  # MsvAvNbComputerName
                (7, struct.pack("<Q", int((time.time() + 11644473600) * 10_000_000))),  # MsvAvTimestamp
                (0, b""),  # MsvAvEOL
            )
        )
        header = 56
        return (
            _SIGNATURE
            + struct.pack("<I", _CHALLENGE)
            + struct.pack("<HHI", len(domain), len(domain), header)
            + struct.pack("<I", self._flags)
            + self._challenge
            + b"\x00" * 8
            + struct.pack("<HHI", len(info), len(info), header + len(domain))
            + bytes((10, 0)) + struct.pack("<H", 20348) + b"\x00\x00\x00\x0f"  # Windows Server 2022
            + domain
            + info
        )  # fmt: skip

    def _authenticate(self, message: bytes) -> None:
        response = _field(message, 20)
        domain = _field(message, 28).decode("utf-16-le", "replace")
        user = _field(message, 36).decode("utf-16-le", "replace")
        encrypted_key = _field(message, 52)
        if len(response) < 48:
            raise NtlmError("not an NTLMv2 response")
        password = self._password_for(user, domain)
        if password is None:
            raise NtlmError("unknown account")
        key = hmac.new(md4(password.encode("utf-16-le")), (user.upper() + domain).encode("utf-16-le"), "md5")
        response_key = key.digest()
        proof = hmac.new(response_key, self._challenge + response[16:], "md5").digest()
        if not hmac.compare_digest(proof, response[:16]):
            raise NtlmError("wrong NTLMv2 response")
        base_key = hmac.new(response_key, proof, "md5").digest()
        flags = struct.unpack("<I", message[60:64])[0] if len(message) >= 64 else self._flags
        self._flags &= flags | _TARGET_INFO | _TARGET_TYPE_DOMAIN
        session_key = base_key
        if self._flags & _KEY_EXCH and len(encrypted_key) == 16:
            session_key = _rc4(base_key).update(encrypted_key)
        self._keys = {
            "sign_in": hashlib.md5(session_key + b"session key to client-to-server signing key magic constant\x00").digest(),  # noqa: S324
            "sign_out": hashlib.md5(session_key + b"session key to server-to-client signing key magic constant\x00").digest(),  # noqa: S324
            "seal_in": hashlib.md5(session_key + b"session key to client-to-server sealing key magic constant\x00").digest(),  # noqa: S324
            "seal_out": hashlib.md5(session_key + b"session key to server-to-client sealing key magic constant\x00").digest(),  # noqa: S324
        }  # fmt: skip
        self.reset_in()
        self.reset_out()
        self.user = f"{domain}\\{user}" if domain else user
        self.complete = True

    # Session security ------------------------------------------------------------------------------

    def reset_in(self) -> None:
        self._in = _rc4(self._keys["seal_in"])

    def reset_out(self) -> None:
        self._out = _rc4(self._keys["seal_out"])

    def _mac(self, handle: CipherContext, key: bytes, seq: int, data: bytes) -> bytes:
        checksum = hmac.new(key, struct.pack("<I", seq) + data, "md5").digest()[:8]
        if self._flags & _KEY_EXCH:
            checksum = handle.update(checksum)
        return struct.pack("<I", 1) + checksum + struct.pack("<I", seq)

    def sign(self, data: bytes) -> bytes:
        if self._out is None:
            raise NtlmError("no session")
        signature = self._mac(self._out, self._keys["sign_out"], self._seq_out, data)
        self._seq_out += 1
        return signature

    def verify(self, data: bytes, signature: bytes) -> None:
        if self._in is None:
            raise NtlmError("no session")
        expected = self._mac(self._in, self._keys["sign_in"], self._seq_in, data)
        self._seq_in += 1
        if not hmac.compare_digest(expected, signature):
            raise NtlmError("the message signature does not match")

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        """(signature, sealed data): seal with the outgoing stream, then sign."""
        if self._out is None:
            raise NtlmError("no session")
        sealed = self._out.update(data)
        return self.sign(data), sealed

    def unwrap(self, signature: bytes, sealed: bytes) -> bytes:
        if self._in is None:
            raise NtlmError("no session")
        data = self._in.update(sealed)
        self.verify(data, signature)
        return data
