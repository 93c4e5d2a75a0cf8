"""PowerShell's Format-List and Format-Table output, read back into objects.

Format-List prints one `Name : value` line per property, the names padded to one colon column per
object, objects separated by blank lines; a long value wraps onto lines indented to the value column
(at a word boundary in Western cultures, mid-word otherwise) and a multi-valued property prints as
`{a, b, c}`, cut to `$FormatEnumerationLimit` items with `...`. Format-Table prints a header, a line of
dashes under each column and one row per line, cutting a value that does not fit with `...` (or `…`).
Columns and wrapping count display cells: an East Asian wide character takes two.

Values come back typed: True/False as booleans, `{..}` as lists, small integers as ints, dates (en-US,
day-first, dotted and ISO forms) as ISO 8601 text in UTC (the paste does not say its time zone), empty
as None.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from knowledge.jsonvalue import JsonValue, json_list

__all__ = ["Block", "cells", "iso_date", "parse_blocks", "typed_value"]

MAX_VALUE_CHARS = 4000
# Format-List pads every name and prints " : " after it, so a property line has a space before its colon
# (a sentence in a wrapped message, "Caller SIDs: x", does not).
_START = re.compile(r"([A-Za-z_][A-Za-z0-9_.]{0,80}(?: [A-Za-z0-9_.]{1,40}){0,4}) +:(?: (.*))?")
_UNDERLINE = re.compile(r" *-+(?: +-+)* *")
_DASHES = re.compile(r"-+")
_CUT = ("...", "…")
# A word that is a URL, path, distinguished name, address or dotted identifier, not prose.
_TECHNICAL = re.compile(r"[/\\:=@_\d]|\.[^.\s]")
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,9})")
_SLASHED = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AaPp])\.? ?[Mm]\.?)?"
)
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


@dataclass
class Block:
    """One object as printed: its property texts, and the names whose value was cut off."""

    values: dict[str, str] = field(default_factory=dict)
    truncated: set[str] = field(default_factory=set)


@lru_cache(maxsize=4096)
def _char_cells(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cells(text: str) -> int:
    """How many console cells `text` takes."""
    return len(text) if text.isascii() else sum(_char_cells(c) for c in text)


def _cell_slice(line: str, start: int, end: int | None) -> str:
    """The characters of `line` whose first cell lies in [start, end)."""
    if line.isascii():
        return line[start:end]
    out, at = [], 0
    for char in line:
        if at >= start and (end is None or at < end):
            out.append(char)
        at += _char_cells(char)
    return "".join(out)


def _is_blank(line: str) -> bool:
    return not line.strip()


def _property_start(line: str) -> tuple[str, str, int] | None:
    """(name, first value line, colon column in cells) when `line` opens a Format-List property."""
    if not line or line[0] in " \t":
        return None
    match = _START.fullmatch(line.rstrip())
    if match is None:
        return None  # (WARNING:, VERBOSE: and prose have no space before their colon)
    colon = line.index(":", match.end(1))
    return match[1], match[2] or "", cells(line[:colon])


def _joined(pieces: list[tuple[str, int]], width: int, field: int) -> str:
    """A wrapped value's lines joined back: word wraps spaced, long words glued, line breaks kept.

    Each piece is (text, cells of the whole printed line); `field` is the cells a value line holds. The
    console width is not in the paste: the widest line stands for it, which can only under-estimate it.
    A line that reaches it was cut inside a word too long for a line (a distinguished name, a registry
    path) when the words on either side make such a word; otherwise it was word-wrapped.
    """
    text = pieces[0][0]
    for (piece, _), (_, previous) in zip(pieces[1:], pieces[:-1], strict=True):
        last_word = text.rsplit(" ", 1)[-1].rsplit("\n", 1)[-1]
        first_word = piece.split(" ", 1)[0]
        if not piece or not text:
            text += "\n" if text else piece  # a blank line inside the value: a line break of its own
        elif text.endswith("\n"):
            text += "\n" + piece
        elif text.endswith(","):
            text += " " + piece  # a list wrapped after one of its items
        elif previous >= width:
            long_word = cells(last_word) + cells(first_word) > field and _TECHNICAL.search(last_word)
            text += piece if long_word else " " + piece
        elif previous + 2 + cells(first_word) > width:
            text += " " + piece  # word wrap: the next word did not fit
        else:
            text += "\n" + piece  # it would have fitted: the value had a line break here
    return text[:MAX_VALUE_CHARS]


def _list_items(inner: str) -> list[str]:
    return [item.strip() for item in re.split(r",\s+|,$|\n", inner) if item.strip()]


def typed_value(raw: str) -> tuple[JsonValue, bool]:
    """The value a property's text stands for, and whether a list in it was cut off."""
    text = raw.strip()
    if not text:
        return None, False
    if text in ("True", "False"):
        return text == "True", False
    if text.startswith("{") and text.endswith("}"):
        inner = text[1:-1].strip()
        cut = inner.endswith(_CUT)
        inner = inner.removesuffix("...").removesuffix("…")
        return json_list(_list_items(inner)), cut
    when = iso_date(text)
    if when is not None:
        return when, False
    if _INT.fullmatch(text):
        return int(text), False
    return text, False


def iso_date(text: str) -> str | None:
    """`text` as ISO 8601 when it is a date and time as a shell prints one; the paste's offset kept (UTC
    when it has none). No clock: the value is only rewritten."""
    if not text[:1].isdigit() or len(text) > 40:
        return None
    zone = "+00:00"
    if match := _SLASHED.fullmatch(text):
        first, second, year, hour = int(match[1]), int(match[2]), int(match[3]), int(match[4])
        if match[7]:  # en-US: month first, 12-hour clock
            if not 1 <= hour <= 12:
                return None
            month, day = first, second
            hour = hour % 12 + (12 if match[7].lower() == "p" else 0)
        else:  # no AM/PM: a day-first culture, unless the first number cannot be a day-of-month order
            day, month = (first, second) if second <= 12 else (second, first)
        parts = (year, month, day, hour, int(match[5]), int(match[6] or 0))
    elif match := _DOTTED.fullmatch(text):
        parts = (
            int(match[3]),
            int(match[2]),
            int(match[1]),
            int(match[4]),
            int(match[5]),
            int(match[6] or 0),
        )
    elif match := _ISO.fullmatch(text):
        parts = (
            int(match[1]),
            int(match[2]),
            int(match[3]),
            int(match[4]),
            int(match[5]),
            int(match[6] or 0),
        )
        if match[7] and match[7] != "Z":
            digits = match[7][1:].replace(":", "")
            zone = f"{match[7][0]}{digits[:2]}:{digits[2:]}"
    else:
        return None
    year, month, day, hour, minute, second = parts
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour < 24
            and minute < 60 and second < 60):  # fmt: skip
        return None
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{zone}"


def _table_at(lines: list[str], index: int) -> bool:
    return (
        index + 1 < len(lines)
        and not _is_blank(lines[index])
        and "-" in lines[index + 1]
        and _UNDERLINE.fullmatch(lines[index + 1].rstrip()) is not None
    )


def _read_table(lines: list[str], index: int, blocks: list[Block]) -> int:
    """Rows of the table whose header is `lines[index]`; returns the index after it."""
    underline = lines[index + 1]
    spans = [(m.start(), m.end()) for m in _DASHES.finditer(underline)]
    # Dash runs are ASCII, so character positions are cell positions.
    starts = [s for s, _ in spans]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    names = [_cell_slice(lines[index], s, e).strip() for s, e in bounds]
    if not all(names):
        return index + 2
    at = index + 2
    previous: Block | None = None
    rows: list[Block] = []
    while at < len(lines) and not _is_blank(lines[at]) and not _table_at(lines, at):
        cells_text = [_cell_slice(lines[at], s, e).strip() for s, e in bounds]
        if previous is not None and not cells_text[0] and any(cells_text):  # a -Wrap continuation
            for name, piece in zip(names, cells_text, strict=True):
                if piece:
                    previous.values[name] = (previous.values[name] + " " + piece).strip()
        else:
            previous = Block(dict(zip(names, cells_text, strict=True)))
            rows.append(previous)
        at += 1
    for row in rows:
        row.truncated = {n for n, v in row.values.items() if v.endswith(_CUT)}
        row.values = {n: v.removesuffix("...").removesuffix("…") for n, v in row.values.items()}
    blocks.extend(rows)
    return at


def _read_list_object(lines: list[str], index: int, width: int, block: Block) -> int:
    """One Format-List object starting at `lines[index]`; returns the index after it."""
    opened = _property_start(lines[index])
    assert opened is not None
    name, first, column = opened
    pieces: list[tuple[str, int]] = [(first.strip(), cells(lines[index].rstrip()))]
    at = index + 1

    def close() -> None:
        block.values.setdefault(name, _joined(pieces, width, width - column - 2))

    while at < len(lines):
        line = lines[at]
        if _is_blank(line):
            ahead = at
            while ahead < len(lines) and _is_blank(lines[ahead]):
                ahead += 1
            following = lines[ahead] if ahead < len(lines) else ""
            indent = len(following) - len(following.lstrip(" "))
            if ahead < len(lines) and indent > column and _property_start(following) is None:
                pieces.extend([("", 0)] * (ahead - at))  # a blank line inside a multi-line value
                at = ahead
                continue
            break
        found = _property_start(line)
        if found is not None:
            close()
            name, first, _ = found
            pieces = [(first.strip(), cells(line.rstrip()))]
        else:
            pieces.append((line.strip(), cells(line.rstrip())))
        at += 1
    close()
    return at


def parse_blocks(lines: list[str], width: int) -> list[Block]:
    """Every object printed in `lines` (one command's output), as Format-List or Format-Table showed it."""
    blocks: list[Block] = []
    at = 0
    while at < len(lines):
        line = lines[at]
        if _is_blank(line):
            at += 1
        elif _table_at(lines, at):
            at = _read_table(lines, at, blocks)
        elif _property_start(line) is not None:
            block = Block()
            at = _read_list_object(lines, at, width, block)
            blocks.append(block)
        else:
            at += 1  # a line that is neither: a warning, a note the admin typed
    return blocks
