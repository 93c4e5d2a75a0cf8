"""Error facts: Exchange/EWS error codes, LIDs, HTTP statuses and the .NET exception chain."""

from __future__ import annotations

import re
from typing import Any

from knowledge.reader.scan import Paste, scan
from knowledge.reader.values import MAX_MATCHES, add_all

__all__ = ["read_errors"]

# EWS response codes (ErrorNoFreeBusyAccess, ErrorProxyRequestProcessingFailed, ...).
_EWS_CODE = re.compile(r"\b(Error[A-Z][A-Za-z0-9]{2,60})\b")
# Identifiers that start with "Error" but name a field, not a code.
_NOT_CODES = frozenset(
    {
        "ErrorCode",
        "ErrorCodes",
        "ErrorMessage",
        "ErrorDetails",
        "ErrorDetail",
        "ErrorRecord",
        "ErrorCategory",
        "ErrorCategoryInfo",
        "ErrorId",
        "ErrorDescription",
        "ErrorText",
        "ErrorType",
        "ErrorHandling",
        "ErrorResponse",
        "ErrorAction",
        "ErrorVariable",
        "ErrorInfo",
        "ErrorString",
    }
)
# "(Error code 5037)", "(Error Code: 5016)", "<ExceptionCode>5037</ExceptionCode>", "ErrorCode: 5039".
_NUMERIC_CODE = re.compile(
    r"\b(?:Error[ \t]?Code|ExceptionCode|ResponseCode)\b[\"'>]?[ \t]{0,5}[:=]?[ \t]{0,5}[\"']?(\d{3,5})\b",
    re.IGNORECASE,
)
_NAMED_CODES = re.compile(
    r"\b(AADSTS\d{4,7}|HCW\d{3,5}|ProxyError[A-Z][A-Za-z0-9]{2,60})\b"
    r"|error_category=\"?([a-z_]{3,40})\"?"
    r"|Symbolic[ \t]Name[ \t]{0,20}:?[ \t\n]{0,20}([A-Z][A-Za-z0-9]{3,60})\b"
)
# "LID: 47652, 44348, 40764", "Lid=43532", "Lid: 55743": written in any case.
_LIDS = re.compile(
    r"\bLIDs?[ \t]{0,5}[:=][ \t]{0,5}(\d{2,7}(?:[ \t]{0,3}[,;][ \t]{0,3}\d{2,7}){0,20})\b", re.IGNORECASE
)
# "HTTP status 401", "HTTP/1.1 503", "StatusCode: 401".
_HTTP = (
    re.compile(
        r"\bHTTP(?:/\d(?:\.\d)?)?[ \t]{1,5}(?:status(?:[ \t]code)?[ \t]{0,5}[:=]?[ \t]{0,5})?(\d{3})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bstatus[ \t]?code[\"']?[ \t]{0,5}[:=][ \t]{0,5}[\"']?(\d{3})\b", re.IGNORECASE),
)
# "(401) Unauthorized", "401: Unauthorized", "404 Not Found": the phrase is found first, then the
# number before it (a pattern that starts with the number would be tried at every digit).
_STATUS_PHRASE = re.compile(
    r"(?:Unauthorized|Forbidden|Not Found|Service Unavailable|Bad Request|Internal Server Error|Bad Gateway"
    r"|Gateway Time-?out|Method Not Allowed|Proxy Authentication Required|Request Time-?out"
    r"|Too Many Requests)\b",
    re.IGNORECASE,
)
_STATUS_BEFORE = re.compile(r"(?:\((\d{3})\)|\b(\d{3}):?)[ \t]{1,5}$")
_EXCEPTION_END = re.compile(r"Exception(?![\w(])(?!\.\w)")
_QUALIFIED_TAIL = re.compile(r"[A-Za-z0-9_.]{1,250}")
_LABELLED_TYPE = re.compile(r"\bException Type[ \t]{0,5}:[ \t]{0,5}([A-Za-z_][\w.]{2,200})")
_LABELLED_MESSAGE = re.compile(r"\bException Message[ \t]{0,5}:[ \t]{0,5}([^\n]{3,500})")
# Where a message ends: an inner-exception arrow, a stack frame, or the next exception's type.
_MESSAGE_END = re.compile(
    r"-{2,3}>|\n[ \t]{0,12}at[ \t]|[ \t]at[ \t](?:System|Microsoft)\.|\n[ \t]*\n|;[ \t]"
    r"|\n[A-Za-z_][\w.]{0,60}:[ \t]|\"[,}]"
)
_SPACES = re.compile(r"[ \t\n]{1,400}")


def _codes(paste: Paste) -> list[str]:
    found: list[tuple[int, str]] = []
    for match in scan(_EWS_CODE, paste):
        if match.group(1) not in _NOT_CODES:
            found.append((match.start(), match.group(1)))
    for match in scan(_NUMERIC_CODE, paste):
        found.append((match.start(), match.group(1)))
    for match in scan(_NAMED_CODES, paste):
        found.append((match.start(), next(g for g in match.groups() if g)))
    found.sort()
    return [code for _, code in found]


def _lids(paste: Paste) -> list[int]:
    lids: list[int] = []
    for match in scan(_LIDS, paste):
        lids.extend(int(part) for part in re.split(r"[ \t]*[,;][ \t]*", match.group(1)))
    return lids


def _statuses(paste: Paste) -> list[int]:
    found: list[tuple[int, int]] = []
    for pattern in _HTTP:
        found.extend((m.start(), int(m.group(1))) for m in scan(pattern, paste))
    for phrase in scan(_STATUS_PHRASE, paste):
        before = _STATUS_BEFORE.search(paste.text, max(0, phrase.start() - 12), phrase.start())
        if before:
            found.append((before.start(), int(before.group(1) or before.group(2))))
    return [value for _, value in sorted(found) if 100 <= value <= 599]


def _header_name(text: str, start: int) -> bool:
    """Whether the name at `start` ends a hyphenated header name (X-InnerException:), not a type."""
    return start >= 2 and text[start - 1] == "-" and text[start - 2].isalnum()


def _exception_spans(paste: Paste) -> list[tuple[int, int, str]]:
    """(start, end, short type name) of each exception type named, in order."""
    text = paste.text
    spans = []
    for match in scan(_EXCEPTION_END, paste, MAX_MATCHES):
        # Walk back over the qualified name (System.Net.WebException) by matching the reversed window.
        window = text[max(0, match.start() - 250) : match.start()][::-1]
        tail = _QUALIFIED_TAIL.match(window)
        qualified = (tail.group(0)[::-1] if tail else "").lstrip(".0123456789") + "Exception"
        short = qualified.rsplit(".", 1)[-1]
        start = match.end() - len(qualified)
        if short != "Exception" and short[0].isalpha() and not _header_name(text, start):
            spans.append((start, match.end(), short))
    return spans


def _message(text: str, start: int, stop: int) -> str:
    """The message printed after an exception's type, between `start` and `stop`."""
    if start >= len(text) or text[start] != ":":
        return ""
    chunk = text[start + 1 : min(stop, start + 600)]
    end = _MESSAGE_END.search(chunk)
    if end:
        chunk = chunk[: end.start()]
    return _SPACES.sub(" ", chunk).strip(" .,;:")


def _exceptions(paste: Paste, facts: dict[str, Any]) -> None:
    text = paste.text
    spans = _exception_spans(paste)
    labelled = [(m.start(), m.group(1).rsplit(".", 1)[-1]) for m in scan(_LABELLED_TYPE, paste)]
    types = sorted([(s, name) for s, _, name in spans] + labelled)
    add_all(facts, "exception.types", (name for _, name in types))
    messages = []
    for index, (_, end, _name) in enumerate(spans):
        stop = spans[index + 1][0] if index + 1 < len(spans) else len(text)
        message = _message(text, end, stop)
        if len(message) >= 3:
            messages.append(message)
    messages.extend(_SPACES.sub(" ", m.group(1)).strip() for m in scan(_LABELLED_MESSAGE, paste))
    add_all(facts, "exception.messages", messages)


def read_errors(paste: Paste, facts: dict[str, Any]) -> None:
    """Add error codes, LIDs, HTTP statuses and the exception chain found in the paste."""
    add_all(facts, "error.codes", _codes(paste))
    add_all(facts, "error.lids", _lids(paste))
    add_all(facts, "http.statuses", _statuses(paste))
    _exceptions(paste, facts)
