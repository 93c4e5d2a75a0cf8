"""Reading a helpdesk message in plain words: the people, the direction, the symptom, the scope, corrections.

"Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office" reads as two people
(Alice, the requester, in the cloud; Bjorn, the target, on-premises in Branch), the direction cloud →
on-premises and the symptom free/busy. The reader is pure (no directory, no clock): names are resolved to
mailboxes later (`dialogs.people`). Typos in the vocabulary ("calender", "exchnage onlne", "schedualing
assistant") are corrected with rapidfuzz before the patterns run; every text is cut to `MAX_READ` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from rapidfuzz import fuzz, process

__all__ = [
    "MAX_READ",
    "Person",
    "Reading",
    "asks_explanation",
    "is_correction",
    "read_message",
    "symptom_of",
]

MAX_READ = 4000
"""Characters of a message the reader looks at (a first message is a sentence or two, not a paste)."""

Side = str  # "cloud" | "onprem" | ""


@dataclass(frozen=True)
class Person:
    """Someone the message names: an address, a partial address ("carol@") or a name ("Bjorn")."""

    text: str
    kind: str  # "address" | "name"
    role: str = ""  # "requester" (cannot see) | "target" (cannot be seen) | ""
    side: Side = ""
    site: str = ""
    at: int = 0


@dataclass(frozen=True)
class Reading:
    people: tuple[Person, ...] = ()
    direction: str = ""  # cloud_to_onprem | onprem_to_cloud | cross_site | cross_forest | ""
    topic: str = ""  # freebusy | owa | ews | ""
    scope: str = ""  # pair | site | all | ""
    correction: bool = False
    sites: tuple[str, ...] = field(default_factory=tuple)

    @property
    def anything(self) -> bool:
        return bool(self.people or self.direction or self.topic or self.scope or self.sites)

    def person(self, role: str) -> Person | None:
        return next((p for p in self.people if p.role == role), None)


# --- vocabulary and typo correction --------------------------------------------------------------------------

# Words the patterns below depend on: a token within a small edit of one of them is read as it.
_VOCABULARY = (
    "availability", "available", "calendar", "calendars", "scheduling", "assistant", "information",
    "exchange", "online", "premises", "premise", "migrated", "outlook", "everyone", "everybody", "office",
    "datacenter", "datacentre", "forest", "organisation", "organization", "partner", "company", "subsidiary",
    "acquired", "meeting", "meetings", "tenant", "webmail", "redirect", "redirected", "mailbox", "mailboxes",
    "branch", "cloud", "users", "free/busy", "freebusy", "details", "attendees", "retrieved",
)  # fmt: skip
_KEEP = frozenset(
    "alice erin carol bjorn dave frank since their there these those other about after again where which "
    "while would could should cannot users people staff showing shows shown seeing white slashes lines "
    "hashed hatched grey gray blank empty error errors every either within their theirs".split()
)


@cache
def _corrected(token: str) -> str:
    if len(token) < 5 or token in _KEEP or not token.isascii():
        return token
    cutoff = 88 if len(token) < 8 else 84
    found = process.extractOne(token, _VOCABULARY, scorer=fuzz.ratio, score_cutoff=cutoff)
    return str(found[0]) if found else token


_TOKEN = re.compile(r"[A-Za-z][A-Za-z/]*[A-Za-z]")


def _normalised(text: str) -> str:
    """The text lower-cased, typos in the vocabulary corrected, positions kept where they can be."""
    lowered = text.lower()
    return _TOKEN.sub(lambda m: _corrected(m.group()), lowered)


# --- patterns ------------------------------------------------------------------------------------------------

_CLOUD = (
    r"exchange online|\bexo\b|o365|office ?365|\bm365\b|microsoft ?365|\bcloud\b|\bonline\b|\bmigrated\b|"
    r"moved to (?:the cloud|365|o365|m365|exchange online|exo)|\bin 365\b|\bonmicrosoft\b"
)
_ONPREM = (
    r"on[- ]?prem(?:ise|ises)?\b|onpremises|\blocal(?: exchange| server| mailbox(?:es)?)?\b|not (?:yet )?migrated|"
    r"non[- ]?migrated|(?:our |the )?exchange (?:20(?:10|13|16|19)|se|server)\b|\bex20\d\d\b|"
    r"still on (?:exchange|our servers|prem)|in (?:house|the datacenter)"
)
_FOREST = (
    r"\bforests?\b|cross[- ]forest|cross[- ](?:org\w*|tenant)|other (?:organi[sz]ation|org|tenant|company|domain)|"
    r"another (?:organi[sz]ation|org|tenant|company|domain)|different (?:organi[sz]ation|org|tenant|compan(?:y|ies)|domain)|"
    r"partner|acquired|acquisition|sister compan|subsidiar|external (?:organi[sz]ation|compan|user|domain)|"
    r"two (?:organi[sz]ations|tenants|companies|orgs)|availability address space|federated sharing|merger"
)
_SITE_WORDS = (
    r"\b(?:ad )?sites?\b|\bbranch\b|\bhq\b|headquarters|data ?cent(?:er|re)s?|other (?:office|location)|"
    r"\boffices?\b|\bregion(?:al)?\b|non[- ]internet[- ]facing"
)
_OWA = (
    r"\bowa\b|outlook on the web|outlook web (?:app|access)|\bwebmail\b|\becp\b|\beac\b|admin cent(?:er|re)|"
    r"control panel|event (?:id )?42\b|/owa\b"
)
_OWA_TROUBLE = (
    r"log ?in|sign ?in|logon|log on|redirect|error|proxy|\b40[0-9]\b|\b50[0-9]\b|can'?t (?:open|access|get in)|"
    r"cannot (?:open|access)|blank page|something went wrong|loop|event"
)
_EWS = (
    r"\bews\b|exchange web services|outlook for mac|mac outlook|\bmacs?\b|macbook|\bmobile\b|\bapps?\b|"
    r"room (?:booking|finder)|booking app|third[- ]party|/ews/|exchange\.asmx"
)
_FREEBUSY = (
    r"free ?/ ?busy|freebusy|free[- ]busy|\bf/b\b|free and busy|availability|available|calendars?|"
    r"scheduling assistant|scheduling|schedule|hash(?:ed)? marks|hash lines|slashes|striped|stripes|hatch(?:ed|ing)|"
    r"diagonal lines|grey(?:ed)? out|gray(?:ed)? out|no information|no info|could not be retrieved|meetings?|"
    r"appointments?|busy times?|room (?:mailbox|calendar)|invite|attendees?|teams meeting"
)
_CLOUD_RE = re.compile(_CLOUD)
_ONPREM_RE = re.compile(_ONPREM)
_FOREST_RE = re.compile(_FOREST)
_SITE_RE = re.compile(_SITE_WORDS)
_OWA_RE = re.compile(_OWA)
_OWA_TROUBLE_RE = re.compile(_OWA_TROUBLE)
_EWS_RE = re.compile(_EWS)
_FREEBUSY_RE = re.compile(_FREEBUSY)

_VIEW = re.compile(
    r"(?:can'?t|can ?not|cannot|could ?n[o']t|couldn'?t|unable to|not able to|doesn'?t|don'?t|does not|do not|"
    r"won'?t|isn'?t|aren'?t|never|no longer|stopped|fail(?:s|ed|ing)? to|not)\s+(?:\w+\s+){0,2}?"
    r"(?:see|view|get|look ?up|pull|show|load|access|open|retrieve|check|display|find|reach|book|schedule)\b"
    r"|(?:is|are|was|were) not (?:seeing|getting)|not seeing|not getting|no free ?/ ?busy (?:for|from|of)|"
    r"(?:sees?|getting|gets|shows?|seeing) (?:hash|slashes|hatched|stripes|no information|nothing|blank|\\+)"
)
_PASSIVE = re.compile(
    r"\b(?:isn'?t|is not|aren'?t|are not|not|never)\s+(?:\w+\s+)?(?:visible|showing|shown|seen|available|loading)\b"
    r"[^.]{0,40}?\b(?:to|for|from|by)\s*$"
)

_SCOPE_PAIR = re.compile(
    r"\bonly (?:this |that |the |one )?(?:pair|couple|two|her|him|me|them|these two|those two|this user|"
    r"that user|one user|one person|one mailbox|for (?:her|him|me|them|this|that)|between)\b|"
    r"\bjust (?:her|him|me|them|this|that|these|those|one|the two|between|for)\b|\bone user\b|\bsingle user\b|"
    r"\bone (?:person|mailbox|specific)\b|\bspecific users?\b|\bonly (?:affects|happens|for) (?:this|that|one|her|him)|"
    r"\beveryone else (?:is fine|works|can)|\bothers? (?:are|is) fine|\bonly \w+ (?:can'?t|cannot|is affected|has)|"
    r"\bworks? for (?:everyone|everybody|all) (?:else|but)|\bonly this pair\b|\bjust (?:the )?(?:two|2) of them\b"
)
_SCOPE_ALL = re.compile(
    r"\bevery(?:one|body)\b|\ball (?:of )?(?:our |the |my )?(?:cloud |on[- ]?prem\w* |migrated |online |"
    r"exo |o365 |remote |\w+ )?(?:users|staff|mailboxes|people|employees|calendars|accounts)\b|\bnobody\b|"
    r"\bno ?one\b|\bany(?:one|body)\b|\bcompany[- ]wide\b|\borg(?:anisation|anization)?[- ]wide\b|"
    r"\bwhole (?:company|org\w*)\b|\bentire (?:company|org\w*)\b|\ball directions\b|\bany users?\b|"
    r"\b(?:users|people|staff|mailboxes|employees)\b"
)
_SCOPE_SITE = re.compile(
    r"\b(?:all |every(?:one|body) |users |people |staff |mailboxes )(?:in|at|from|of) (?:the |our )?"
    r"(?:[a-z0-9-]+ )?(?:site|office|branch|datacent(?:er|re)|location)\b|\bone (?:ad )?site\b|\bthat site\b|"
    r"\b(?:branch|site) users\b|\busers (?:in|at|from) (?:the )?branch\b|\bonly (?:in )?(?:one|the|that) (?:site|office)\b|"
    r"\b(?:everyone|everybody|all users|users) (?:homed |located )?(?:in|at) (?:the )?[a-z0-9-]+ (?:site|office)\b"
)

_CORRECTION = re.compile(
    r"^\W*(?:no+,? wait|wait,? no|no,? sorry|sorry,? (?:i meant|it'?s|it is|wrong|typo|my bad)|actually|"
    r"correction|i meant|i mean\b|typo|oops|my bad|scratch that|not \S+,? (?:but|it'?s)|no,? (?:it'?s|it is|the)\b)"
    r"|\b(?:i meant|typo|should (?:have been|be)|not \S+@\S+,? (?:but|it'?s))\b"
)
_EXPLAIN = re.compile(
    r"^\W*(?:\?+|what\??|huh\??|idk|i don'?t know|dont know|dunno|no idea|not sure|unsure|explain|"
    r"what(?:'s| is| does)? (?:that|this|it)(?: mean)?|what does (?:that|this|it) mean|what do you mean|"
    r"how (?:do|can|would|should) i (?:tell|know|check|find(?: out)?|see|look)|where do i (?:look|find|check|see)|"
    r"i'?m not sure|no clue|meaning\??|help me|which one)\W*(?:\w+\W*){0,4}$"
)

_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{0,253}")
_NAME = re.compile(r"\b[A-ZÀ-ÞØ][a-zà-ÿøæå'’-]{1,30}(?:\s+[A-ZÀ-ÞØ][a-zà-ÿøæå'’-]{1,30})?")
_POSSESSIVE = re.compile(r"['’]s?$")
# Capitalised words that are not people in these messages.
_NOT_NAMES = frozenset(
    """
    i im i'm id we our us you your they their them he she his her it its my me a an the this that these those
    hi hello hey hiya morning afternoon evening thanks thank please help urgent question issue problem ticket
    user users people staff mailbox mailboxes calendar calendars meeting meetings room rooms group groups
    exchange online office outlook owa ecp eac ews exo o365 m365 microsoft teams mac windows azure entra ad
    free busy availability scheduling assistant when since after before then but and or so if also still now
    today yesterday tomorrow monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december cloud hybrid server servers site sites
    branch hq headquarters datacenter datacentre premises prem onprem on-prem local our all every everyone
    everybody nobody anyone some only just both none not no yes can cannot can't cant doesn't dont don't
    is are was were has have had get gets got see sees seeing shows showing no information error errors
    event hash marks slashes anyway also however recently suddenly migrated migration tenant forest partner
    company organisation organization domain domains contoso fabrikam web webmail app apps mobile iphone
    android ios safari chrome edge fiddler powershell shell admin center centre global address list gal
    scheduling what why how who where which does do did would could should will shall might must there here
    new old other another same different external internal branch's hq's it's that's there's what's
    looks seems appears tried trying test testing works working worked fine ok okay sorry wait actually
    typo correction oops meant mean idk dunno sure hm hmm please note ps fyi asap cu su rollup
    """.split()
)


def _sites_named(text: str) -> list[tuple[str, int]]:
    """Capitalised words before office/site/datacentre ("the Branch office", "London site")."""
    found = []
    for match in re.finditer(
        r"\b([A-Z][A-Za-z0-9-]{1,30})\s+(?:office|site|ad site|datacent(?:er|re)|data cent(?:er|re)|location)\b",
        text,
    ):
        word = match.group(1)
        if word.lower() not in {"the", "our", "other", "that", "this", "one", "main", "ad", "same", "another"}:
            found.append((word, match.start()))
    for match in re.finditer(r"\b(HQ|Branch)\b", text):
        if all(start != match.start() for _, start in found):
            found.append((match.group(1), match.start()))
    return found


def _people(text: str, roster: Iterable[str]) -> list[Person]:
    """Addresses and names, in the order written; a name is a capitalised word that is not vocabulary, or
    any word matching the roster (the directory's first names, aliases and display names)."""
    found: list[Person] = []
    taken: list[tuple[int, int]] = []
    for match in _ADDRESS.finditer(text):
        raw = match.group().strip(".'-")
        if "@" not in raw or raw.startswith("@"):
            continue
        found.append(Person(raw.rstrip("."), "address", at=match.start()))
        taken.append(match.span())
    known = {name.casefold() for name in roster if name}
    site_words = {s.casefold() for s, _ in _sites_named(text)}

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for match in _NAME.finditer(text):
        start, end = match.span()
        if not free(start, end):
            continue
        words = [_POSSESSIVE.sub("", w) for w in match.group().split()]
        words = [w for w in words if w.casefold() not in _NOT_NAMES and w.casefold() not in site_words]
        if not words:
            continue
        # "Exchange Online" and "Branch office" are vocabulary; a name is one or two words not in it.
        name = " ".join(words)
        if re.search(r"@", text[end : end + 1]):
            continue
        found.append(Person(name, "name", at=start))
        taken.append((start, end))
    if known:
        for match in re.finditer(r"\b[a-zà-ÿ][a-zà-ÿ'’.-]{1,30}\b", text):
            start, end = match.span()
            word = _POSSESSIVE.sub("", match.group())
            if not free(start, end) or word in _NOT_NAMES or len(word) < 3:
                continue
            best = process.extractOne(word, known, scorer=fuzz.ratio, score_cutoff=80)
            if best:
                found.append(Person(word, "name", at=start))
                taken.append((start, end))
    return sorted(found, key=lambda p: p.at)


def _first_mentions(people: list[Person]) -> list[Person]:
    seen: set[str] = set()
    out = []
    for person in people:
        key = person.text.casefold()
        if key not in seen:
            seen.add(key)
            out.append(person)
    return out


def _merged(first: list[Person], mentions: list[Person]) -> list[Person]:
    """Each person once, with the side and site any of their mentions gave ("Bjorn is in the Branch office")."""
    out = []
    for person in first:
        same = [m for m in mentions if m.text.casefold() == person.text.casefold()]
        side = next((m.side for m in same if m.side), "")
        site = next((m.site for m in same if m.site), "")
        out.append(Person(person.text, person.kind, person.role, side, site, person.at))
    return out


def _side_at(lowered: str, start: int, end: int) -> Side:
    """The side a stretch of text names (cloud, on-premises), "" when none or both."""
    window = lowered[start:end]
    onprem = _ONPREM_RE.search(window)
    if onprem:
        # "not migrated" and "Exchange Online" in one stretch: on-premises wins only when it is the phrase
        # that mentions the cloud word ("not migrated").
        cloud_rest = _CLOUD_RE.search(window[: onprem.start()] + " " * len(onprem.group()) + window[onprem.end() :])
        return "" if cloud_rest else "onprem"
    cloud = _CLOUD_RE.search(window)
    if cloud:
        return "cloud"
    if _SITE_RE.search(window) and not _FOREST_RE.search(window):
        return "onprem"
    return ""


def _attach(text: str, lowered: str, people: list[Person]) -> list[Person]:
    """Each person's side and site from the words right after (or right before) them."""
    out = []
    sites = _sites_named(text)
    for index, person in enumerate(people):
        end = person.at + len(person.text)
        next_at = people[index + 1].at if index + 1 < len(people) else len(text)
        after = lowered[end : min(next_at, end + 60)]
        clause = re.split(r"[,;.]| but | and (?!the)| can'?t | cannot | can not | doesn'?t ", after, maxsplit=1)[0]
        side = ""
        if re.match(r"^(?:['’]s)?\s*(?:\(|is |are |in |on |at |who is |who'?s |from |\- |– |—|was |has been )", clause):
            side = _side_at(clause, 0, len(clause))
        if not side:
            before = lowered[max(0, person.at - 30) : person.at]
            before = re.split(r"[,;.]| and | but ", before)[-1]
            if re.search(r"(?:user|mailbox|account|person)\s*$", before):
                side = _side_at(before, 0, len(before))
        site = ""
        for name, at in sites:
            if end <= at <= end + len(clause) + 1:
                site = name
                side = side or "onprem"
        out.append(Person(person.text, person.kind, person.role, side, site, person.at))
    return out


def _roles(text: str, lowered: str, people: list[Person]) -> list[Person]:
    """Who cannot see (requester) and whose free/busy cannot be seen (target)."""
    if not people:
        return people
    view = _VIEW.search(lowered)
    roles: list[str] = []
    if view:
        before = [p for p in people if p.at < view.start()]
        after = [p for p in people if p.at >= view.end()]
        passive = bool(
            before
            and re.search(r"^['’]s?\s*(?:free ?/ ?busy|calendar|availability|schedule|f/b)", lowered[before[0].at + len(before[0].text) :])
        )
        for person in people:
            if passive:
                roles.append("target" if person in before else "requester")
            elif person in before:
                roles.append("requester" if person is before[-1] or len(before) == 1 else "")
            elif person in after:
                roles.append("target" if person is after[0] else "")
            else:
                roles.append("")
    else:
        passive_match = None
        if len(people) >= 2:
            between = lowered[people[0].at + len(people[0].text) : people[1].at]
            passive_match = _PASSIVE.search(between) or re.search(r"\b(?:from|to|for|by)\s*$", between)
        possessive = [
            p for p in people if re.match(r"^['’]s?\b", text[p.at + len(p.text) : p.at + len(p.text) + 2])
        ]
        for index, person in enumerate(people[:2]):
            if passive_match:
                roles.append("target" if index == 0 else "requester")
            elif possessive and len(people) >= 2:
                roles.append("target" if person in possessive else "requester")
            elif len(people) >= 2:
                roles.append("requester" if index == 0 else "target")
            else:
                roles.append("")
        roles += [""] * (len(people) - len(roles))
    # Two people named but only one role given: the other one takes the other role.
    if len(people) >= 2 and roles.count("") >= 1 and len({r for r in roles if r}) == 1:
        missing = "target" if "requester" in roles else "requester"
        roles[roles.index("")] = missing
    return [Person(p.text, p.kind, r, p.side, p.site, p.at) for p, r in zip(people, roles, strict=True)]


_BOTH = re.compile(r"\b(?:both|all|they(?:'re| are)?(?: both)?|each)\b[^.]{0,20}?\b(on[- ]?prem\w*|local|cloud|online|exo)\b")


def _direction(lowered: str, people: list[Person], topic: str) -> str:
    if _FOREST_RE.search(lowered):
        return "cross_forest"
    both = _BOTH.search(lowered)
    if both and not people and not _VIEW.search(lowered):
        return "cross_site" if _ONPREM_RE.search(both.group(1)) else ""
    requester = next((p for p in people if p.role == "requester"), None)
    target = next((p for p in people if p.role == "target"), None)
    sides = {"requester": requester.side if requester else "", "target": target.side if target else ""}
    if not (sides["requester"] and sides["target"]):
        view = _VIEW.search(lowered)
        split = view.start() if view else -1
        if split >= 0:
            # "cloud users can't see on-prem calendars": the side named before the verb is the requester's.
            sides["requester"] = sides["requester"] or _side_at(lowered, 0, split)
            sides["target"] = sides["target"] or _side_at(lowered, view.end() if view else 0, len(lowered))
        elif not sides["requester"] and not sides["target"] and _CLOUD_RE.search(lowered):
            # "free/busy between EXO and on-prem is broken": both named, direction unknown.
            return ""
    requester_side, target_side = sides["requester"], sides["target"]
    if requester_side == "onprem" and target_side == "onprem":
        return "cross_site"
    pair = {("cloud", "onprem"): "cloud_to_onprem", ("onprem", "cloud"): "onprem_to_cloud"}
    if (requester_side, target_side) in pair:
        return pair[(requester_side, target_side)]
    if requester_side == "cloud" and not target_side:
        return "cloud_to_onprem"
    if requester_side == "onprem" and not target_side:
        return "cross_site" if topic in ("owa", "ews") or _site_only(lowered) else "onprem_to_cloud"
    if target_side == "onprem" and not requester_side:
        return "cross_site" if _site_only(lowered) else "cloud_to_onprem"
    if target_side == "cloud" and not requester_side:
        return "onprem_to_cloud"
    if topic in ("owa", "ews") and _SITE_RE.search(lowered):
        return "cross_site"
    if _site_only(lowered) and not _CLOUD_RE.search(lowered):
        return "cross_site"
    return ""


def _site_only(lowered: str) -> bool:
    return bool(_SITE_RE.search(lowered)) and not _CLOUD_RE.search(lowered)


def _topic(lowered: str) -> str:
    owa = _OWA_RE.search(lowered)
    ews = _EWS_RE.search(lowered)
    freebusy = _FREEBUSY_RE.search(lowered)
    if owa and (not freebusy or (_OWA_TROUBLE_RE.search(lowered) and not re.search(
        r"scheduling assistant|free ?/ ?busy|freebusy|hash|slashes|availability", lowered
    ))):
        return "owa"
    if ews and (not freebusy or re.search(r"\bews\b|exchange web services|exchange\.asmx", lowered) and not re.search(
        r"scheduling assistant|free ?/ ?busy|hash|slashes", lowered
    )):
        return "ews"
    return "freebusy" if freebusy else ""


def _scope(lowered: str) -> str:
    if _SCOPE_PAIR.search(lowered):
        return "pair"
    if _SCOPE_SITE.search(lowered):
        return "site"
    if _SCOPE_ALL.search(lowered):
        return "all"
    return ""


def read_message(text: str, roster: Iterable[str] = ()) -> Reading:
    """What a message says about the problem; `roster` is the names the directory knows (optional)."""
    bounded = text[:MAX_READ]
    lowered = _normalised(bounded)
    mentions = _people(bounded, tuple(roster))
    people = _roles(bounded, lowered, _first_mentions(mentions))
    people = _merged(people, _attach(bounded, lowered, mentions))
    topic = _topic(lowered) or ("freebusy" if len(people) >= 2 and _VIEW.search(lowered) else "")
    return Reading(
        people=tuple(people),
        direction=_direction(lowered, people, topic),
        topic=topic,
        scope=_scope(lowered),
        correction=is_correction(bounded),
        sites=tuple(dict.fromkeys(name for name, _ in _sites_named(bounded))),
    )


def is_correction(text: str) -> bool:
    """ "no wait, typo: carol@…", "actually it's everyone", "I meant erin" """
    return bool(_CORRECTION.search(text[:MAX_READ].lower()))


def asks_explanation(text: str) -> bool:
    """ "what does that mean?", "idk", "how do I tell?", "?" """
    stripped = text[:200].strip().lower()
    return bool(stripped) and len(stripped) <= 80 and bool(_EXPLAIN.match(stripped))


_SYMPTOMS = {
    ("freebusy", "cloud_to_onprem"): "freebusy-cloud-to-onprem",
    ("freebusy", "onprem_to_cloud"): "freebusy-onprem-to-cloud",
    ("freebusy", "cross_forest"): "freebusy-cross-forest",
    ("freebusy", "cross_site"): "freebusy-cross-site",
}


def symptom_of(topic: str, direction: str) -> str | None:
    """The symptom id (knowledge/data/symptoms.yaml) a topic and a direction make, None when not one."""
    if topic == "owa":
        return "owa-ecp-cross-site-proxy"
    if topic == "ews" and direction in ("cross_site", ""):
        return "ews-cross-site-proxy"
    return _SYMPTOMS.get(("freebusy", direction)) if topic in ("freebusy", "ews", "") and direction else None
