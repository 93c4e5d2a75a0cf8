"""A small PowerShell tokenizer, for tests: enough of the language to tell where a literal starts and ends.

It reads one line the way PowerShell's parser splits it: whitespace; `#` comments; single-quoted strings
(any of ' ‘ ’ ‚ ‛, a doubled quote is one quote character); double-quoted strings (" “ ” „, with backtick
escapes and doubled quotes); `$variables`; the operators and brackets `| ; & , ( ) { } [ ] = @( @{ $(`; and
bare words (anything else up to whitespace or one of those). `<Name>` is the product's placeholder for a value
nobody knows (the admin types it), kept as one token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Token", "tokenize"]

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = '"\u201c\u201d\u201e'
OPERATORS = ("@(", "@{", "$(", "|", ";", "&", ",", "(", ")", "{", "}", "[", "]", "=")
_WORD_END = set(" \t|;&,(){}[]=") | set(SINGLE_QUOTES) | set(DOUBLE_QUOTES)

Kind = Literal["word", "single", "double", "variable", "operator", "comment", "placeholder"]


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str  # a string's contents (quotes undone), a word or operator as written

    @property
    def is_literal(self) -> bool:
        """A constant string value: a bare word or a single-quoted string."""
        return self.kind in ("word", "single")


class TokenizeError(ValueError):
    """The line does not tokenise (an unterminated string)."""


def tokenize(line: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c in " \t":
            i += 1
        elif c == "#":
            tokens.append(Token("comment", line[i:]))
            break
        elif c in SINGLE_QUOTES:
            value, i = _single(line, i + 1)
            tokens.append(Token("single", value))
        elif c in DOUBLE_QUOTES:
            value, i = _double(line, i + 1)
            tokens.append(Token("double", value))
        elif c == "<" and (end := line.find(">", i)) > i and line[i + 1 : end].isalnum():
            tokens.append(Token("placeholder", line[i : end + 1]))
            i = end + 1
        elif operator := next((op for op in OPERATORS if line.startswith(op, i)), None):
            tokens.append(Token("operator", operator))
            i += len(operator)
        elif c == "$":
            end = i + 1
            while end < len(line) and (line[end].isalnum() or line[end] in "_:"):
                end += 1
            tokens.append(Token("variable", line[i:end]))
            i = end
        else:
            end = i
            while end < len(line) and line[end] not in _WORD_END:
                end += 2 if line[end] == "`" else 1
            tokens.append(Token("word", line[i:end]))
            i = end
    return tokens


def _single(line: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(line):
        if line[i] in SINGLE_QUOTES:
            if i + 1 < len(line) and line[i + 1] in SINGLE_QUOTES:
                out.append(line[i])
                i += 2
                continue
            return "".join(out), i + 1
        out.append(line[i])
        i += 1
    raise TokenizeError("unterminated single-quoted string")


def _double(line: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(line):
        c = line[i]
        if c == "`" and i + 1 < len(line):
            out.append(line[i + 1])
            i += 2
        elif c in DOUBLE_QUOTES:
            if i + 1 < len(line) and line[i + 1] in DOUBLE_QUOTES:
                out.append(c)
                i += 2
                continue
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise TokenizeError("unterminated double-quoted string")
