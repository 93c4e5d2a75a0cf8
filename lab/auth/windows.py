"""HTTP authentication and message encryption as a Windows WinRM listener or Exchange's IIS applies them.

- `Negotiate` (SPNEGO): Kerberos through the GSS-API acceptor with the lab's keytab (MIT's SPNEGO), NTLM
  inside SPNEGO (with the mechListMIC exchange), or raw NTLM/Kerberos tokens under the same scheme.
- `Kerberos`: a raw Kerberos AP-REQ; the AP-REP comes back on the answer (mutual authentication).
- `Basic`: only over HTTPS and only when the scenario turns it on (Windows has it off by default).
- Authentication is per connection; over HTTP a session's messages must be `multipart/encrypted`
  (`application/HTTP-SPNEGO-session-encrypted` or `-Kerberos-`), as WinRM's `AllowUnencrypted=false`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import gssapi
import gssapi.raw
from aiohttp import web
from aiohttp.typedefs import Middleware
from gssapi.raw import IOV, IOVBufferType
from gssapi.raw.misc import GSSError

from lab.auth import spnego as der
from lab.auth.ntlm import NtlmError, NtlmServer

__all__ = [
    "BODY_KEY",
    "SESSION_KEY",
    "AuthPolicy",
    "Identity",
    "Session",
    "WindowsAuth",
    "decrypt_message",
    "encrypt_message",
]

BODY_KEY = "winauth.body"  # request[BODY_KEY]: the plaintext SOAP body, decrypted when it came encrypted
SESSION_KEY = "winauth.session"
_RECORDED = 10_000
_BOUNDARY = b"--Encrypted Boundary"
_SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
_KERBEROS_ENCRYPTED = "application/HTTP-Kerberos-session-encrypted"
UNENCRYPTED_REFUSED = (
    "The WinRM service cannot process the request: unencrypted traffic is disabled "
    "(AllowUnencrypted is false). Use HTTPS or message encryption."
)


@dataclass(frozen=True)
class AuthPolicy:
    """What a listener accepts (a scenario's `access`)."""

    ntlm: bool = True
    basic: bool = False  # over HTTPS only
    allow_unencrypted: bool = False  # over HTTP


@dataclass(frozen=True)
class Identity:
    """The one service account the lab knows: DOMAIN\\user, its realm and password."""

    domain: str
    user: str
    realm: str
    password: str
    others: tuple[tuple[str, str], ...] = ()  # further accounts of the domain: (user, password)

    def _accounts(self) -> list[tuple[str, str]]:
        return [(self.user, self.password), *self.others]

    def password_for(self, user: str, domain: str) -> str | None:
        local, _, suffix = user.partition("@")
        domains = {"", self.domain.lower(), self.realm.lower()}
        if domain.lower() not in domains or suffix.lower() not in domains:
            return None
        return next((pw for name, pw in self._accounts() if name.lower() == local.lower()), None)

    def principal_ok(self, principal: str) -> bool:
        return any(principal.lower() == f"{name}@{self.realm}".lower() for name, _pw in self._accounts())


class Session(Protocol):
    @property
    def mechanism(self) -> str: ...  # kerberos | ntlm | basic

    @property
    def user(self) -> str: ...

    def wrap(self, data: bytes) -> tuple[bytes, bytes]: ...

    def unwrap(self, header: bytes, data: bytes) -> bytes: ...


@dataclass
class _Basic:
    user: str
    mechanism: str = "basic"

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        raise ValueError("Basic has no message encryption")

    def unwrap(self, header: bytes, data: bytes) -> bytes:
        raise ValueError("Basic has no message encryption")


@dataclass
class _Ntlm:
    server: NtlmServer
    mechanism: str = "ntlm"

    @property
    def user(self) -> str:
        return self.server.user

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        return self.server.wrap(data)

    def unwrap(self, header: bytes, data: bytes) -> bytes:
        return self.server.unwrap(header, data)


@dataclass
class _Kerberos:
    context: gssapi.SecurityContext
    user: str
    mechanism: str = "kerberos"

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        iov = IOV(IOVBufferType.header, data, IOVBufferType.padding, std_layout=False)
        gssapi.raw.wrap_iov(self.context, iov, confidential=True)
        header, sealed, padding = (buffer.value or b"" for buffer in iov)
        return header, sealed + padding

    def unwrap(self, header: bytes, data: bytes) -> bytes:
        iov = IOV((IOVBufferType.header, False, header), data, IOVBufferType.data, std_layout=False)
        gssapi.raw.unwrap_iov(self.context, iov)
        return iov[1].value or b""


@dataclass
class _SpnegoNtlm:
    server: NtlmServer
    mech_list: bytes


def encrypt_message(session: Session, data: bytes, protocol: str) -> bytes:
    header, sealed = session.wrap(data)
    return (
        _BOUNDARY + b"\r\n"
        b"\tContent-Type: " + protocol.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(data)).encode() + b"\r\n"
        + _BOUNDARY + b"\r\n"
        b"\tContent-Type: application/octet-stream\r\n"
        + struct.pack("<I", len(header)) + header + sealed
        + _BOUNDARY + b"--\r\n"
    )  # fmt: skip


def decrypt_message(session: Session, body: bytes) -> bytes:
    """The SOAP message inside a `multipart/encrypted` body; ValueError when it does not check out."""
    start = body.find(_BOUNDARY + b"\r\n")
    second = body.find(_BOUNDARY + b"\r\n", start + 1)
    if start != 0 or second < 0 or not body.endswith(_BOUNDARY + b"--\r\n"):
        raise ValueError("not a multipart/encrypted WinRM message")
    headers = body[len(_BOUNDARY) + 2 : second]
    length_text = headers.rpartition(b"Length=")[2].split(b"\r\n", 1)[0]
    payload = body[second + len(_BOUNDARY) + 2 : -(len(_BOUNDARY) + 4)]
    marker = b"\tContent-Type: application/octet-stream\r\n"
    if not payload.startswith(marker) or not length_text.strip().isdigit():
        raise ValueError("malformed encrypted part")
    payload = payload[len(marker) :]
    (header_length,) = struct.unpack("<I", payload[:4])
    header = payload[4 : 4 + header_length]
    data = session.unwrap(header, payload[4 + header_length :])
    if len(data) != int(length_text):
        raise ValueError("the decrypted length does not match OriginalContent")
    return data


class WindowsAuth:
    """One listener's authentication: per-connection handshakes and sessions, and the encryption middleware."""

    def __init__(
        self,
        identity: Identity,
        server_name: str,
        policy: AuthPolicy,
        keytab: Path | None = None,
    ) -> None:
        self._identity, self._server, self.policy = identity, server_name, policy
        self._acceptor = (
            gssapi.Credentials(usage="accept", store={"keytab": str(keytab)}) if keytab is not None else None
        )
        self._sessions: weakref.WeakKeyDictionary[object, Session] = weakref.WeakKeyDictionary()
        self._pending: weakref.WeakKeyDictionary[object, NtlmServer | _SpnegoNtlm] = (
            weakref.WeakKeyDictionary()
        )
        self._refused: weakref.WeakSet[object] = weakref.WeakSet()  # a 401 fault ended their session
        self.negotiated: list[str] = []  # mechanisms of completed handshakes, in order (tests read it)
        self.encrypted_messages = 0  # messages that arrived multipart/encrypted and decrypted

    def challenges(self, request: web.Request) -> tuple[str, ...]:
        offered = ["Negotiate"]
        if self._acceptor is not None:
            offered.append("Kerberos")
        if self.policy.basic and request.secure:
            offered.append('Basic realm="WSMAN"')
        return tuple(offered)

    def _refuse(self, request: web.Request, token: str | None = None) -> web.Response:
        response = web.Response(status=401, body=b"")
        for scheme in (token,) if token else self.challenges(request):
            response.headers.add("WWW-Authenticate", scheme)
        return response

    def _ntlm(self) -> NtlmServer:
        return NtlmServer(self._identity.password_for, self._identity.domain, self._server)

    def _done(self, connection: object, session: Session) -> Session:
        self._sessions[connection] = session
        self._record(session.mechanism)
        return session

    def _record(self, mechanism: str) -> None:
        if len(self.negotiated) >= _RECORDED:  # a long-running lab keeps the recent ones only
            del self.negotiated[: _RECORDED // 2]
        self.negotiated.append(mechanism)

    def authenticate(self, request: web.Request) -> tuple[Session | None, str | None]:
        """(session, WWW-Authenticate value to send back) — no session means answer 401 with the value."""
        connection = request.transport
        header = request.headers.get("Authorization", "")
        if connection is None:
            return None, None
        if connection in self._refused:  # the handshake right after the fault fails too
            self._refused.discard(connection)
            return None, None
        if not header and connection in self._sessions:
            return self._sessions[connection], None
        scheme, _, text = header.partition(" ")
        try:
            token = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None, None
        if scheme.lower() == "basic":
            return self._basic(request, token), None
        if scheme.lower() not in ("negotiate", "kerberos", "ntlm") or not token:
            return None, None
        try:
            return self._step(connection, scheme, token)
        except (NtlmError, ValueError, GSSError):
            self._pending.pop(connection, None)
            return None, None

    def _basic(self, request: web.Request, token: bytes) -> Session | None:
        if not (self.policy.basic and request.secure):
            return None
        user, _, password = token.decode("utf-8", "replace").partition(":")
        domain, _, name = user.rpartition("\\")  # DOMAIN\user, or a bare or UPN name
        known = self._identity.password_for(name, domain)
        if known is None or not hmac.compare_digest(known.encode(), password.encode()):
            return None
        self._record("basic")
        return _Basic(user)

    def _step(self, connection: object, scheme: str, token: bytes) -> tuple[Session | None, str | None]:
        pending = self._pending.pop(connection, None)
        if NtlmServer.is_ntlm(token):
            if not self.policy.ntlm:
                return None, None
            server = pending if isinstance(pending, NtlmServer) else self._ntlm()
            out = server.step(token)
            if out is not None:
                self._pending[connection] = server
                return None, f"{scheme} {base64.b64encode(out).decode()}"
            return self._done(connection, _Ntlm(server)), None
        if token[:1] == b"\xa1" and isinstance(pending, _SpnegoNtlm):
            inner, mic = der.parse_resp(token)
            if inner is None or pending.server.step(inner) is not None:
                raise NtlmError("expected an NTLM AUTHENTICATE")
            out_mic = None
            if mic is not None:
                pending.server.verify(pending.mech_list, mic)
                pending.server.reset_in()
                out_mic = pending.server.sign(pending.mech_list)
                pending.server.reset_out()
            session = self._done(connection, _Ntlm(pending.server))
            return session, f"{scheme} {base64.b64encode(der.accept_completed(out_mic)).decode()}"
        try:
            init: der.NegTokenInit | None = der.parse_init(token)
        except ValueError:
            init = None  # a raw Kerberos token, or nothing the lab understands
        if init is not None and init.mechs and init.mechs[0] == der.NTLM:
            if not self.policy.ntlm or init.token is None:
                return None, None
            server = self._ntlm()
            challenge = server.step(init.token)
            if challenge is None:
                raise NtlmError("expected an NTLM NEGOTIATE")
            self._pending[connection] = _SpnegoNtlm(server, init.mech_list)
            return None, f"{scheme} {base64.b64encode(der.accept_incomplete(der.NTLM, challenge)).decode()}"
        if self._acceptor is None:
            return None, None
        context = gssapi.SecurityContext(creds=self._acceptor, usage="accept")
        out = context.step(token)
        if not context.complete:
            return None, None  # Kerberos needs one leg; anything longer is not what Windows clients send
        principal = str(context.initiator_name)
        if not self._identity.principal_ok(principal):
            return None, None
        session = self._done(connection, _Kerberos(context, principal))
        return session, f"{scheme} {base64.b64encode(out).decode()}" if out else None

    def middleware(self) -> Middleware:
        @web.middleware
        async def windows_auth(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            session, token = self.authenticate(request)
            if session is None:
                return self._refuse(request, token)
            body = await request.read()
            content_type = request.headers.get("Content-Type", "")
            protocol = None
            if content_type.lower().startswith("multipart/encrypted"):
                protocol = (
                    _KERBEROS_ENCRYPTED
                    if _KERBEROS_ENCRYPTED.lower() in content_type.lower()
                    else _SPNEGO_ENCRYPTED
                )
                try:
                    body = decrypt_message(session, body)
                    self.encrypted_messages += 1
                except (ValueError, NtlmError, GSSError, struct.error):
                    return web.Response(status=400, text="The encrypted message could not be decrypted.")
            elif (
                body
                and not request.secure
                and session.mechanism != "basic"
                and not self.policy.allow_unencrypted
            ):
                return web.Response(status=500, text=UNENCRYPTED_REFUSED)
            if not body:  # the request that only completes the handshake
                response: web.StreamResponse = web.Response(status=200, body=b"")
            else:
                request[BODY_KEY] = body
                request[SESSION_KEY] = session
                response = await handler(request)
                if response.status == 401 and request.transport is not None:  # the account lost its access
                    self._sessions.pop(request.transport, None)
                    self._refused.add(request.transport)
                if protocol is not None and isinstance(response, web.Response) and response.body is not None:
                    plaintext = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
                    sealed = encrypt_message(session, plaintext, protocol)
                    response = web.Response(
                        status=response.status,
                        body=sealed,
                        headers={
                            "Content-Type": f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"'
                        },
                    )
            if token:
                response.headers["WWW-Authenticate"] = token
            return response

        return windows_auth
