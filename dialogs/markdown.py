"""Text for Adaptive Card markdown: one function that makes any string show as itself.

Card text (TextBlock, FactSet titles and values) is markdown in Teams: `[label](https://...)` is a link with
any label, `*`, `_`, `~` and backticks format. User text (a display name, a paste, "already tried",
addresses, a re-prompt quoting what was typed) and values read from backends must show as typed, so every
such string goes through `escape_markdown` — the card primitives in `dialogs.cards` apply it to everything
they are given; only `dialogs.cards.markdown` takes markdown on purpose (the product's own links).

Escapes follow CommonMark (a backslash before ASCII punctuation shows that character): the characters that
start links, images, emphasis, strikethrough and code, and a backslash that would itself escape the next
character. A backslash before a letter (EX02\\owa) is already literal and is left alone.
"""

from __future__ import annotations

import string

__all__ = ["MARKDOWN_SPECIALS", "escape_markdown"]

MARKDOWN_SPECIALS = frozenset("[]*_~`")
_PUNCTUATION = frozenset(string.punctuation)


def escape_markdown(value: str) -> str:
    out: list[str] = []
    for index, char in enumerate(value):
        if char in MARKDOWN_SPECIALS:
            out.append("\\" + char)
        elif char == "\\" and index + 1 < len(value) and value[index + 1] in _PUNCTUATION:
            out.append("\\\\")
        else:
            out.append(char)
    return "".join(out)
