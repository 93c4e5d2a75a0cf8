"""Redacting secrets from text before it leaves the conversation (escalation summaries, paste excerpts).

People paste whatever was on their screen: HTTP traces with Authorization headers, tokens, connection
strings, scripts with -Password arguments. Each rule keeps the name and replaces only the secret, so the
summary still says what was there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["REDACTED", "redact", "redact_all", "redact_output"]

REDACTED = "[redacted]"

_BARE = r"[^\s;,&\"'|)]+"
# A variable, a sub-expression or a cmdlet call (Read-Host ...) is not itself a secret: left alone.
_NOT_A_LITERAL = r"(?!\$)(?!\()(?![A-Za-z]+-[A-Za-z]+\b)"
_QUOTED_OR_BARE = rf"(?:'[^'\n]*'|\"[^\"\n]*\"|{_BARE})"
# Names of parameters and keys whose value is a secret (a pattern of names, not a secret itself).
_SENSITIVE_NAMES = (
    r"password|passwd|pwd|secret|client[_-]?secret|clientsecret|api[_-]?key|apikey|access[_-]?token|"
    r"refresh[_-]?token|id[_-]?token|token|accountkey|account[_-]?key|sharedaccesskey|shared[_-]?access[_-]?key|"
    r"sharedaccesssignature|private[_-]?key"
)

_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # PEM private keys, whole.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        "-----BEGIN PRIVATE KEY----- " + REDACTED + " -----END PRIVATE KEY-----",
    ),
    # Authorization headers (any scheme), to the end of the line.
    # (In a header line, a JSON member or a quoted curl argument: up to the end of the line or the quote.)
    (re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+"), r"\g<1>" + REDACTED),
    # Bearer and Basic credentials wherever they appear.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*"), r"\g<1> " + REDACTED),
    # JSON Web Tokens: three base64url parts, the first two JSON objects ("eyJ").
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Entra ID client secrets (the current format: three characters, a digit, "Q~", then 31-34 more).
    (
        re.compile(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"),
        REDACTED,
    ),
    # SAS signatures in URLs and connection strings.
    (re.compile(r"(?i)([?&;]sig=)[^&\s;\"']+"), r"\g<1>" + REDACTED),
    # Credentials in URLs: scheme://user:password@host. The password runs to the last @ of the authority
    # (an unencoded @ in it must not leave the rest showing).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^\s/?#]*(@)"), r"\g<1>" + REDACTED + r"\g<2>"),
    # ConvertTo-SecureString 'literal' -AsPlainText.
    (
        re.compile(r"(?i)(ConvertTo-SecureString\s+(?:-String\s+)?)('[^'\n]*'|\"[^\"\n]*\"|[^\s$(][^\s]*)"),
        r"\g<1>" + REDACTED,
    ),
    # PowerShell parameters: -Password 'x', -ClientSecret x, -AccessToken x (variables like $password stay).
    (
        re.compile(
            rf"(?i)(-(?:{_SENSITIVE_NAMES})(?::|\s+)){_NOT_A_LITERAL}({_QUOTED_OR_BARE})",
        ),
        r"\g<1>" + REDACTED,
    ),
    # key=value and key: value pairs (connection strings, query strings, config, JSON); quotes are kept.
    (
        re.compile(
            rf"(?i)([\"']?\b(?:{_SENSITIVE_NAMES})\b[\"']?\s*[=:]\s*){_NOT_A_LITERAL}(?:(['\"])[^'\"\n]*\2|{_BARE})"
        ),
        lambda m: m.group(1) + (m.group(2) or "") + REDACTED + (m.group(2) or ""),
    ),
]


def redact(text: str) -> str:
    """`text` with every secret we recognise replaced by [redacted]."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_all(value: Any) -> Any:
    """Every string inside a JSON value (a card, a summary) redacted; URLs of links are kept as they are
    unless they hold a secret themselves."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_all(item) for item in value]
    if isinstance(value, dict):
        return {key: redact_all(item) for key, item in value.items()}
    return value


_SENSITIVE_KEY = re.compile(rf"(?i)^\W*(?:{_SENSITIVE_NAMES}|connectionstring|connection[_-]?string)\W*$")


def redact_output(value: Any) -> Any:
    """Pasted command output (reader sections, rows of properties) redacted before it is stored: a property
    named like a secret (Password, ClientSecret, ConnectionString, ...) loses its value whatever it is, and
    every other string is redacted like error text."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_output(item) for item in value]
    if isinstance(value, dict):
        return {
            key: REDACTED
            if _SENSITIVE_KEY.match(str(key)) and item not in (None, "")
            else redact_output(item)
            for key, item in value.items()
        }
    return value
