"""Reading a helpdesk message in plain words: the people, the direction, the symptom, the scope, corrections.

"Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office" reads as two people
(Alice, the requester, in the cloud; Bjorn, the target, on-premises in Branch), the direction cloud →
on-premises and the symptom free/busy. The reader is pure (no directory, no clock): names are resolved to
mailboxes later (`dialogs.people`). Typos in the vocabulary ("calender", "exchnage onlne", "schedualing
assistant") are corrected with rapidfuzz before the patterns run; every text is cut to `MAX_READ` first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

__all__ = [
    "MAX_READ",
    "Person",
    "Reading",
    "asks_explanation",
    "describes_a_pair",
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
    "acquired", "meeting", "meetings", "tenant", "webmail", "redirect", "mailbox", "mailboxes", "branch",
    "cloud", "users", "free/busy", "freebusy", "details",
)  # fmt: skip
_KEEP = frozenset(
    re.findall(
        r"\S+",
        "since their there these those other about after again where which while would could should cannot "
        "users people staff showing shows shown seeing white slashes lines hashed hatched grey gray blank empty "
        "error errors every either within theirs",
    )
)


@cache
def _corrected(token: str) -> str:
    if len(token) < 5 or token in _KEEP or not token.isascii():
        return token
    # Damerau-Levenshtein: a swapped pair of letters ("usres") is one slip, as for a person typing.
    found = process.extractOne(
        token, _VOCABULARY, scorer=DamerauLevenshtein.distance, score_cutoff=_slips(token)
    )
    return str(found[0]) if found else token


def _slips(word: str) -> int:
    """How many typing slips a word of this length may carry and still be read as the word meant."""
    return 1 if len(word) < 8 else 2


_TOKEN = re.compile(r"[A-Za-z][A-Za-z/]*[A-Za-z]")


def _normalised(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text lower-cased with typos in the vocabulary corrected, and where each correction moved the text
    after it ((position in the text, shift)), to map positions found in the text into it."""
    lowered = text.lower()
    pieces: list[str] = []
    shifts: list[tuple[int, int]] = []
    last = 0
    for match in _TOKEN.finditer(lowered):
        before = lowered[match.start() - 1 : match.start()] if match.start() else ""
        after = lowered[match.end() : match.end() + 2]
        if before in ("@", ".") or after[:1] == "@" or (after[:1] == "." and after[1:].isalnum()):
            continue  # part of an address or a host name: not a word to correct
        fixed = _corrected(match.group())
        if fixed == match.group():
            continue
        pieces += [lowered[last : match.start()], fixed]
        last = match.end()
        shifts.append((match.end(), len(fixed) - len(match.group())))
    pieces.append(lowered[last:])
    return "".join(pieces), shifts


def _moved(position: int, shifts: list[tuple[int, int]]) -> int:
    return position + sum(shift for at, shift in shifts if at <= position)


# --- patterns ------------------------------------------------------------------------------------------------
# --- patterns ------------------------------------------------------------------------------------------------

_CLOUD = (
    r"exchange online|\bexo\b|o365|office ?365|\bm365\b|microsoft ?365|\bcloud\b|\bonline\b|\bmigrated\b|"
    r"\b365\b|\bonmicrosoft\b|\bteams\b"
)
_ONPREM = (
    r"on[- ]?prem(?:ise|ises)?\b|onpremises|\blocal(?: exchange| server| mailbox(?:es)?)?\b|not (?:yet )?migrated|"
    r"non[- ]?migrated|(?:our |the )?exchange (?:20(?:10|13|16|19)|se|server)\b|\bex20\d\d\b|\bex0\d\b|"
    r"still on (?:exchange|our servers|prem)|in[- ]house"
)
_FOREST = (
    r"\bforests?\b|cross[- ]forest|cross[- ](?:org\w*|tenant)|other (?:organi[sz]ation|org|tenant|company|domain)|"
    r"another (?:organi[sz]ation|org|tenant|company|domain)|different (?:organi[sz]ation|org|tenant|compan(?:y|ies)|domain)|"
    r"\bpartner|acquired|acquisition|sister compan|subsidiar|external (?:organi[sz]ation|compan|user|domain)|"
    r"two (?:organi[sz]ations|tenants|companies|orgs)|our two tenants|availability address space|federated sharing|"
    r"merger|\bfabrikam\b.*\bcontoso\b|\bcontoso\b.*\bfabrikam\b|orgwidefb"
)
_SITE_WORDS = (
    r"\b(?:ad )?site\d*s?\b|\bbranch\b|\bhq\b|headquarters|data ?cent(?:er|re)s?|other (?:office|location)|"
    r"\boffices?\b|\bregion(?:al)?\b|non[- ]internet[- ]facing|\bdr\b"
)
_OWA = (
    r"\bowa\b|outlook on the web|outlook web (?:app|access)|\bwebmail\b|\becp\b|\beac\b|admin cent(?:er|re)|"
    r"control panel|event (?:id )?42\b|/owa\b"
)
_OWA_FINE = re.compile(r"(?:\bowa\b|webmail|outlook on the web) (?:works|is fine|is ok|works fine)")
_EWS = (
    r"\bews\b|exchange web services|outlook for mac|mac outlook|mac mail|\bmacs?\b|macbook|\bmobile\b|\bapps?\b|"
    r"room (?:booking|finder)|booking app|third[- ]party|/ews/|exchange\.asmx"
)
_FREEBUSY_STRONG = (
    r"free ?/ ?busy|freebusy|free[- ]busy|fre/busy|\bf/b\b|free and busy|availability|available|scheduling assistant|"
    r"hash(?:ed)? marks|hash lines|slashes|striped|stripes|hatch(?:ed|ing)|diagonal lines|no information|no info|"
    r"could not be retrieved|\bbusy\b|time slots?|could not be updated"
)
_FREEBUSY = (
    _FREEBUSY_STRONG
    + r"|calendars?|scheduling|schedule|grey(?:ed)? out|gray(?:ed)? out|meetings?|appointments?|"
    r"room (?:mailbox|calendar)|invite|attendees?|teams meeting"
)
_CLOUD_RE = re.compile(_CLOUD)
_ONPREM_RE = re.compile(_ONPREM)
_FOREST_RE = re.compile(_FOREST)
_SITE_RE = re.compile(_SITE_WORDS)
_OWA_RE = re.compile(_OWA)
_EWS_RE = re.compile(_EWS)
_FREEBUSY_RE = re.compile(_FREEBUSY)
_FREEBUSY_STRONG_RE = re.compile(_FREEBUSY_STRONG)

# The verb that separates who cannot see (before it) from whose free/busy (after it).
_VIEW = re.compile(
    r"(?:can'?t|can ?not|cannot|could ?n[o']t|couldn'?t|unable to|not able to|doesn'?t|don'?t|does not|do not|"
    r"won'?t|never|no longer|fail(?:s|ed|ing)? to)\s+(?:\w+\s+){0,2}?"
    r"(?:see|view|get|look ?up|pull|show|load|access|open|retrieve|check|display|find|reach|book|schedule|lookup|"
    r"connect|log ?in|sign ?in|sync)\b"
    r"|(?:is|are|was|were) not (?:seeing|getting)|not seeing|not getting|\bbut not\b|"
    r"\b(?:sees?|seeing|gets?|getting) (?:hash|slashes|hatched|stripes|no information|no info|nothing|blank|only|no )|"
    r"\b(?:checks?|checking|looking at|looks at|opening|opens|adds?|adding|to schedule|schedul(?:e|ing) a meeting with)\b"
)
# A person right before one of these is whose free/busy cannot be seen ("bjorn shows no availability").
_TARGET_AFTER = re.compile(
    r"^(?:['’]s)?\s*(?:\([^)]{0,30}\)\s*)?(?:shows?|appears?|is (?:blank|empty|hatched|greyed|grayed)|has no|"
    r"(?:'s|’s)? (?:free ?/ ?busy|calendar|availability) (?:is|shows|isn'?t|is not))"
)
_TARGET_BEFORE = re.compile(
    r"(?:\bfor|\bof|\bopening|\bopen|\badd|\binto|\bwith)\s+(?:the |our |an? |all )?$"
)
_REQUESTER_BEFORE = re.compile(r"(?:\bwhen|\bwhile|\bif)\s+$")
_PASSIVE = re.compile(
    r"\b(?:isn'?t|is not|aren'?t|are not|not|never)\s+(?:\w+\s+)?(?:visible|showing|shown|seen|available|loading)\b"
    r"[^.]{0,40}?\b(?:to|for|from|by)\s*$|\bhidden from\s*$|\bnot visible to\s*$"
)
_FROM_TO = re.compile(
    r"\b(?:from )?(?P<a>"
    + _CLOUD
    + r"|"
    + _ONPREM
    + r")(?: \w+)?\s+(?:to|->|→|towards)\s+(?:the )?(?P<b>"
    + _CLOUD
    + r"|"
    + _ONPREM
    + r")"
)

_PLURAL = (
    r"users|staff|mailboxes|people|employees|calendars|accounts|attendees|admins|colleagues|everyone|everybody|"
    r"someone|anyone|rooms"
)
_SCOPE_PAIR = re.compile(
    r"\bonly (?:this |that |the |one )?(?:pair|couple|two|her|him|me|them|these two|those two|this user|"
    r"that user|one user|one person|one mailbox|for (?:her|him|me|them|this|that)|between)\b|"
    r"\bjust (?:her|him|me|them|this|that|these|those|one|the two|between|for)\b|\bone user\b|\bsingle user\b|"
    r"\bone (?:person|mailbox|specific|pair)\b|\bspecific users?\b|\bonly (?:affects|happens|for) (?:this|that|one|her|him)|"
    r"\b(?:everyone|everybody|all) else (?:is fine|works|can)|\bothers? (?:are|is) fine|\bother (?:people|users) (?:are|is) fine|"
    r"\bonly \w+ is affected|\bonly \w+ (?:can'?t|cannot|has)|\bworks? for (?:everyone|everybody|all) (?:else|but)|"
    r"\bonly this pair\b|\bjust (?:the )?(?:two|2) of them\b|\bboth (?:mailboxes|users)\b|\bthe two (?:users|mailboxes)\b|"
    r"\bonly (?:carol|alice|bjorn|erin|dave|frank)\b"
)
_SCOPE_SITE = re.compile(
    r"\b(?:" + _PLURAL + r")\b[^.,;]{0,30}?\b(?:in|at|from|of|on|homed (?:on|in)) (?:the |our |that )?"
    r"(?:[a-z0-9-]+ )?(?:[a-z0-9-]+ )?(?:site\d*|office|branch|datacent(?:er|re)|location|servers)\b|"
    r"\b(?:" + _PLURAL + r") (?:in|at|from) (?:the )?(?:branch|hq|site\d+|dr)\b|"
    r"\bone (?:ad )?site\b|\bthat site\b|\b(?:branch|site) users\b|\bonly (?:in )?(?:one|the|that) (?:site|office)\b|"
    r"\b(?:all |every(?:one|body) |users )(?:in|at|from) (?!the\b|our\b|an?\b|other\b|their\b)[a-z0-9-]+\b(?! (?:and|to|the))"
)
_SCOPE_ALL = re.compile(
    r"\bevery(?:one|body)\b|\ball (?:of )?(?:our |the |my )?(?:\w+ )?(?:" + _PLURAL + r")\b|\bnobody\b|"
    r"\bno ?one\b|\bany(?:one|body)\b|\bcompany[- ]wide\b|\borg(?:anisation|anization)?[- ]wide\b|"
    r"\bwhole (?:company|org\w*)\b|\bentire (?:company|org\w*)\b|\ball directions\b|\bany users?\b|"
    r"\b(?:" + _PLURAL + r")\b|\bfor (?:anyone|all)\b"
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
_NAME = re.compile(r"(?<![\w/@.-])[A-ZÀ-ÞØ][a-zà-ÿøæå'’]{1,30}(?:\s+[A-ZÀ-ÞØ][a-zà-ÿøæå'’]{1,30})?(?![\w-])")
_POSSESSIVE = re.compile(r"['’]s?$")
_PRONOUN = re.compile(r"\b(?:he|she)(?:'s| is| was)|\b(?:his|her) (?:mailbox|account) (?:is|was|lives)")
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
    new old other another same different external internal it's that's there's what's
    looks seems appears tried trying test testing works working worked fine ok okay sorry wait actually
    typo correction oops meant mean idk dunno sure hm hmm please note ps fyi asap cu su rollup requester
    target mac mail calendar guest guests ms msexchange hcw dr federation orgwidefb macbook
    """.replace("\n", " ").split(" ")
) - {""}


def _sites_named(text: str) -> list[tuple[str, int]]:
    """Capitalised words before office/site/datacentre ("the Branch office", "London site")."""
    found = []
    for match in re.finditer(
        r"\b([A-Z][A-Za-z0-9-]{1,30})\s+(?:office|site|ad site|datacent(?:er|re)|data cent(?:er|re)|location)\b",
        text,
    ):
        word = match.group(1)
        if word.lower() not in {
            "the",
            "our",
            "other",
            "that",
            "this",
            "one",
            "main",
            "ad",
            "same",
            "another",
        }:
            found.append((word, match.start()))
    for match in re.finditer(r"\b(HQ|Branch|Site\d+)\b", text):
        if all(start != match.start() for _, start in found):
            found.append((match.group(1), match.start()))
    return found


def _people(text: str, roster: tuple[str, ...]) -> list[Person]:
    """Every mention of an address or a name, in the order written; a name is a capitalised word that is not
    vocabulary, or any word close to one in the roster (the directory's first names, aliases, display names)."""
    found: list[Person] = []
    taken: list[tuple[int, int]] = []
    for match in _ADDRESS.finditer(text):
        raw = match.group().strip(".'-")
        if raw.startswith("@"):
            continue
        found.append(Person(raw.rstrip("."), "address", at=match.start()))
        taken.append(match.span())
    site_words = {s.casefold() for s, _ in _sites_named(text)}

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for match in _NAME.finditer(text):
        start, end = match.span()
        if not free(start, end):
            continue
        words = [_POSSESSIVE.sub("", w) for w in match.group().split()]
        kept = [w for w in words if w.casefold() not in _NOT_NAMES and w.casefold() not in site_words]
        if not kept:
            continue
        if len(kept) < len(words) and words[0].casefold() in _NOT_NAMES:
            start += len(match.group()) - len(" ".join(match.group().split()[1:]))
        known = _known(roster)
        name = " ".join(kept)
        if len(kept) == 1 and known and not _on_roster(name, known, 100) and _on_roster(name, known):
            name = _on_roster(name, known) or name  # "Bjorns calendar": Bjorn, as the roster has him
        found.append(Person(name, "name", at=start))
        taken.append((start, end))
    known = _known(roster)
    if known:
        for match in re.finditer(r"(?<![\w@.])[a-zà-ÿøæå][a-zà-ÿøæå'’]{2,30}\b(?![@.]\w)", text):
            start, end = match.span()
            word = _POSSESSIVE.sub("", match.group())
            if not free(start, end) or word in _NOT_NAMES:
                continue
            name = _on_roster(word, known)
            if name:
                found.append(Person(name, "name", at=start))
                taken.append((start, end))
    return sorted(found, key=lambda p: p.at)


def _on_roster(word: str, known: tuple[str, ...], cutoff: int = 80) -> str:
    """`word` as written when it is (close to) a name on the roster; a plural-looking "Bjorns" as "Bjorn"."""
    candidates = [word, word[:-1]] if word.endswith("s") and len(word) > 4 else [word]
    for candidate in candidates:
        folded = _folded(candidate.casefold())
        slips = 0 if cutoff >= 100 else _slips(folded) if len(folded) >= 4 else 0
        if (
            process.extractOne(folded, known, scorer=DamerauLevenshtein.distance, score_cutoff=slips)
            is not None
        ):
            return candidate
    return ""


@cache
def _known(roster: tuple[str, ...]) -> tuple[str, ...]:
    words = set()
    for name in roster:
        word = _folded(re.split(r"[\s.@]+", name.casefold().strip())[0])
        if len(word) >= 3 and word not in _NOT_NAMES:
            words.add(word)
    return tuple(sorted(words))


def _folded(word: str) -> str:
    """A name without its accents ("Bjørn" and "Bjorn" are one name to whoever types them)."""
    plain = unicodedata.normalize("NFKD", word.translate(_LETTERS))
    return "".join(c for c in plain if not unicodedata.combining(c))


_LETTERS = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d", "ł": "l"})


def _key(person: Person) -> str:
    """One person however often named: an address by its local part, a name by its first word."""
    first = person.text.casefold().split("@")[0].split()[0] if person.text.strip() else ""
    return _folded(first)


def _side_at(lowered: str, start: int, end: int) -> Side:
    """The side a stretch of text names (cloud, on-premises), "" when none or both."""
    window = lowered[start:end]
    onprem = _ONPREM_RE.search(window)
    if onprem:
        rest = window[: onprem.start()] + " " * len(onprem.group()) + window[onprem.end() :]
        return "" if _CLOUD_RE.search(rest) else "onprem"
    if _CLOUD_RE.search(window):
        return "cloud"
    if _SITE_RE.search(window) and not _FOREST_RE.search(window):
        return "onprem"
    return ""


def _sides(
    text: str, lowered: str, mentions: list[Person], shifts: list[tuple[int, int]]
) -> dict[str, tuple[Side, str]]:
    """Each person's side and site from the words right after (or right before) any of their mentions."""
    out: dict[str, tuple[Side, str]] = {}
    sites = [(name, _moved(at, shifts)) for name, at in _sites_named(text)]
    ends = [m.at + len(m.text) for m in mentions]

    def note(key: str, side: Side, site: str) -> None:
        had_side, had_site = out.get(key, ("", ""))
        out[key] = (had_side or side, had_site or site)

    for index, person in enumerate(mentions):
        end = ends[index]
        next_at = mentions[index + 1].at if index + 1 < len(mentions) else len(lowered)
        after = lowered[end : min(next_at, end + 60)]
        clause = re.split(
            r"[,;.]| but | and (?!the)| can'?t | cannot | can not | doesn'?t ", after, maxsplit=1
        )[0]
        side = ""
        if re.match(
            r"^(?:['’]s)?\s*(?:\(|is |are |in |on |at |who is |who'?s |from |to |\- |– |—|was |has been |"
            r"(?:'s|’s)? ?mailbox is )",
            clause,
        ):
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
        note(_key(person), side, site)
    # "..., he is on our Exchange 2019": the pronoun's clause belongs to the person named last before it.
    for match in _PRONOUN.finditer(lowered):
        named = [m for m in mentions if m.at < match.start()]
        if not named:
            continue
        clause = re.split(r"[,;.]| but | and ", lowered[match.end() : match.end() + 50], maxsplit=1)[0]
        side = _side_at(clause, 0, len(clause))
        site = next((n for n, at in sites if match.end() <= at <= match.end() + len(clause) + 1), "")
        note(_key(named[-1]), side or ("onprem" if site else ""), site)
    return out


def _roles(text: str, lowered: str, mentions: list[Person]) -> dict[str, str]:
    """Who cannot see (requester) and whose free/busy cannot be seen (target), by person."""
    names = list(dict.fromkeys(_key(m) for m in mentions))
    roles: dict[str, str] = {}
    for mention in mentions:
        end = mention.at + len(mention.text)
        if _TARGET_AFTER.match(lowered[end : end + 60]) or _TARGET_BEFORE.search(
            lowered[max(0, mention.at - 16) : mention.at]
        ):
            roles.setdefault(_key(mention), "target")
        elif _REQUESTER_BEFORE.search(lowered[max(0, mention.at - 8) : mention.at]):
            roles.setdefault(_key(mention), "requester")
    if len(names) >= 2 and not roles:
        first, second = mentions[0], next(m for m in mentions if _key(m) != _key(mentions[0]))
        between = lowered[first.at + len(first.text) : second.at]
        if _PASSIVE.search(between) or re.match(
            r"^['’]s?\s*(?:free ?/ ?busy|calendar|availability|schedule|f/b)",
            lowered[first.at + len(first.text) :],
        ):
            roles = {_key(first): "target", _key(second): "requester"}
    if not {"requester", "target"} <= set(roles.values()):
        view = _VIEW.search(lowered)
        if view:
            before = [m for m in mentions if m.at < view.start() and roles.get(_key(m)) != "target"]
            after = [m for m in mentions if m.at >= view.end() and roles.get(_key(m)) != "requester"]
            if before and "requester" not in roles.values():
                roles.setdefault(_key(before[-1]), "requester")
            if after and "target" not in roles.values():
                for mention in after:
                    if _key(mention) not in roles:
                        roles[_key(mention)] = "target"
                        break
    unassigned = [n for n in names if n not in roles]
    for role in ("requester", "target"):
        if role not in roles.values() and unassigned and len(names) >= 2:
            roles[unassigned.pop(0)] = role
    return roles


_BOTH = re.compile(
    r"\b(?:both|they(?:'re| are)?(?: both)?|each)\b[^.]{0,20}?\b(on[- ]?prem\w*|local|cloud|online|exo)\b"
)


def _split_sides(lowered: str) -> tuple[Side, Side]:
    """The requester's and the target's side from the sentence's words alone (no people needed)."""
    for from_to in _FROM_TO.finditer(lowered):
        a, b = (_side_at(from_to.group(n), 0, len(from_to.group(n))) for n in ("a", "b"))
        if a and b and a != b and from_to.group("a") != "migrated":
            return a, b
    requester: Side = ""
    target: Side = ""
    if re.search(r"\b(?:we are|we're|i am|i'm|we sit) (?:in|on) (?:the )?(?:" + _CLOUD + ")", lowered):
        requester = "cloud"
    for match in re.finditer(
        r"(?:\bfor|\bof|\bopening|\bopen|\binto|\bwith|\bat|\bcheck(?:s|ing)?)\s+(?:an? |the |our |all |all the )?"
        r"(?:everyone |everybody |users |people |mailboxes )?(?:on |in )?(" + _CLOUD + "|" + _ONPREM + r")",
        lowered,
    ):
        target = target or _side_at(match.group(1), 0, len(match.group(1)))
    view = _VIEW.search(lowered)
    if view:
        clause = re.split(r"[,;]| and | but ", lowered[: view.start()])[-1]
        requester = requester or _side_at(clause, 0, len(clause))
        target = target or _side_at(lowered, view.end(), len(lowered))
    elif not requester and not target:
        first = min(
            (m for m in (_CLOUD_RE.search(lowered), _ONPREM_RE.search(lowered)) if m),
            key=lambda m: m.start(),
            default=None,
        )
        if first is not None and re.match(
            r"[\w -]{0,12}(?:users?|people|staff|mailbox(?:es)?)\b", lowered[first.end() : first.end() + 16]
        ):
            requester = _side_at(first.group(), 0, len(first.group()))
    if requester and requester == target:
        target = ""
    return requester, target


def _direction(lowered: str, people: list[Person], topic: str) -> str:
    if _FOREST_RE.search(lowered):
        return "cross_forest"
    if re.search(r"\beach other\b|\bboth ways\b|\bin both directions\b", lowered):
        return ""  # "cloud and on-prem users can't see each other": both directions, none to choose
    both = _BOTH.search(lowered)
    if both and not people and not _VIEW.search(lowered):
        return "cross_site" if _ONPREM_RE.search(both.group(1)) else ""
    requester = next((p for p in people if p.role == "requester"), None)
    target = next((p for p in people if p.role == "target"), None)
    requester_side = requester.side if requester else ""
    target_side = target.side if target else ""
    said_requester, said_target = _split_sides(lowered)
    requester_side = requester_side or said_requester
    target_side = target_side or (said_target if said_target != requester_side else "")
    if re.search(r"\bteams\b", lowered) and "onprem" in (requester_side, target_side):
        return "cloud_to_onprem"
    if requester_side == "onprem" and target_side == "onprem":
        return "cross_site"
    pair = {("cloud", "onprem"): "cloud_to_onprem", ("onprem", "cloud"): "onprem_to_cloud"}
    if (requester_side, target_side) in pair:
        return pair[(requester_side, target_side)]
    both_sides = _CLOUD_RE.search(lowered) and _ONPREM_RE.search(lowered)
    if (
        both_sides
        and not (requester_side and target_side)
        and not (requester or target)
        and not (said_requester or said_target)
    ):
        return ""
    if requester_side == "cloud" and not target_side:
        return "cloud_to_onprem"
    if requester_side == "onprem" and not target_side:
        return "cross_site" if topic in ("owa", "ews") or _site_only(lowered) else "onprem_to_cloud"
    if target_side == "onprem" and not requester_side:
        return "cross_site" if _site_only(lowered) and not _ONPREM_RE.search(lowered) else "cloud_to_onprem"
    if target_side == "cloud" and not requester_side:
        return "onprem_to_cloud"
    if not (topic or _VIEW.search(lowered)):
        return ""
    if _site_only(lowered):
        return "cross_site"
    return ""


def _site_only(lowered: str) -> bool:
    return bool(_SITE_RE.search(lowered)) and not _CLOUD_RE.search(lowered)


def _topic(lowered: str) -> str:
    strong = _FREEBUSY_STRONG_RE.search(lowered)
    fine = _OWA_FINE.search(lowered)
    if _OWA_RE.search(lowered) and not strong and not (fine and " but " not in lowered[fine.end() :]):
        return "owa"
    if _EWS_RE.search(lowered) and not strong:
        return "ews"
    return "freebusy" if _FREEBUSY_RE.search(lowered) else ""


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
    lowered, shifts = _normalised(bounded)
    mentions = [
        Person(m.text, m.kind, m.role, m.side, m.site, _moved(m.at, shifts))
        for m in _people(bounded, tuple(roster))
    ]
    roles = _roles(bounded, lowered, mentions)
    sides = _sides(bounded, lowered, mentions, shifts)
    people: list[Person] = []
    for mention in mentions:
        key = _key(mention)
        if any(_key(p) == key for p in people):
            continue
        side, site = sides.get(key, ("", ""))
        people.append(Person(mention.text, mention.kind, roles.get(key, ""), side, site, mention.at))
    topic = _topic(lowered) or ("freebusy" if len(people) >= 2 and _VIEW.search(lowered) else "")
    return Reading(
        people=tuple(people),
        direction=_direction(lowered, people, topic),
        topic=topic,
        scope=_scope(lowered),
        correction=is_correction(bounded),
        sites=tuple(dict.fromkeys(name for name, _ in _sites_named(bounded))),
    )


def describes_a_pair(text: str) -> bool:
    """Whether a line says who cannot see whom ("carol can't see erin:"), as a sentence above a paste does."""
    lowered, _ = _normalised(text[:MAX_READ])
    return bool(_VIEW.search(lowered))


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
