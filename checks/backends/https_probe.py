"""ProbePort: one HTTPS GET to a URL with the standard library — handshake, certificate, status line.

A verified handshake first; if verification fails, the reason (name mismatch or untrusted chain) is
recorded and a second, unverified handshake reads the status anyway, because "the certificate is wrong
AND the vdir answers 403" is worth knowing at once. `hosts` maps a URL's host to the address to dial
(the lab serves every simulated server on loopback); the host name still goes in SNI and Host.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import NameOID

from checks.errors import Refused
from checks.ports import ProbeAnswer
from knowledge.validators import ValueProblem, check_url

__all__ = ["HttpsProbe", "ProbeSettings", "certificate_names", "name_matches"]

_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH


@dataclass(frozen=True)
class ProbeSettings:
    ca_file: str | None = None  # None: the system's trust store
    hosts: Mapping[str, str] = field(default_factory=dict)  # "ex03.contoso.com" -> "127.0.0.1:4443"
    timeout: float = 10.0
    only_mapped: bool = False  # the lab: never dial (or resolve) a host outside `hosts`


def certificate_names(der: bytes) -> tuple[str, list[str]]:
    """(subject, DNS names) of a DER certificate."""
    cert = x509.load_der_x509_certificate(der)
    subject = cert.subject.rfc4514_string()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return subject, [str(n) for n in names]


def name_matches(host: str, names: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


class HttpsProbe:
    def __init__(self, settings: ProbeSettings) -> None:
        self._settings = settings

    def _dial(self, host: str, port: int) -> tuple[str, int]:
        mapped = self._settings.hosts.get(f"{host}:{port}") or self._settings.hosts.get(host)
        if mapped is None:
            return host, port
        dial_host, _, dial_port = mapped.rpartition(":")
        return dial_host, int(dial_port)

    async def probe(self, url: str) -> ProbeAnswer:
        try:
            checked = check_url(url, https_only=True)
        except ValueProblem as problem:
            raise Refused("HTTPS probe", str(problem)) from None
        parts = urlsplit(checked)
        host, port = parts.hostname or "", parts.port or 443
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if (
            self._settings.only_mapped
            and host not in self._settings.hosts
            and f"{host}:{port}" not in self._settings.hosts
        ):
            return ProbeAnswer(
                url=checked, tls_ok=False, error=f"{host} is not a server of this organisation"
            )
        dial = self._dial(host, port)
        verified = ssl.create_default_context(cafile=self._settings.ca_file)
        trusted: bool | None = True
        name_ok: bool | None = True
        try:
            streams = await self._connect(dial, host, verified)
        except ssl.SSLCertVerificationError as refused:
            if refused.verify_code == _HOSTNAME_MISMATCH:
                name_ok = False
            else:
                trusted, name_ok = False, None
            unverified = ssl.create_default_context()
            unverified.check_hostname = False
            unverified.verify_mode = ssl.CERT_NONE
            try:
                streams = await self._connect(dial, host, unverified)
            except (OSError, TimeoutError) as error:
                return ProbeAnswer(
                    url=checked,
                    tls_ok=False,
                    cert_name_ok=name_ok,
                    cert_trusted=trusted,
                    error=_said(error, self._settings.timeout),
                )
        except (OSError, TimeoutError) as error:
            tls = isinstance(error, ssl.SSLError)
            return ProbeAnswer(url=checked, tls_ok=False, error=_said(error, self._settings.timeout, tls=tls))
        reader, writer = streams
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True) or b""
        subject, names = certificate_names(der) if der else ("", [])
        if name_ok is None:
            name_ok = name_matches(host, names)
        try:
            status, server = await asyncio.wait_for(
                _status(reader, writer, host, path), self._settings.timeout
            )
        except (OSError, TimeoutError, ValueError) as error:
            return ProbeAnswer(
                url=checked,
                tls_ok=True,
                cert_name_ok=name_ok,
                cert_trusted=trusted,
                error=_said(error, self._settings.timeout, after_tls=True),
                cert_subject=subject,
            )
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        return ProbeAnswer(
            url=checked,
            tls_ok=True,
            cert_name_ok=name_ok,
            cert_trusted=trusted,
            status=status,
            cert_subject=subject,
            server_header=server,
        )

    async def _connect(
        self, dial: tuple[str, int], host: str, context: ssl.SSLContext
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(
            asyncio.open_connection(dial[0], dial[1], ssl=context, server_hostname=host),
            self._settings.timeout,
        )


async def _status(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str
) -> tuple[int, str]:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: exchange-triage-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    writer.write(request.encode("ascii"))
    await writer.drain()
    line = await reader.readline()
    parts = line.decode("latin-1").split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError("the server closed the connection without an HTTP answer")
    server = ""
    for _ in range(100):  # headers up to the blank line; only Server is kept
        header = (await reader.readline()).decode("latin-1").strip()
        if not header:
            break
        name, _, value = header.partition(":")
        if name.strip().lower() == "server":
            server = value.strip()[:120]
    return int(parts[1]), server


def _said(error: BaseException, timeout: float, *, tls: bool = False, after_tls: bool = False) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:.0f} s"
    if isinstance(error, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError) or "reset" in str(error).lower():
        return "connection reset by the server" + (
            " after the TLS handshake" if after_tls else " during the TLS handshake"
        )
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed: {error.reason or error}"
    if isinstance(error, ValueError):
        return str(error)
    if tls:
        return f"TLS handshake failed: {error}"
    return f"{type(error).__name__}: {str(error)[:120]}"
