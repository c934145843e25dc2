"""Private: how every verb talks to the terminal — errors, colour, safe text, rich consoles.

Cheap at import, like every CLI module: typer and the standard library only (rich is
imported by the functions that build a console).

- Errors go to stderr as ``error: ...`` plus an optional ``hint: ...``; when the verb was
  asked for ``--format json`` they are one JSON object instead, so a program that reads
  the verb's JSON never has to parse prose.
- Colour and every other style (bold included) only on a terminal and never when
  ``NO_COLOR`` is set (no-color.org); off a terminal nothing wraps lines.
- Text that came from the user's files (trace ids, tool names, spec values) is printed
  through :func:`printable`, so a control character in a trace cannot move the cursor,
  recolour the terminal or hide the rest of a line.
"""

import json
import os
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, NoReturn, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from guardgraph.specs import Diagnostic

__all__ = [
    "EXIT_BAD_INPUT",
    "color",
    "console",
    "fail",
    "fail_now",
    "json_errors",
    "printable",
    "safe_diagnostics",
    "terminal_width",
    "warn",
]

EXIT_BAD_INPUT = 2

# Whether the running verb was given ``--format json`` (set by `json_errors`, which the
# app wraps around every verb that has a --format option), so that an error raised deep in
# any verb is JSON without each call site passing it on. A ContextVar, not a global: each
# invocation (and each thread of a test runner) sees its own value.
_JSON_ERRORS: ContextVar[bool] = ContextVar("guardgraph_json_errors", default=False)


@contextmanager
def json_errors(enabled: bool) -> Iterator[None]:
    """Within the block, errors and warnings default to JSON when ``enabled``."""
    token = _JSON_ERRORS.set(enabled)
    try:
        yield
    finally:
        _JSON_ERRORS.reset(token)


def _stderr() -> TextIO:
    return typer.get_text_stream("stderr")


def _emit(level: str, message: str, hint: str | None, as_json: bool | None,
          extra: dict[str, object] | None) -> None:
    err = _stderr()
    if as_json is None:
        as_json = _JSON_ERRORS.get()
    if as_json:
        doc: dict[str, object] = {"level": level, "message": message}
        if hint:
            doc["hint"] = hint
        doc.update(extra or {})
        err.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        err.write(f"{level}: {printable(message)}\n")
        if hint:
            err.write(f"hint: {printable(hint)}\n")
    err.flush()


def fail(message: str, hint: str | None = None, *, as_json: bool | None = None,
         exit_code: int = EXIT_BAD_INPUT, **extra: object) -> typer.Exit:
    """Print the error (and hint) to stderr; return the exit to raise (default code 2).

    ``as_json``: one JSON object ``{"level": "error", "message", "hint"?, **extra}``
    (``extra`` may name the diagnostic ``code``, the ``path``, the ``line``); None: JSON
    when the running verb was given ``--format json``.
    """
    _emit("error", message, hint, as_json, extra)
    return typer.Exit(exit_code)


def fail_now(message: str, *, hint: str | None = None, code: int = EXIT_BAD_INPUT,
             as_json: bool | None = None) -> NoReturn:
    """As `fail`, and exit at once with ``code``."""
    raise fail(message, hint, as_json=as_json, exit_code=code)


def warn(message: str, *, as_json: bool | None = None, **extra: object) -> None:
    """A warning on stderr (``warning: ...``, or a JSON object with level "warning")."""
    _emit("warning", message, None, as_json, extra)


def color(stream: object) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(*, stderr: bool = False, width: int | None = None) -> "Console":
    """A rich console for stdout (or stderr) that follows the rules above.

    With NO_COLOR, or off a terminal, it emits no escape sequence at all: rich alone
    keeps bold and italics under NO_COLOR. Off a terminal it never wraps a line, so a
    message piped into a log stays one line.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    styled = color(stream)
    return Console(stderr=stderr, highlight=False, width=width,
                   color_system="auto" if styled else None, no_color=not styled,
                   soft_wrap=not styled, emoji=False)


def terminal_width(default: int = 80) -> int:
    """Columns to lay tables out in: $COLUMNS, else the terminal's, else ``default``."""
    return max(shutil.get_terminal_size((default, 24)).columns, 40)


# Bidirectional overrides and isolates reorder what the reader sees (CVE-2021-42574).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\u202e``); newlines and
    tabs are kept unless ``newlines`` is False.

    >>> printable("ok\\x1b[2Jgone")
    'ok\\\\x1b[2Jgone'
    """
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch in "\n\t" and newlines:
            out.append(ch)
        elif ch in _BIDI or (unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn")
                             and ch != " "):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def safe_diagnostics(diags: "Iterable[Diagnostic]", sources: Mapping[str, str]
                     ) -> "tuple[list[Diagnostic], dict[str, str]]":
    """Diagnostics and source texts with control characters escaped for a terminal
    (a spec's string literal or a trace value may hold any character)."""
    from dataclasses import replace

    safe = [replace(d, message=printable(d.message),
                    help=None if d.help is None else printable(d.help),
                    notes=tuple(printable(n) for n in d.notes)) for d in diags]
    return safe, {path: printable(text) for path, text in sources.items()}
