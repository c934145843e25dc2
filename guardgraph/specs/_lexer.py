"""The tokenizer of the spec language: source text -> tokens, comments, lexical diagnostics.

One master regular expression walks the text once. Keywords are the word-like string
literals of the grammar (so the grammar file stays the single list of reserved words);
every other word is a NAME. Lexical errors never stop the scan: each becomes a GG102,
GG103, GG105 or GG106 diagnostic and the tokenizer carries on, so the parser can still
report independent errors further down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from lark import Token

from guardgraph.specs._terminals import terminal_patterns
from guardgraph.specs.ast import Span
from guardgraph.specs.diagnostics import Diagnostic

__all__ = [
    "Comment",
    "Lexed",
    "SpecToken",
    "decode_string",
    "duration_seconds",
    "duration_value",
    "tokenize",
]

# The tokenizer's scanning pattern is wider than the tokens (a string runs to its quote
# or the line's end, a number to the next non-word character) so that a malformed token is
# reported as one (GG103, GG105, GG106); what is a valid token is decided by the grammar's
# own terminal patterns (`_terminals`), never by a second definition here.
_MASTER: Final = re.compile(
    r"""
    (?P<ws>[\ \t\r\n\f\v]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\[^\n])*"?)
  | (?P<number>[0-9][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*)*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>->|==|!=|<=|>=|[-+*/%(){}\[\],:.=|?<>])
  | (?P<bad>[^\ \t\r\n\f\v\#"0-9A-Za-z_\-+*/%(){}\[\],:.=|?<>!]+|.)
    """,
    re.VERBOSE | re.DOTALL,
)
# A scanned string that reached its closing quote (valid or with bad escapes inside).
_CLOSED: Final = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"')
_ESCAPE: Final = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES: Final = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
# Python's int() refuses very long digit strings; far below that, no spec needs them.
_MAX_DIGITS: Final = 1000
UNIT_SECONDS: Final = {"ms": 0, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NUMBER_HELP: Final = (
    "numbers look like 42, 1_000 or 12.5; durations like 500ms, 10s, 30m, 24h, 7d or 1w"
)


class SpecToken(Token):
    """A lark token that also knows its file, so AST spans need no parser state."""

    __slots__ = ("file",)
    file: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    """One ``# ...`` comment: its text (with the ``#``) and where it starts and ends."""

    text: str
    start: int
    line: int
    trailing: bool = False  # code precedes it on its line (an end-of-line comment)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lexed:
    tokens: tuple[SpecToken, ...]
    comments: tuple[Comment, ...]
    diagnostics: tuple[Diagnostic, ...]
    # start offsets of tokens next to which a lexical error was reported
    error_offsets: tuple[int, ...]
    end: SpecToken  # a zero-width end-of-file marker with its position


def _token(
    kind: str, value: str, path: str, start: int, line: int, col: int, length: int | None = None
) -> SpecToken:
    n = len(value) if length is None else length
    tok = SpecToken(kind, value, start, line, col, line, col + n, start + n)
    tok.file = path
    return tok


def _span(path: str, line: int, col: int, length: int) -> Span:
    return Span(file=path, line=line, column=col, end_line=line, end_column=col + max(length, 1))


def decode_string(body: str) -> tuple[str, list[tuple[int, str]]]:
    """The value of a string literal's body (between the quotes) and its bad escapes
    as (offset in body, escape text)."""
    if "\\" not in body:
        return body, []
    bad: list[tuple[int, str]] = []
    out: list[str] = []
    last = 0
    pending_high: int | None = None  # a \uD8xx waiting for its low surrogate
    for m in _ESCAPE.finditer(body):
        out.append(body[last : m.start()])
        esc = m.group(1)
        if len(esc) == 5:
            code = int(esc[1:], 16)
            # A surrogate pair written as two escapes is one character (JSON's rule), so
            # the formatter can write any non-BMP character back as escapes.
            if 0xDC00 <= code <= 0xDFFF and pending_high is not None and m.start() == last:
                out.pop()  # the empty text between the two escapes
                out[-1] = chr(0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00))
                pending_high = None
            else:
                out.append(chr(code))
                pending_high = code if 0xD800 <= code <= 0xDBFF else None
        elif esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            pending_high = None
        else:
            bad.append((m.start(), m.group(0)))
            out.append(esc)
            pending_high = None
        last = m.end()
    out.append(body[last:])
    return "".join(out), bad


def _check_number(text: str) -> str | None:
    """The terminal for a number-like word, or None when it is malformed."""
    if len(text) > _MAX_DIGITS:
        return None
    patterns = terminal_patterns()
    for terminal in ("INT", "REAL", "DURATION"):
        if patterns[terminal].fullmatch(text):
            if terminal == "DURATION" and text.endswith("ms") and _count(text[:-2]) % 1000:
                return None
            return terminal
    return None


def _count(digits: str) -> int:
    return int(digits.replace("_", ""))


def _split_duration(text: str) -> tuple[int, str] | None:
    """(number, unit) of a duration's text, or None when it is not a DURATION token."""
    if len(text) > _MAX_DIGITS or not terminal_patterns()["DURATION"].fullmatch(text):
        return None
    unit = "ms" if text.endswith("ms") else text[-1]
    return _count(text[: -len(unit)]), unit


def duration_value(text: str) -> int | None:
    """Seconds of a duration's text, or None when it is not a well-formed duration."""
    split = _split_duration(text)
    if split is None:
        return None
    n, unit = split
    return n // 1000 if unit == "ms" else n * UNIT_SECONDS[unit]


def duration_seconds(text: str) -> int:
    """Seconds of a well-formed duration token (the tokenizer checked it)."""
    seconds = duration_value(text)
    if seconds is None:  # pragma: no cover - the tokenizer only emits well-formed ones
        raise ValueError(f"not a duration: {text!r}")
    return seconds


def tokenize(text: str, *, path: str, keywords: Mapping[str, str]) -> Lexed:
    """Split ``text`` into tokens; ``keywords`` maps reserved words and punctuation to
    the grammar's terminal names."""
    tokens: list[SpecToken] = []
    comments: list[Comment] = []
    diags: list[Diagnostic] = []
    error_offsets: list[int] = []
    # A UTF-8 byte order mark (as some Windows editors write) is not part of the text;
    # columns on line 1 are counted after it, as the editor shows them.
    begin = 1 if text.startswith("\ufeff") else 0
    line, line_start = 1, begin
    for m in _MASTER.finditer(text, begin):
        kind = m.lastgroup
        start = m.start()
        value = m.group()
        col = start - line_start + 1
        if kind == "ws":
            newlines = value.count("\n")
            if newlines:
                line += newlines
                line_start = start + value.rindex("\n") + 1
        elif kind == "word":
            word_terminal = keywords.get(value, "NAME")
            # `version` is a keyword only in the header (`spec NAME version N`), so that
            # tools may keep an argument called `version`.
            if value == "version" and not (
                len(tokens) == 2 and tokens[0].value == "spec"
            ):
                word_terminal = "NAME"
            tokens.append(_token(word_terminal, value, path, start, line, col))
        elif kind == "punct":
            tokens.append(_token(keywords[value], value, path, start, line, col))
        elif kind == "number":
            terminal = _check_number(value)
            if terminal is None:
                # A stand-in keeps the parser going; the item is dropped anyway.
                diags.append(_bad_number(value, path, line, col))
                error_offsets.append(start)
                tokens.append(_token("INT", "0", path, start, line, col, len(value)))
            else:
                tokens.append(_token(terminal, value, path, start, line, col))
        elif kind == "string":
            tokens.append(_token("STRING", value, path, start, line, col))
            if terminal_patterns()["STRING"].fullmatch(value):
                pass
            elif not _CLOSED.fullmatch(value):
                diags.append(
                    Diagnostic(
                        code="GG103",
                        message="unterminated string",
                        span=_span(path, line, col, len(value)),
                        help='close the string with `"` on the same line',
                        data=(("label", "string starts here"),),
                    )
                )
                error_offsets.append(start)
            else:
                bad = decode_string(value[1:-1])[1] or [(0, value[1:-1])]
                for offset, esc in bad:
                    diags.append(_bad_escape(esc, path, line, col + 1 + offset))
                    error_offsets.append(start)
        elif kind == "comment":
            trailing = bool(tokens) and tokens[-1].end_line == line
            comments.append(Comment(text=value.rstrip(), start=start, line=line,
                                    trailing=trailing))
        else:
            diags.append(
                Diagnostic(
                    code="GG102",
                    message=f"unexpected character {_show_chars(value)}",
                    span=_span(path, line, col, len(value)),
                    help="identifiers use ASCII letters, digits and `_`; "
                    "text goes between double quotes",
                    data=(("label", "not part of the language"),),
                )
            )
            error_offsets.append(start)
    end = _token("$END", "", path, len(text), line, len(text) - line_start + 1)
    return Lexed(
        tokens=_field_names(tokens),
        comments=tuple(comments),
        diagnostics=tuple(diags),
        error_offsets=tuple(error_offsets),
        end=end,
    )


def _field_names(tokens: list[SpecToken]) -> tuple[SpecToken, ...]:
    """Reserved words where only a name can stand are names: after `.` (``args.type``,
    ``event.from``) and as a declared field or parameter (``{type: str}``, ``(on: bool``),
    i.e. before `:` right after `(`, `,` or `{`. Real tool catalogues use such names; no
    keyword can appear in those places, so the grammar stays unambiguous."""
    out = list(tokens)
    for i, tok in enumerate(out):
        if tok.type in ("NAME", "STRING") or not tok.value.isidentifier():
            continue  # only reserved words are retyped (a STRING's value has its quotes)
        after_dot = i > 0 and out[i - 1].value == "."
        declared = (
            0 < i < len(out) - 1
            and out[i + 1].value == ":"
            and out[i - 1].value in ("(", ",", "{")
        )
        if after_dot or declared:
            out[i] = _token("NAME", tok.value, tok.file, tok.start_pos or 0, tok.line or 1,
                            tok.column or 1)
    return tuple(out)


def _show_chars(value: str) -> str:
    shown = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return f"`{shown[:20]}`" + ("..." if len(shown) > 20 else "")


def _bad_number(value: str, path: str, line: int, col: int) -> Diagnostic:
    if len(value) > _MAX_DIGITS:
        message, label = "number is too long", f"more than {_MAX_DIGITS} characters"
    elif terminal_patterns()["DURATION"].fullmatch(value):
        message = f"duration `{value}` is not a whole number of seconds"
        label = "windows have one-second resolution"
    else:
        message, label = f"malformed number or duration `{value[:40]}`", "not a number"
    return Diagnostic(
        code="GG105",
        message=message,
        span=_span(path, line, col, min(len(value), 80)),
        help=_NUMBER_HELP,
        data=(("label", label),),
    )


def _bad_escape(esc: str, path: str, line: int, col: int) -> Diagnostic:
    return Diagnostic(
        code="GG106",
        message=f"invalid escape `{_show_chars(esc)[1:-1]}` in string",
        span=_span(path, line, col, len(esc)),
        help='valid escapes are \\" \\\\ \\n \\t and \\uXXXX (four hex digits)',
        data=(("label", "unknown escape"),),
    )
