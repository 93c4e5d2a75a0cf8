"""Request facts: the ProxyWebRequest type, who asked for whom, where it went, and the free/busy query."""

from __future__ import annotations

import re
from typing import Any

from knowledge.reader.scan import Paste, scan, search
from knowledge.reader.values import email, url_parts

__all__ = ["read_request"]

# "ProxyWebRequest CrossSite from ...", "ProxyWebRequest type = CrossSite, url = ...". Case-sensitive:
# stack frames say "ProxyWebRequest proxyWebRequest".
_PROXY_TYPE = re.compile(r"\bProxyWebRequest[ \t]{1,5}(?:type[ \t]{0,3}=[ \t]{0,3})?([A-Z][A-Za-z]{2,40})\b")
_NOT_TYPES = frozenset({"Processing", "Failed", "Type"})
_URL_TEXT = r"(https?://[^\s'\"]{1,2000})"
_FROM_TO = re.compile(
    r"\bProxyWebRequest[ \t]{1,5}[A-Za-z]{2,40}[ \t]{1,5}from[ \t]{1,5}(\S{1,320})[ \t]{1,5}to[ \t]{1,5}"
    + _URL_TEXT
)
_URL_LABEL = re.compile(r"\b(?:url|Url|URL|TargetUri|TargetUrl|ProxyUrl)[ \t]{0,5}[=:][ \t]{0,5}" + _URL_TEXT)
_COMMUNICATE = re.compile(
    r"\b(?:Failed to communicate with|Autodiscover service at|proxy(?:ing)? to)[ \t]{1,5}'?" + _URL_TEXT
)
_REQUESTER = re.compile(
    r"\b(?:Requester|Requesting user|Caller|From)[ \t]{0,5}[:=][ \t]{0,5}(\S{3,320})", re.IGNORECASE
)
# "Mailbox list = <User B>SMTP:UserB@fabrikam.com", "for mailbox <Name> SMTP:user@domain".
_MAILBOX_LIST = re.compile(
    r"\b(?:Mailbox list[ \t]{0,3}=|for mailbox)[^\n]{0,200}?SMTP:[ \t]{0,3}(\S{3,320})", re.IGNORECASE
)
_TARGET_LABEL = re.compile(
    r"\b(?:Autodiscover failed for e-?mail address|cross-organization request for|Target mailbox|Attendee)"
    r"[ \t]{0,5}[:=]?[ \t]{0,5}(\S{3,320})",
    re.IGNORECASE,
)
_VIEW = re.compile(r"\bRequestedView[ \t]{0,5}[=:][ \t]{0,5}([A-Za-z]{3,40})")
_INTERVAL = re.compile(r"\bMergedFBInterval[ \t]{0,5}[=:][ \t]{0,5}(\d{1,6})\b")
_CALLER_SIDS = re.compile(r"\bCaller SIDs[ \t]{0,5}:[ \t]{0,5}([\w-]{2,200})")
_URL_TRAILER = ".,;:'\")]>`"


def _set_url(facts: dict[str, Any], raw: str) -> None:
    url = raw.rstrip(_URL_TRAILER)
    parts = url_parts(url)
    scheme = raw.split(":", 1)[0].lower()
    facts.setdefault("target.url_scheme", scheme)
    if parts is None:
        return
    _, host, port = parts
    facts.setdefault("target.url", url)
    facts.setdefault("target.fqdn", host)
    if port is not None:
        facts.setdefault("target.port", port)


def _first_email(pattern: re.Pattern[str], paste: Paste) -> str | None:
    for match in scan(pattern, paste):
        found = email(match.group(1))
        if found:
            return found
    return None


def _urls(paste: Paste, facts: dict[str, Any]) -> None:
    proxied = search(_FROM_TO, paste)
    if proxied:
        requester = email(proxied.group(1))
        if requester:
            facts["request.requester"] = requester
    # The first URL that names a real host wins; a placeholder URL still tells the scheme.
    for pattern in (_FROM_TO, _URL_LABEL, _COMMUNICATE):
        for match in scan(pattern, paste):
            _set_url(facts, match.group(match.lastindex or 1))
            if "target.url" in facts:
                return


def read_request(paste: Paste, facts: dict[str, Any]) -> None:
    """Add proxy-request and free/busy facts found in the paste."""
    for match in scan(_PROXY_TYPE, paste):
        if match.group(1) not in _NOT_TYPES:
            facts["proxy.type"] = match.group(1)
            break
    _urls(paste, facts)
    if "request.requester" not in facts:
        requester = _first_email(_REQUESTER, paste)
        if requester:
            facts["request.requester"] = requester
    target = _first_email(_MAILBOX_LIST, paste) or _first_email(_TARGET_LABEL, paste)
    if target:
        facts["request.target"] = target
    view = search(_VIEW, paste)
    if view:
        facts["freebusy.view"] = view.group(1)
    interval = search(_INTERVAL, paste)
    if interval:
        facts["freebusy.merged_interval"] = int(interval.group(1))
    sids = search(_CALLER_SIDS, paste)
    if sids:
        facts["caller.sids"] = sids.group(1)
