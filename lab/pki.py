"""The lab's keys: a certificate authority made fresh at start-up, and the token-signing key.

Every HTTPS simulator serves one server certificate whose names cover loopback and the scenario's
server FQDNs, so a client that verifies host names against the lab CA accepts it unmodified. The token
endpoint signs access tokens with the RSA key here and the resource simulators (Graph, EWS) verify them.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import shutil
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LOOPBACK_NAMES", "LabPki", "create_pki"]

LOOPBACK_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost")
_ORGANISATION = "Exchange Triage Lab"


@dataclass(frozen=True)
class LabPki:
    """Paths of the CA and server credentials in a private temporary directory."""

    directory: Path
    ca_cert_path: Path
    server_cert_path: Path
    server_key_path: Path
    token_key_path: Path
    hostnames: tuple[str, ...]

    def server_ssl_context(self) -> ssl.SSLContext:
        """A TLS server context presenting the lab server certificate (chain includes nothing else)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_cert_path, self.server_key_path)
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A TLS client context that trusts the lab CA only and checks host names."""
        return ssl.create_default_context(cafile=str(self.ca_cert_path))

    def token_signing_key(self) -> rsa.RSAPrivateKey:
        """The RSA key access tokens are signed with (RS256)."""
        # Keyed on the file's mtime too, so a directory reused by a later lab never serves a stale key.
        return _load_rsa_key(self.token_key_path, self.token_key_path.stat().st_mtime_ns)

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> LabPki:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


def create_pki(
    hostnames: Iterable[str] = (),
    directory: Path | None = None,
    *,
    valid_for: datetime.timedelta = datetime.timedelta(days=2),
) -> LabPki:
    """Create a CA and a server certificate for loopback plus `hostnames`, written under `directory`.

    Without `directory` a fresh temporary directory is made; `LabPki.cleanup()` removes it.
    """
    names = _unique((*LOOPBACK_NAMES, *(h.strip().lower() for h in hostnames if h.strip())))
    target = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="exchange-triage-lab-pki-"))
    target.mkdir(parents=True, exist_ok=True)
    # Back-date a little so a client clock a few seconds behind still accepts the certificates.
    not_before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    not_after = not_before + valid_for

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{_ORGANISATION} Root CA"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[1]),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pki = LabPki(
        directory=target,
        ca_cert_path=target / "lab-ca.pem",
        server_cert_path=target / "lab-server.pem",
        server_key_path=target / "lab-server.key",
        token_key_path=target / "token-signing.key",
        hostnames=names,
    )
    pki.ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki.server_key_path, _pem(server_key))
    token_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(pki.token_key_path, _pem(token_key))
    return pki


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(data)


@functools.cache
def _load_rsa_key(path: Path, _mtime_ns: int) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA key")
    return key


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
