"""A throwaway MIT Kerberos realm on loopback: a KDC, principals and keytabs in a temporary directory.

Debian's `krb5-kdc` (krb5kdc, kdb5_util) and `krb5-admin-server` (kadmin.local) run it: the database, the
stash, the KDC's profile and a client `krb5.conf` all live in one directory that `close()` removes. The KDC
listens on 127.0.0.1 only (`kdc_listen`/`kdc_tcp_listen`); clients reach it over TCP. Nothing here touches
the machine's own Kerberos configuration: clients are pointed at `krb5_conf` with `KRB5_CONFIG`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = ["KDC_PACKAGES", "KdcUnavailable", "RunningKdc", "kdc_missing", "start_kdc", "write_krb5_conf"]

KDC_PACKAGES = "krb5-kdc krb5-admin-server krb5-user"
_TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local")
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_START_SECONDS = 10.0


class KdcUnavailable(RuntimeError):
    """The KDC's programs are missing or it would not start; the message says what to install."""


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def kdc_missing() -> str | None:
    """None when MIT Kerberos's KDC programs are installed, else what is missing and how to install it."""
    missing = [name for name in _TOOLS if _tool(name) is None]
    if not missing:
        return None
    return (
        f"MIT Kerberos's KDC is not installed ({', '.join(missing)} not found). "
        f"Install it as root: apt-get install -y {KDC_PACKAGES} (or run make install as root)"
    )


def write_krb5_conf(path: Path, realm: str, kdc: str, domains: Iterable[str] = ()) -> None:
    """A client profile: one realm, its KDC over TCP, no DNS look-ups, host names used as given."""
    mapping = "".join(f" .{d} = {realm}\n {d} = {realm}\n" for d in domains)
    path.write_text(
        "[libdefaults]\n"
        f" default_realm = {realm}\n"
        " dns_lookup_kdc = false\n dns_lookup_realm = false\n"
        " dns_canonicalize_hostname = false\n rdns = false\n"
        " udp_preference_limit = 1\n forwardable = false\n"
        " default_ccache_name = MEMORY:exchange-triage\n"
        f"[realms]\n {realm} = {{\n  kdc = {kdc}\n }}\n"
        f"[domain_realm]\n{mapping}",
        encoding="utf-8",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningKdc:
    """A running realm. `keytab(principal)` writes a keytab; `password` is the service account's."""

    realm: str
    port: int
    directory: Path
    krb5_conf: Path
    service_principal: str  # the service account, user@REALM
    password: str = field(repr=False)
    acceptor_keytab: Path  # every HTTP/ and WSMAN/ service principal of the lab's servers
    _process: subprocess.Popen[bytes] = field(repr=False)
    _env: dict[str, str] = field(repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kadmin(self, *queries: str) -> str:
        """Run kadmin.local queries against this realm's database (no kadmind, no network)."""
        output = []
        for query in queries:
            done = subprocess.run(  # noqa: S603 - fixed program, queries built by this module
                [_tool("kadmin.local") or "kadmin.local", "-r", self.realm, "-q", query],
                env=self._env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if done.returncode != 0 or "error" in done.stderr.lower():
                raise KdcUnavailable(f"kadmin.local {query.split()[0]} failed: {done.stderr.strip()[:300]}")
            output.append(done.stdout)
        return "".join(output)

    def add_principal(self, principal: str, password: str | None = None, *options: str) -> None:
        key = f"-pw {password}" if password is not None else "-randkey"
        self.kadmin(f"addprinc {' '.join(options)} {key} {principal}".replace("  ", " "))

    def keytab(self, path: Path, *principals: str) -> Path:
        """Export the principals' current keys (ktadd -norandkey keeps passwords valid)."""
        for principal in principals:
            self.kadmin(f"ktadd -k {path} -norandkey {principal}")
        return path

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RunningKdc:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _kdc_conf(directory: Path, realm: str, port: int) -> str:
    return (
        "[kdcdefaults]\n"
        f" kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n"
        "[realms]\n"
        f" {realm} = {{\n"
        f"  database_name = {directory}/principal\n"
        f"  key_stash_file = {directory}/stash\n"
        f"  acl_file = {directory}/kadm5.acl\n"
        f"  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = 127.0.0.1:{port}\n"
        "  max_life = 10h\n max_renewable_life = 0\n"
        "  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
        " }\n"
        "[logging]\n"
        f" kdc = FILE:{directory}/kdc.log\n"
    )


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(encoding="utf-8", errors="replace")[-400:] if log.exists() else ""
            raise KdcUnavailable(f"krb5kdc exited with {process.returncode}: {text.strip()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise KdcUnavailable(f"krb5kdc did not listen on 127.0.0.1:{port} within {_START_SECONDS:.0f} s")


def start_kdc(
    realm: str,
    *,
    user: str,
    services: Iterable[str] = (),
    domains: Iterable[str] = (),
    extra_principals: Mapping[str, str | None] | None = None,
) -> RunningKdc:
    """Create `realm` in a temporary directory and serve it on a free loopback port.

    `user` is the service account (a password is generated), `services` the acceptor's principals
    (random keys, exported together to `acceptor_keytab`), `domains` the DNS domains mapped to the realm.
    """
    missing = kdc_missing()
    if missing:
        raise KdcUnavailable(missing)
    directory = Path(tempfile.mkdtemp(prefix="triage-kdc-"))
    started: RunningKdc | None = None
    try:
        port = _free_port()
        (directory / "kadm5.acl").write_text("", encoding="utf-8")
        (directory / "kdc.conf").write_text(_kdc_conf(directory, realm, port), encoding="utf-8")
        krb5_conf = directory / "krb5.conf"
        write_krb5_conf(krb5_conf, realm, f"127.0.0.1:{port}", domains)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KRB5_CONFIG": str(krb5_conf),
            "KRB5_KDC_PROFILE": str(directory / "kdc.conf"),
        }
        subprocess.run(  # noqa: S603 - fixed program and arguments
            [_tool("kdb5_util") or "kdb5_util", "create", "-r", realm, "-s", "-P", secrets.token_urlsafe(24)],
            env=env,
            capture_output=True,
            timeout=60,
            check=True,
        )
        log = directory / "kdc.log"
        process = subprocess.Popen(  # noqa: S603 - fixed program and arguments
            [_tool("krb5kdc") or "krb5kdc", "-n", "-r", realm],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        password = secrets.token_urlsafe(18)
        started = RunningKdc(
            realm=realm,
            port=port,
            directory=directory,
            krb5_conf=krb5_conf,
            service_principal=f"{user}@{realm}",
            password=password,
            acceptor_keytab=directory / "acceptor.keytab",
            _process=process,
            _env=env,
        )
        _wait_for(port, process, log)
        started.add_principal(started.service_principal, password)
        names = [f"{service}@{realm}" for service in dict.fromkeys(services)]
        for name in names:
            started.add_principal(name)
        for name, secret in (extra_principals or {}).items():
            started.add_principal(name, secret)
        if names:
            started.keytab(started.acceptor_keytab, *names)
        return started
    except subprocess.CalledProcessError as error:
        if started:
            started.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise KdcUnavailable(
            f"kdb5_util create failed: {error.stderr.decode(errors='replace')[:300]}"
        ) from None
    except BaseException:
        if started:
            started.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise
