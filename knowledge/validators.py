"""Validators for the values users type and facts carry: addresses, server names, thumbprints, URLs.

They are strict on purpose: a value that passes is safe to hand to a backend as a parameter and to show
in a PowerShell command, and one that fails gets a specific message the conversation can re-prompt with.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = [
    "ValueProblem",
    "check_domain",
    "check_server",
    "check_smtp",
    "check_thumbprint",
    "check_url",
    "normalise_smtp",
]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")
# RFC 5322 allows ' { } | $ # ` in a local part; Exchange accepts them, but no address this product is asked
# about has them, and each means something to PowerShell or to a command template: they are refused.
_LOCAL = re.compile(r"^[A-Za-z0-9!%&*+/=?^_~-]+(?:\.[A-Za-z0-9!%&*+/=?^_~-]+)*$")
# Characters a URL of an Exchange virtual directory never has and PowerShell or a template reads specially.
_URL_REFUSED = frozenset("'\"`$;{}|#<>\\\u2018\u2019\u201a\u201b\u201c\u201d\u201e")
_NETBIOS = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?$")
_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")


class ValueProblem(ValueError):
    """A value that does not pass; the message is fit to show a helpdesk agent."""


def check_domain(value: str) -> str:
    domain = value.strip().rstrip(".")
    if len(domain) > 253 or not _DOMAIN.match(domain):
        raise ValueProblem(f"'{_shown(value)}' is not a domain name like contoso.com.")
    return domain.lower()


def check_smtp(value: str) -> str:
    """A primary SMTP address: ASCII local part (as Exchange requires without SMTPUTF8) and a domain.

    Accepted as written, after an `SMTP:`/`smtp:` prefix, or in one pair of angle brackets the way Outlook
    and message headers show it (`<carol@contoso.com>`). A lone bracket is refused: it is half of a pair
    cut off in the paste, so the address may be cut too."""
    address = value.strip().removeprefix("SMTP:").removeprefix("smtp:")
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    elif address.startswith("<") or address.endswith(">"):
        raise ValueProblem(
            f"'{_shown(value)}' has an angle bracket without its pair: paste the whole address, like "
            "<alice@contoso.com> or alice@contoso.com."
        )
    local, sep, domain = address.rpartition("@")
    if not sep or not local:
        raise ValueProblem(f"'{_shown(value)}' is not an email address like alice@contoso.com.")
    if len(local) > 64 or not _LOCAL.match(local):
        raise ValueProblem(
            f"The part before @ in '{_shown(value)}' has characters an email address cannot have."
        )
    try:
        domain = check_domain(domain)
    except ValueProblem:
        raise ValueProblem(
            f"The part after @ in '{_shown(value)}' is not a domain name like contoso.com."
        ) from None
    return f"{local}@{domain}"


def normalise_smtp(value: str) -> str:
    """Lower-case form used to compare addresses."""
    return check_smtp(value).lower()


def check_server(value: str) -> str:
    """An Exchange server: a NetBIOS name (EX01) or an FQDN (ex01.contoso.com)."""
    name = value.strip().rstrip(".")
    if _NETBIOS.match(name):
        return name
    try:
        check_domain(name)
    except ValueProblem:
        raise ValueProblem(f"'{_shown(value)}' is not a server name like EX01 or ex01.contoso.com.") from None
    return name


def check_thumbprint(value: str) -> str:
    thumbprint = value.strip().replace(" ", "")
    if not _THUMBPRINT.match(thumbprint):
        raise ValueProblem(f"'{_shown(value)}' is not a certificate thumbprint (40 hexadecimal characters).")
    return thumbprint.upper()


def check_url(value: str, *, https_only: bool = False) -> str:
    url = value.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueProblem(f"'{_shown(value)}' is not a URL.") from None
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme not in allowed or not host or any(c.isspace() or c in _URL_REFUSED for c in url):
        wanted = "an https URL" if https_only else "a URL"
        raise ValueProblem(f"'{_shown(value)}' is not {wanted} like https://mail.contoso.com/owa.")
    return url


def _shown(value: str, limit: int = 80) -> str:
    """A user's value, made safe to echo: one line, printable, not too long."""
    flat = "".join(c if c.isprintable() else " " for c in value).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
