"""The lab CA: server certificates that real TLS clients accept for loopback and the scenario's FQDNs."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from lab.pki import LabPki, create_pki


@pytest.fixture(scope="module")
def pki() -> Iterator[LabPki]:
    with create_pki(["EX01.contoso.com", "mail.contoso.com"]) as made:
        yield made


def _handshake(pki: LabPki, client: ssl.SSLContext, server_hostname: str) -> str:
    """One TLS handshake against a loopback server presenting the lab certificate; returns the version."""
    server_context = pki.server_ssl_context()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            conn, _ = listener.accept()
            try:
                with server_context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass  # the client refused the certificate; the client side reports it

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client.wrap_socket(raw, server_hostname=server_hostname) as tls,
        ):
            assert tls.recv(2) == b"ok"
            version = tls.version() or ""
        thread.join(5)
    return version


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "ex01.contoso.com", "mail.contoso.com"])
def test_clients_trusting_the_ca_accept_every_lab_name(pki: LabPki, name: str) -> None:
    assert _handshake(pki, pki.client_ssl_context(), name).startswith("TLSv1.")


def test_a_name_outside_the_certificate_is_refused(pki: LabPki) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(pki, pki.client_ssl_context(), "ex99.contoso.com")


def test_a_client_without_the_lab_ca_refuses_the_server(pki: LabPki) -> None:
    system_only = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(pki, system_only, "127.0.0.1")


def test_certificates_are_a_ca_and_a_server_leaf(pki: LabPki) -> None:
    ca = x509.load_pem_x509_certificate(pki.ca_cert_path.read_bytes())
    leaf = x509.load_pem_x509_certificate(pki.server_cert_path.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.issuer == ca.subject
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {
        "localhost",
        "ex01.contoso.com",
        "mail.contoso.com",
    }
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_private_keys_are_private_and_the_token_key_is_rsa(pki: LabPki) -> None:
    for path in (pki.server_key_path, pki.token_key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = pki.token_signing_key()
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048


def test_every_lab_start_gets_fresh_keys_and_cleanup_removes_them() -> None:
    first, second = create_pki(), create_pki()
    try:
        assert first.ca_cert_path.read_bytes() != second.ca_cert_path.read_bytes()
        first_n = first.token_signing_key().public_key().public_numbers().n
        assert first_n != second.token_signing_key().public_key().public_numbers().n
    finally:
        first.cleanup()
        second.cleanup()
    assert not first.directory.exists()
    assert not second.directory.exists()
