"""Bring pasted text to one plain shape before the reader looks at it.

Admins paste event-log entries as rendered text or as XML, JSON error bodies from OWA or a Fiddler
trace (escaped newlines and unicode), and quotes from blogs (curly quotes, em-dash arrows, Markdown
backticks and escapes). Every extractor then sees the same plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from knowledge.reader.xml_events import MARKERS as XML_MARKERS
from knowledge.reader.xml_events import rewrite_xml_event

__all__ = ["normalise"]

# Typographic characters blogs substitute for what the software printed.
_PLAIN = {
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u2032": "'",
    "\u2014": "--",
    "\u2013": "-",
    "\u2212": "-",
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
}
# Replaced in the UTF-8 bytes by one pass of a bytes pattern (str.translate and per-character
# replaces are slow on non-ASCII text).
_TYPOGRAPHY = {char.encode("utf-8"): plain.encode("utf-8") for char, plain in _PLAIN.items()}
_TYPOGRAPHIC = re.compile(b"|".join(re.escape(char) for char in _TYPOGRAPHY))
_ASCII_NOISE = (("\r", ""), ("`", " "))

# A JSON body: a quoted key followed by a colon, e.g. {"MessageText": ...
_JSON_MARKERS = ('{"', '":', '" :')
_JSON_SIMPLE = (("\\r", ""), ("\\n", "\n"), ("\\t", "\t"), ('\\"', '"'), ("\\/", "/"))
_JSON_UNICODE = re.compile(r"\\u([0-9a-fA-F]{4})")
# Beyond this many escaped backslashes, a paste is not a JSON body worth unescaping piece by piece.
_MAX_JSON_PIECES = 2000

# Markdown escapes (\<Server>, \_name) that documentation sites put in front of punctuation.
_MARKDOWN_ESCAPE = re.compile(r"\\([<>_*\[\]#|])")
# XML/HTML character references (&lt; &#39; &#x27;), decoded one by one.
_ENTITY = re.compile(r"&(?:[A-Za-z]{2,8}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def _unicode_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    # A lone surrogate cannot be represented; drop it rather than fail.
    return "" if 0xD800 <= ord(char) <= 0xDFFF else _PLAIN.get(char, char)


def _entity(match: re.Match[str]) -> str:
    char = html.unescape(match.group(0))
    return _PLAIN.get(char, char)


def _json_piece(piece: str) -> str:
    for escaped, plain in _JSON_SIMPLE:
        if escaped in piece:
            piece = piece.replace(escaped, plain)
    return _JSON_UNICODE.sub(_unicode_escape, piece) if "\\u" in piece else piece


def _json_unescape(text: str) -> str:
    """JSON string escapes decoded; an escaped backslash splits the text so it is not read twice."""
    pieces = text.split("\\\\", _MAX_JSON_PIECES)
    return "\\".join(_json_piece(piece) for piece in pieces)


def _typography(text: str) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return _TYPOGRAPHIC.sub(lambda m: _TYPOGRAPHY[m.group(0)], data).decode("utf-8", "surrogatepass")


def _by_line(text: str, marker: str, also: str, decode: Callable[[str], str]) -> str:
    """`decode` applied to each line that holds `marker` and `also` (a JSON body is on few lines)."""
    pieces: list[str] = []
    done = 0
    at = text.find(marker)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if also in line:
            pieces += [text[done:start], decode(line)]
            done = end
        at = text.find(marker, end)
    pieces.append(text[done:])
    return "".join(pieces)


def normalise(text: str) -> str:
    """Plain text with straight quotes, real newlines, XML events rewritten and entities decoded."""
    for char, replacement in _ASCII_NOISE:
        if char in text:
            text = text.replace(char, replacement)
    if not text.isascii():
        text = _typography(text)
    if "\\" in text:
        if any(marker in text for marker in _JSON_MARKERS):
            text = _by_line(text, '":', "\\", _json_unescape)
        text = _MARKDOWN_ESCAPE.sub(r"\1", text)
    if any(marker in text for marker in XML_MARKERS):
        text = rewrite_xml_event(text)
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    return text
