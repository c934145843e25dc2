"""Rendering diagnostics for people and machines: human (Ruff/rustc style), concise, JSON.

Human output::

    error[GG203]: type mismatch: expected real, got str
     --> bank.spec:7:11
      |
    7 |   require amount <= "5000"
      |                     ^^^^^^ expected real
      |
      = help: ...

The text under the caret is the diagnostic's ``label`` entry in ``data``, when it has
one. Columns count code points; the caret line is padded by display width (tabs expand
to four spaces, East Asian wide characters take two cells), so it lines up in a terminal.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Final

from guardgraph.specs.diagnostics import CODES, Diagnostic, Severity

__all__ = ["render_concise", "render_human", "render_json"]

_TAB: Final = "    "
_RESET: Final = "\x1b[0m"
_BOLD: Final = "\x1b[1m"
_GUTTER_STYLE: Final = "\x1b[1;34m"
_SEVERITY_STYLE: Final = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
}


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color and text else text


def _label(d: Diagnostic) -> str | None:
    for key, value in d.data:
        if key == "label" and isinstance(value, str):
            return value
    return None


def _width(ch: str) -> int:
    if ch == "\t":
        return len(_TAB)
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _display(line: str) -> str:
    """The line as a terminal shows it: tabs expanded, control characters made visible."""
    out: list[str] = []
    for ch in line:
        if ch == "\t":
            out.append(_TAB)
        elif not ch.isprintable():
            out.append("\N{REPLACEMENT CHARACTER}")
        else:
            out.append(ch)
    return "".join(out)


def _source_line(sources: Mapping[str, str], file: str, line: int) -> str | None:
    text = sources.get(file)
    if text is None:
        return None
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None if line != len(lines) + 1 else ""
    return lines[line - 1].rstrip("\r")


def render_human(diags: Iterable[Diagnostic], sources: Mapping[str, str], *, color: bool) -> str:
    """All diagnostics, each as a block with its source line and a caret, blank-line
    separated; ``sources`` maps file names (as in the spans) to their text."""
    return "\n".join(_human_one(d, sources, color=color) for d in diags)


def _human_one(d: Diagnostic, sources: Mapping[str, str], *, color: bool) -> str:
    level = d.level
    style = _SEVERITY_STYLE[level]
    head = _paint(f"{level.value}[{d.code}]", style, color) + _paint(f": {d.message}", _BOLD, color)
    lines = [head]
    span = d.span
    gutter_width = len(str(span.line)) if span else 1
    pad = " " * gutter_width
    bar = _paint("|", _GUTTER_STYLE, color)
    if span is not None:
        arrow = _paint("-->", _GUTTER_STYLE, color)
        lines.append(f"{pad}{arrow} {span.file}:{span.line}:{span.column}")
        text = _source_line(sources, span.file, span.line)
        if text is not None:
            start = max(span.column - 1, 0)
            end = span.end_column - 1 if span.end_line == span.line else len(text)
            end = max(end, start + 1)
            before = sum(_width(ch) for ch in text[:start])
            marked = max(sum(_width(ch) for ch in text[start:end]), 1)
            label = _label(d)
            caret = _paint("^" * marked + (f" {label}" if label else ""), style, color)
            number = _paint(str(span.line), _GUTTER_STYLE, color)
            lines += [
                f"{pad} {bar}",
                f"{number} {bar} {_display(text)}".rstrip(),
                f"{pad} {bar} {' ' * before}{caret}",
            ]
        if d.help or d.notes:
            lines.append(f"{pad} {bar}")
    for note in d.notes:
        lines.append(f"{pad} = {_paint('note', _BOLD, color)}: {note}")
    if d.help:
        lines.append(f"{pad} = {_paint('help', _BOLD, color)}: {d.help}")
    return "\n".join(lines) + "\n"


def render_concise(diags: Iterable[Diagnostic]) -> str:
    """One line each: ``bank.spec:7:11: error[GG203] message``."""
    out: list[str] = []
    for d in diags:
        where = f"{d.span.file}:{d.span.line}:{d.span.column}: " if d.span else ""
        out.append(f"{where}{d.level.value}[{d.code}] {d.message}\n")
    return "".join(out)


def _json_safe(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_json_safe(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)


def diagnostic_dict(d: Diagnostic) -> dict[str, object]:
    """The JSON object of one diagnostic (stable keys; absent span -> nulls)."""
    span = d.span
    return {
        "code": d.code,
        "name": CODES[d.code].name if d.code in CODES else None,
        "severity": d.level.value,
        "message": d.message,
        "file": span.file if span else None,
        "line": span.line if span else None,
        "column": span.column if span else None,
        "end_line": span.end_line if span else None,
        "end_column": span.end_column if span else None,
        "help": d.help,
        "notes": list(d.notes),
        "data": {str(k): _json_safe(v) for k, v in d.data},
    }


def render_json(diags: Iterable[Diagnostic]) -> str:
    """A JSON array of objects: code, name, severity, message, file, line, column,
    end_line, end_column, help, notes, data."""
    return json.dumps([diagnostic_dict(d) for d in diags], indent=2, ensure_ascii=False) + "\n"
