"""Honest answers when no cause is confident: what was recognised and what it means, which checks would tell
more, and, when nothing was recognised, which output to paste (with the exact command). Pure: no I/O.

Every surface renders the same `Unknown`: `triage diagnose` (text and --json), the chat's result card and
the message the chat sends when it reads a paste.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.assessment import Assessment
from knowledge.catalogue import Recognised
from knowledge.conditions import Facts
from knowledge.jsonvalue import JsonObject, JsonValue
from knowledge.loader import KnowledgeBase

__all__ = ["EvidenceRequest", "Unknown", "evidence_request", "recognised", "unknown"]

_AVAILABILITY_EVENTS = (
    "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='MSExchange Availability'; "
    "StartTime=(Get-Date).AddHours(-4)} -MaxEvents 20 | Format-List TimeCreated,Id,ProviderName,MachineName,Message"
)
_PROXY_EVENTS = (
    "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='MSExchange OWA','MSExchange Control Panel',"
    "'MSExchange Front End HTTP Proxy'; StartTime=(Get-Date).AddHours(-4)} -MaxEvents 20 "
    "| Format-List TimeCreated,Id,ProviderName,MachineName,Message"
)
_SYSTEM_EVENTS = (
    "Get-WinEvent -FilterHashtable @{LogName='System'; ProviderName='Schannel','Microsoft-Windows-Time-Service',"
    "'HttpEvent'; Level=1,2,3; StartTime=(Get-Date).AddHours(-4)} -MaxEvents 20 "
    "| Format-List TimeCreated,Id,ProviderName,Message"
)
_FEDERATION = "Test-FederationTrust -UserIdentity <an on-premises mailbox> -Verbose"
_OAUTH = (
    "Test-OAuthConnectivity -Service EWS -TargetUri https://outlook.office365.com/ews/exchange.asmx "
    "-Mailbox <an on-premises mailbox> -Verbose | Format-List"
)
_ORGREL = "Test-OrganizationRelationship -Identity '<relationship name>' -UserIdentity <an on-premises mailbox> -Verbose"

# What to ask for, by symptom: the events of the component that failed, then the tests of the trust it uses.
_BY_SYMPTOM: dict[str, tuple[str, ...]] = {
    "freebusy-cloud-to-onprem": (_AVAILABILITY_EVENTS, _OAUTH, _FEDERATION),
    "freebusy-onprem-to-cloud": (_AVAILABILITY_EVENTS, _OAUTH, _ORGREL),
    "freebusy-cross-forest": (_AVAILABILITY_EVENTS, _SYSTEM_EVENTS),
    "freebusy-cross-site": (_AVAILABILITY_EVENTS, _SYSTEM_EVENTS),
    "owa-ecp-cross-site-proxy": (_PROXY_EVENTS, _SYSTEM_EVENTS),
    "ews-cross-site-proxy": (_AVAILABILITY_EVENTS, _PROXY_EVENTS),
}
_DEFAULT = (_AVAILABILITY_EVENTS, _PROXY_EVENTS, _SYSTEM_EVENTS)


@dataclass(frozen=True)
class EvidenceRequest:
    """What to paste next: a sentence, and the exact read-only commands that print it."""

    text: str
    commands: tuple[str, ...]

    def as_dict(self) -> JsonObject:
        return {"text": self.text, "commands": list(self.commands)}


@dataclass(frozen=True)
class Unknown:
    """No confident cause. `recognised` says what the paste held and what it means; `checks` would tell more;
    `ask` is what to paste when nothing was recognised; `escalate` offers the Exchange team with these facts."""

    recognised: list[Recognised]
    checks: list[str]
    ask: EvidenceRequest | None
    escalate: bool = True
    lead: str = ""
    summary: list[str] = field(default_factory=list)

    def as_dict(self) -> JsonObject:
        items: list[JsonValue] = [r.as_dict() for r in self.recognised]
        return {
            "recognised": items,
            "checks": list(self.checks),
            "ask": self.ask.as_dict() if self.ask else None,
            "escalate": self.escalate,
            "lead": self.lead,
            "summary": list(self.summary),
        }


def recognised(kb: KnowledgeBase, facts: Facts) -> list[Recognised]:
    """The catalogue entries the facts say the paste held, in the order they were found."""
    ids = facts.get("recognised")
    if not isinstance(ids, list):
        return []
    found = [kb.catalogue.describe(str(i)) for i in ids]
    return [r for r in found if r is not None]


def evidence_request(facts: Facts) -> EvidenceRequest:
    """Which output would tell more, for the symptom in hand (or for any, when none is known yet)."""
    symptom = facts.get("symptom")
    commands = _BY_SYMPTOM.get(symptom, _DEFAULT) if isinstance(symptom, str) else _DEFAULT
    text = (
        "Nothing in what you pasted is an event, error code, status or command output I recognise. Paste the "
        "event the failing server logged, or the output of one of these commands run in the Exchange Management "
        "Shell on the server that answered the user:"
    )
    return EvidenceRequest(text=text, commands=commands)


def _summary(items: list[Recognised]) -> list[str]:
    lines = []
    for item in items[:6]:
        means = " ".join(item.means.split())
        lines.append(f"{item.title}: {means}")
    if len(items) > 6:
        lines.append(f"... and {len(items) - 6} more.")
    return lines


def unknown(kb: KnowledgeBase, assessment: Assessment) -> Unknown | None:
    """The honest answer when the assessment has no confident cause (None when it has one)."""
    if assessment.confident:
        return None
    items = recognised(kb, assessment.facts)
    checks: list[str] = []
    for item in items:
        for check in item.checks:
            if check not in checks and check not in assessment.checks_ran:
                checks.append(check)
    best = assessment.best
    lead = f"{best.title} ({round(best.confidence * 100)}% confidence)" if best else ""
    pasted = bool(assessment.facts.get("pasted"))
    ask = None if items else evidence_request(assessment.facts) if pasted or not best else None
    return Unknown(recognised=items, checks=checks, ask=ask, lead=lead, summary=_summary(items))
