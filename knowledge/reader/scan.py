"""Fast regex scanning over a large paste: find an anchor literal first, then match only near it.

A compiled Python regex that does not start with a case-sensitive literal costs tens of milliseconds
per mebibyte, whether it matches or not, and the reader runs dozens of them. So each pattern is
analysed once: which literals every match must contain (its anchors) and how far before an anchor a
match can start. `str.find` locates the anchors (fast, in C) and the pattern is tried only at the few
positions before each one. Matches are the same as `pattern.finditer`'s; a pattern with no usable
anchor falls back to `finditer`.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any

__all__ = ["MAX_OCCURRENCES", "Paste", "Plan", "plan", "scan", "search", "starts_line"]

# The standard library's regex parser (re._parser since 3.11): it has no stubs, so it is typed Any.
sre_parse: Any = import_module("re._parser")
sre: Any = import_module("re._constants")

# Beyond this many characters before its anchor, a match is searched for the slow way.
_MAX_PRE = 400
# How many anchor occurrences a scan examines before it stops: bounds the cost of a paste that
# repeats an anchor word without ever matching.
MAX_OCCURRENCES = 2000
_UNBOUNDED = 1 << 20


@dataclass(frozen=True)
class Plan:
    """How to scan for one pattern: anchor literals, the furthest a match starts before one."""

    anchors: tuple[str, ...]
    pre: int
    folded: bool


class Paste:
    """A normalised paste and its lower-cased twin (same length, for case-insensitive anchors)."""

    def __init__(self, text: str) -> None:
        self.text = text
        if text.isascii():
            low = text.lower()
        else:
            # Characters that IGNORECASE matches with ASCII letters become those letters (İ, ı, ſ; the
            # Kelvin sign lower-cases to k), so a lower-case ASCII anchor finds every match.
            low = text.replace("\u0130", "i").lower().replace("\u0131", "i").replace("\u017f", "s")
        self._folded_words = low
        # Positions in `low` must be positions in `text`; if lower-casing changed the length, a
        # case-insensitive pattern is scanned the plain way.
        self.low: str | None = low if len(low) == len(text) else None
        self._index: _WordIndex | None = None
        self._padded: list[int] | None = None

    def hay(self, folded: bool) -> str | None:
        """The text anchors are looked for in: lower-cased for a case-insensitive pattern."""
        return self.low if folded else self.text

    def padded_lines(self) -> list[int]:
        """Where the lines holding " :" start: Format-List output pads each name before its colon."""
        if self._padded is None:
            text = self.text
            starts: list[int] = []
            at = text.find(" :")
            while at >= 0 and len(starts) < MAX_OCCURRENCES:
                starts.append(text.rfind("\n", 0, at) + 1)
                end = text.find("\n", at)
                at = text.find(" :", end) if end >= 0 else -1
            self._padded = starts
        return self._padded

    def has_word(self, word: str) -> bool:
        """Whether `word` (letters, digits and _) is one of the paste's words, ignoring case."""
        if self._index is None:
            self._index = _WordIndex(self._folded_words)
        return word.lower().encode("utf-8") in self._index.words

    def lacks(self, literal: str) -> bool:
        """Whether `literal` surely does not occur in the paste, decided from its distinct words.

        A literal's inner words (with a separator on each side) must be words of the paste; a literal
        of one or two words must lie within words of the paste. Checking that against the distinct
        words is much cheaper than a search through a paste that repeats one event a hundred times.
        False means "maybe": the search decides.
        """
        if self._index is None:
            self._index = _WordIndex(self._folded_words)
        runs = _words(literal.lower())
        if not runs:
            return False
        if len(runs) > 2:
            return any(run not in self._index.words for run in runs[1:-1])
        return not all(self._index.within_a_word(run) for run in runs)


class _WordIndex:
    """The distinct words of a paste: runs of letters, digits, _ and non-ASCII characters."""

    _LONG = 64

    def __init__(self, low: str) -> None:
        self.words = frozenset(_words(low))
        self._short = b" ".join(w for w in self.words if len(w) <= self._LONG)
        self._long = [w for w in self.words if len(w) > self._LONG]

    def within_a_word(self, run: bytes) -> bool:
        if run in self.words or run in self._short:
            return True
        # A long word (a blob, or a pathological paste) is not searched here: the search that follows
        # would read it again. It only rules `run` out when it lacks one of its bytes.
        distinct = [bytes((b,)) for b in set(run)]
        return any(all(b in word for b in distinct) for word in self._long)


# Every byte that cannot be part of a word becomes a space, so bytes.split() yields the words.
_SEPARATORS = bytes(
    b if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b == 95 or b >= 128) else 32 for b in range(256)
)


def _words(text: str) -> list[bytes]:
    return text.encode("utf-8", "surrogatepass").translate(_SEPARATORS).split()


def _item_width(state: Any, item: tuple[Any, Any]) -> int:
    high = int(sre_parse.SubPattern(state, [item]).getwidth()[1])
    return high if high < _UNBOUNDED else _UNBOUNDED


Anchors = list[tuple[str, int]]


def _best(candidates: list[Anchors]) -> Anchors | None:
    """The candidate with selective literals (long enough) that sit nearest the start of a match."""
    usable = [c for c in candidates if c and max(pre for _, pre in c) <= _MAX_PRE]
    if not usable:
        return None
    # A longer literal occurs less often; each occurrence costs a match attempt per character of `pre`.
    return max(usable, key=lambda c: min(min(len(lit) for lit, _ in c), 12) - max(p for _, p in c) / 8)


def _anchors_of(state: Any, items: list[tuple[Any, Any]]) -> Anchors | None:
    """Literals one of which every match of the sequence `items` contains, each with its max offset."""
    candidates: list[Anchors] = []
    offset = 0
    run: list[str] = []
    run_start = 0
    for op, av in [*items, (None, None)]:
        if op is sre.LITERAL:
            if not run:
                run_start = offset
            run.append(chr(av))
            offset += 1
            continue
        if run:
            candidates.append([("".join(run), run_start)])
            run = []
        if op is None:
            break
        inner = _inner_anchors(state, op, av)
        if inner is not None:
            candidates.append([(lit, offset + pre) for lit, pre in inner])
        offset = min(offset + _item_width(state, (op, av)), _UNBOUNDED)
    return _best(candidates)


def _inner_anchors(state: Any, op: Any, av: Any) -> Anchors | None:
    if op is sre.SUBPATTERN:
        return _anchors_of(state, list(av[-1]))
    if op is sre.BRANCH:
        found: Anchors = []
        for branch in av[1]:
            anchors = _anchors_of(state, list(branch))
            if anchors is None:
                return None
            found.extend(anchors)
        return found
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
        body = list(av[2])
        if len(body) == 1 and body[0][0] is sre.LITERAL:
            return [(chr(body[0][1]) * min(av[0], 8), 0)]
        return _anchors_of(state, body)
    if op is sre.ATOMIC_GROUP:
        return _anchors_of(state, list(av))
    return None


def _folds(items: Any) -> bool:
    """Whether any part of the pattern turns IGNORECASE on."""
    for op, av in items:
        if op is sre.SUBPATTERN and (av[1] & re.IGNORECASE or _folds(av[-1])):
            return True
        if op is sre.BRANCH and any(_folds(b) for b in av[1]):
            return True
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and _folds(av[2]):
            return True
    return False


@cache
def plan(pattern: re.Pattern[str]) -> Plan | None:
    """The scan plan for `pattern`, or None when it has no anchor worth using."""
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
        anchors = _anchors_of(parsed.state, list(parsed))
        folded = bool(pattern.flags & re.IGNORECASE) or _folds(parsed)
    except Exception:  # the parser's internals are not an API: any surprise means the plain scan
        return None
    if not anchors:
        return None
    literals = tuple(dict.fromkeys(lit.lower() if folded else lit for lit, _ in anchors))
    pre = max(p for _, p in anchors)
    shortest = min(len(lit) for lit in literals)
    # Case-insensitive non-ASCII letters have equivalents lower() does not map (µ and μ): plain scan.
    if pre > _MAX_PRE or shortest < 2 or (folded and not all(lit.isascii() for lit in literals)):
        return None
    return Plan(anchors=literals, pre=pre, folded=folded)


def _anchored(pattern: re.Pattern[str], paste: Paste, how: Plan) -> Iterator[re.Match[str]]:
    hay = paste.hay(how.folded)
    if hay is None:
        return pattern.finditer(paste.text)
    anchors = [lit for lit in how.anchors if not paste.lacks(lit)]
    if len(anchors) == 1:
        return _one_anchor(pattern, paste.text, hay, anchors[0], how.pre)
    return _many_anchors(pattern, paste.text, hay, anchors, how.pre)


def _one_anchor(pattern: re.Pattern[str], text: str, hay: str, lit: str, pre: int) -> Iterator[re.Match[str]]:
    match = pattern.match
    cursor = 0
    pos = hay.find(lit)
    for _ in range(MAX_OCCURRENCES):
        if pos < 0:
            return
        found = None
        for start in range(max(cursor, pos - pre), pos + 1):
            found = match(text, start)
            if found is not None:
                break
        if found is not None:
            yield found
            cursor = found.end() if found.end() > found.start() else found.end() + 1
        pos = hay.find(lit, max(pos + 1, cursor))


def _many_anchors(
    pattern: re.Pattern[str], text: str, hay: str, anchors: list[str], pre: int
) -> Iterator[re.Match[str]]:
    match = pattern.match
    # (position, literal) of each anchor's next occurrence, nearest first.
    queue = [(at, lit) for lit in anchors if (at := hay.find(lit)) >= 0]
    heapq.heapify(queue)
    cursor = 0
    for _ in range(MAX_OCCURRENCES):
        if not queue:
            return
        pos = queue[0][0]
        found = None
        for start in range(max(cursor, pos - pre), pos + 1):
            found = match(text, start)
            if found is not None:
                break
        if found is not None:
            yield found
            cursor = found.end() if found.end() > found.start() else found.end() + 1
        resume = max(pos + 1, cursor)
        while queue and queue[0][0] < resume:
            _, lit = heapq.heappop(queue)
            at = hay.find(lit, resume)
            if at >= 0:
                heapq.heappush(queue, (at, lit))


def scan(pattern: re.Pattern[str], paste: Paste, limit: int = 400) -> Iterator[re.Match[str]]:
    """The first `limit` matches of `pattern` in the paste, as `pattern.finditer` finds them."""
    how = plan(pattern)
    found = _anchored(pattern, paste, how) if how else pattern.finditer(paste.text)
    return itertools.islice(found, limit)


def search(pattern: re.Pattern[str], paste: Paste) -> re.Match[str] | None:
    """The first match of `pattern` in the paste, or None."""
    return next(scan(pattern, paste, 1), None)


def starts_line(text: str, pos: int, indent: int = 8) -> bool:
    """Whether only up to `indent` spaces or tabs stand between the start of the line and `pos`."""
    start = text.rfind("\n", max(0, pos - indent - 1), pos) + 1
    if start == 0 and pos > indent:
        return False
    return text[start:pos].strip(" \t") == ""
