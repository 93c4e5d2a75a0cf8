"""Kerberos for the live backends: tickets acquired in-process through GSS-API, SPNs, failures named.

The service account's ticket is acquired with `gssapi` from its password or a keytab into one memory
credential cache (`KRB5CCNAME`), where pypsrp (pyspnego) and pywinrm (pykerberos) both find it; no `kinit`
by hand, nothing written to disk. The realm and its KDCs come from `krb5.conf` (`KRB5_CONFIG` when the
configuration names one). Every Kerberos or authentication failure is turned into one line saying what is
wrong and what to do (`explain`).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import gssapi
import gssapi.raw
from gssapi.raw.misc import GSSError

__all__ = [
    "CCACHE",
    "NTLM_REFUSED",
    "AuthProblem",
    "KerberosLogin",
    "KerberosProblem",
    "default_spn",
    "explain",
    "split_spn",
]

CCACHE = "MEMORY:exchange-triage"
_RENEW_SECONDS = 300
_lock = threading.Lock()


@dataclass(frozen=True)
class AuthProblem:
    kind: str  # clock-skew | unknown-spn | expired-password | stale-keytab | wrong-realm | no-kdc | ...
    cause: str
    fix: str

    def sentence(self, where: str) -> str:
        return f"{where}: {self.cause} Fix: {self.fix}"


def default_spn(url_or_host: str, service: str) -> str:
    """The SPN a Windows client asks for: SERVICE/host as written in the URL (HTTP/ex01.contoso.com)."""
    host = urlsplit(url_or_host).hostname if "//" in url_or_host else url_or_host
    return f"{service}/{(host or url_or_host).lower()}"


def split_spn(spn: str) -> tuple[str, str]:
    """("HTTP", "ex01.contoso.com") from "HTTP/ex01.contoso.com" (a realm suffix is dropped)."""
    service, _, host = spn.partition("/")
    if not service or not host:
        raise ValueError(f"an SPN is SERVICE/host, not {spn!r}")
    return service, host.split("@", 1)[0]


class KerberosProblem(Exception):
    """Acquiring the service account's ticket failed for a named reason."""

    def __init__(self, problem: AuthProblem, detail: str) -> None:
        super().__init__(f"{problem.cause} ({detail[:200]})")
        self.problem = problem


@dataclass
class KerberosLogin:
    """The service account's Kerberos identity: a principal and its password or keytab."""

    principal: str  # triage-svc@CONTOSO.COM
    password: str = field(default="", repr=False)
    keytab: str | None = None
    krb5_conf: str | None = None

    @property
    def ccache(self) -> str:
        """The memory cache of this identity (one per principal and krb5.conf: tickets never cross realms)."""
        key = hashlib.sha256(f"{self.principal}\0{self.krb5_conf or ''}".encode()).hexdigest()[:12]
        return f"{CCACHE}-{key}"

    def ensure(self) -> None:
        """A valid ticket-granting ticket in the process's memory cache, acquired now if missing or ending.

        KerberosProblem names what went wrong (an expired password, a stale keytab, no KDC, ...)."""
        try:
            self._ensure()
        except GSSError as error:
            problem = explain(error)
            if self.keytab and (problem is None or problem.kind == "bad-credentials"):
                problem = _STALE_KEYTAB
            if problem is None:
                raise
            raise KerberosProblem(problem, str(error)) from None

    def _ensure(self) -> None:
        with _lock:
            if self.krb5_conf:
                os.environ["KRB5_CONFIG"] = self.krb5_conf
            ccache = self.ccache
            os.environ["KRB5CCNAME"] = ccache
            name = gssapi.Name(self.principal, gssapi.NameType.kerberos_principal)
            try:
                cache: dict[bytes | str, bytes | str] = {"ccache": ccache}
                current = gssapi.Credentials(name=name, usage="initiate", store=cache)
                if (current.lifetime or 0) > _RENEW_SECONDS:
                    return
            except GSSError:
                pass  # no ticket yet, or an expired one
            if self.keytab:
                # Acquired into a cache of its own, then copied over the process's (which may hold another name).
                store: dict[bytes | str, bytes | str] = {
                    "client_keytab": self.keytab,
                    "ccache": f"MEMORY:exchange-triage-{uuid.uuid4().hex}",
                }
                acquired = gssapi.Credentials(name=name, usage="initiate", store=store)
                _ = acquired.lifetime  # acquires the ticket from the keytab now
                gssapi.raw.store_cred_into(
                    {"ccache": ccache}, acquired, usage="initiate", overwrite=True, set_default=True
                )
                return
            result = gssapi.raw.acquire_cred_with_password(
                name, self.password.encode("utf-8"), usage="initiate"
            )
            gssapi.raw.store_cred_into(
                {"ccache": ccache}, result.creds, usage="initiate", overwrite=True, set_default=True
            )


# (substring of the GSS-API / Kerberos / HTTP message, lower case) -> problem. First match wins.
_PATTERNS: tuple[tuple[tuple[str | re.Pattern[str], ...], AuthProblem], ...] = (
    (
        ("clock skew too great", "krb_ap_err_skew"),
        AuthProblem(
            "clock-skew",
            "this host's clock differs from the domain controller's by more than five minutes (Kerberos refuses).",
            "synchronise the clock with the domain (chrony or systemd-timesyncd pointed at a domain controller).",
        ),
    ),
    (
        (
            "server not found in kerberos database",
            "s_principal_unknown",
            re.compile(r"server \S+ not found in kerberos database"),
        ),
        AuthProblem(
            "unknown-spn",
            "the KDC knows no account with the server's SPN (wrong host name, an alias, or the SPN is not registered).",
            "connect by the server's FQDN, or register the SPN (setspn -S HTTP/<fqdn> <computer>) or set `spn:` in the configuration.",
        ),
    ),
    (
        ("password has expired", "key has expired", "kdc_err_key_expired"),
        AuthProblem(
            "expired-password",
            "the service account's password has expired.",
            "set a new password in Active Directory and update the secret (or the keytab) the configuration names.",
        ),
    ),
    (
        (
            "key version number for principal in key table is incorrect",
            "no key table entry found",
            "key table entry not found",
        ),
        AuthProblem(
            "stale-keytab",
            "the keytab does not hold the account's current key (the password changed since it was made).",
            "export a new keytab (ktpass or msktutil, see docs/deploying.md) and replace the file.",
        ),
    ),
    (
        ("preauthentication failed", "decrypt integrity check failed"),
        AuthProblem(
            "bad-credentials",
            "the KDC refused the service account's password or keytab (wrong, changed or expired).",
            "check the password secret, or export a fresh keytab if the password was changed.",
        ),
    ),
    (
        (
            "cannot find kdc for realm",
            "realm not local to kdc",
            "cannot resolve network address for kdc in realm",
        ),
        AuthProblem(
            "wrong-realm",
            "the principal's realm is not one krb5.conf knows (a typo, or the NetBIOS name instead of the DNS realm).",
            "write the principal as user@AD.DNS.NAME in capitals and list that realm in krb5.conf [realms].",
        ),
    ),
    (
        ("cannot contact any kdc", "unable to reach any kdc"),
        AuthProblem(
            "no-kdc",
            "no domain controller (KDC) answered on port 88.",
            "open TCP/UDP 88 to the domain controllers, or fix their names in krb5.conf [realms] kdc.",
        ),
    ),
    (
        (
            "client not found in kerberos database",
            "c_principal_unknown",
            re.compile(r"client \S+ not found in kerberos database"),
        ),
        AuthProblem(
            "unknown-account",
            "the KDC does not know the service account's principal.",
            "use the account's userPrincipalName (or sAMAccountName@REALM) as the username.",
        ),
    ),
    (
        ("clients credentials have been revoked", "client's credentials have been revoked"),
        AuthProblem(
            "account-disabled",
            "the service account is disabled or locked out.",
            "enable or unlock the account in Active Directory.",
        ),
    ),
    (
        ("unencrypted traffic is disabled", "allowunencrypted"),
        AuthProblem(
            "encryption-required",
            "the server refuses unencrypted messages over HTTP.",
            "use Kerberos, Negotiate or NTLM (their messages are encrypted over HTTP) or an HTTPS endpoint; Basic needs HTTPS.",
        ),
    ),
    (
        ("no credentials were supplied", "can't find client principal", "no kerberos credentials available"),
        AuthProblem(
            "no-ticket",
            "there is no Kerberos ticket for the service account and no password or keytab to get one.",
            "set password_env/password_file or keytab in the configuration (the ticket is then acquired in-process).",
        ),
    ),
)

_STALE_KEYTAB = next(p for _n, p in _PATTERNS if p.kind == "stale-keytab")

NTLM_REFUSED = AuthProblem(
    "ntlm-refused",
    "refused the service account over NTLM (NTLM refused by policy, e.g. 'Network security: Restrict NTLM', or a wrong password).",
    "use auth: kerberos (the default) with a krb5.conf for the domain, or ask for NTLM to be allowed for this account.",
)


def explain(error: BaseException) -> AuthProblem | None:
    """The named Kerberos/authentication problem behind a client library's exception, if it is one."""
    texts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts.append(str(current))
        texts.extend(str(arg) for arg in getattr(current, "args", ()))
        current = current.__cause__ or current.__context__
    for candidate in (error, error.__cause__, error.__context__):
        if isinstance(candidate, KerberosProblem):
            return candidate.problem
    text = " ".join(texts).lower()[:4000]
    for needles, problem in _PATTERNS:
        if any(needle in text if isinstance(needle, str) else needle.search(text) for needle in needles):
            return problem
    return None
