"""Bring pasted text to one plain shape before the reader looks at it.

Admins paste event-log entries as rendered text or as XML, JSON error bodies from OWA or a Fiddler
trace (escaped newlines and unicode), and quotes from blogs (curly quotes, em-dash arrows, Markdown
backticks and escapes). Every extractor then sees the same plain text.
"""

from __future__ import annotations

import html
import re

__all__ = ["normalise", "xml_event_data"]

# Typographic characters blogs substitute for what the software printed.
_TYPOGRAPHY = str.maketrans(
    {
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
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\ufeff": None,
        "`": " ",
        "\r": None,
    }
)

# A JSON body: a quoted key followed by a colon, e.g. {"MessageText": ...
_JSON_KEY = re.compile(r'[{,\[][ \t\n]{0,20}"[A-Za-z_][\w.]{0,60}"[ \t]{0,20}:')
# Each "key": of a JSON body starts a "key: value" line, so a value ends where the next key begins.
_JSON_KEY_VALUE = re.compile(
    r'"?[ \t]{0,20}[{,\[][ \t\n]{0,20}"([A-Za-z_][\w.]{0,60})"[ \t]{0,20}:[ \t]{0,20}"?'
)
_JSON_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|([nrtbf"/\\]))')
_JSON_SIMPLE = {"n": "\n", "r": "", "t": "\t", "b": "", "f": "", '"': '"', "/": "/", "\\": "\\"}

# Markdown escapes (\<Server>, \_name) that documentation sites put in front of punctuation.
_MARKDOWN_ESCAPE = re.compile(r"\\([<>_*\[\]#|])")

_XML_MARKERS = ("<Event", "<EventData", "<Data", "<Provider", "<EventID")
_XML_PROVIDER = re.compile(r"""<Provider\b[^>]{0,300}?\bName=['"]([^'"<>]{1,100})['"][^>]{0,300}>""")
_XML_EVENT_ID = re.compile(r"<EventID\b[^>]{0,100}>[ \t\n]{0,10}(\d{1,6})[ \t\n]{0,10}</EventID>")
_XML_COMPUTER = re.compile(r"<Computer>[ \t\n]{0,10}([^<\n]{1,255}?)[ \t\n]{0,10}</Computer>")
_XML_DATA = re.compile(r"<Data\b[^>]{0,200}?(?:/>|>([^<]{0,20000})</Data>)")
_XML_DATA_TAG = re.compile(r"</?Data\b[^>]{0,200}>")


def _json_unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code, simple = match.group(1), match.group(2)
        if code is not None:
            char = chr(int(code, 16))
            # Lone surrogates cannot be represented; drop them rather than fail.
            return "" if 0xD800 <= ord(char) <= 0xDFFF else char
        return _JSON_SIMPLE[simple]

    return _JSON_ESCAPE.sub(replace, text)


def xml_event_data(text: str) -> list[str]:
    """The <Data> values of an XML event entry, in order (the event's insertion strings)."""
    if "<Data" not in text:
        return []
    return [html.unescape(m.group(1) or "").strip() for m in _XML_DATA.finditer(text)]


def _rewrite_xml_event(text: str) -> str:
    """Turn an XML event entry into the labelled lines of a rendered one."""
    text = _XML_PROVIDER.sub(lambda m: f"\nSource: {m.group(1)}\n", text)
    text = _XML_EVENT_ID.sub(lambda m: f"\nEvent ID: {m.group(1)}\n", text)
    text = _XML_COMPUTER.sub(lambda m: f"\nComputer: {m.group(1)}\n", text)
    return _XML_DATA_TAG.sub("\n", text)


def normalise(text: str) -> str:
    """Plain text with straight quotes, real newlines, XML events rewritten and entities decoded."""
    text = text.translate(_TYPOGRAPHY)
    if "\\" in text:
        text = _MARKDOWN_ESCAPE.sub(r"\1", text)
    if _JSON_KEY.search(text):
        text = _json_unescape(_JSON_KEY_VALUE.sub(lambda m: f"\n{m.group(1)}: ", text))
    if any(marker in text for marker in _XML_MARKERS):
        text = _rewrite_xml_event(text)
    if "&" in text:
        text = html.unescape(text)
    return text
