"""Lint notes (GG320) on ``matches()`` patterns that Python's ``re`` reads otherwise.

The guard's fast path and Z3 read a pattern alike by construction (the fast path runs the
RE2 translation of the Z3 term, guardrails/_regex.py), so what can still surprise an author
is the gap between the spec's reading and Python's ``re``, where patterns are usually tried
out: here ``.`` matches a newline too, ``\\d \\w \\s`` are ASCII only, and a character that
NFKC normalisation changes never occurs in an argument (arguments are NFKC-normalised
before the check). A note is raised only where the gap makes the rule more permissive than
the author would think: a wider reading of a pattern the rule requires, a narrower reading
of one it forbids or applies on (polarity through ``not``, ``implies`` and ``when``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from guardgraph.specs import ast
from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["ReadingNote", "reading_notes", "regex_notes"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingNote:
    """One construct read differently: ``wider`` when the spec's reading matches strings
    Python's ``re`` would not (else it matches fewer)."""

    construct: str
    position: int
    message: str
    help: str
    wider: bool


_CLASS_HELP = {
    "d": ("`\\d` is ASCII `[0-9]` here; Python's re also matches other Unicode digits "
          "such as '٣'", "write `[0-9]` to say so plainly"),
    "w": ("`\\w` is ASCII `[A-Za-z0-9_]` here; Python's re also matches Unicode letters "
          "such as 'é'", "write `[A-Za-z0-9_]` to say so plainly"),
    "s": ("`\\s` is ASCII `[ \\t\\n\\r\\f\\v]` here; Python's re also matches Unicode "
          "spaces such as U+00A0", "write `[ \\t\\n\\r\\f\\v]` to say so plainly"),
}


def reading_notes(pattern: str) -> tuple[ReadingNote, ...]:
    """Each construct of ``pattern`` (inside the ``matches`` subset) that the spec reads
    otherwise than Python's ``re``, once per kind.

    >>> [n.construct for n in reading_notes(r"[a-z]+\\d.")]
    ['\\\\d', '.']
    """
    out: dict[str, ReadingNote] = {}
    i, negated, in_class, first = 0, False, False, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            e = pattern[i + 1]
            if e in _CLASS_HELP:
                msg, help_ = _CLASS_HELP[e]
                # ASCII-only is narrower; inside a negated class the complement is wider.
                out.setdefault("\\" + e, ReadingNote(construct="\\" + e, position=i,
                                                     message=msg, help=help_,
                                                     wider=in_class and negated))
            i += 2
            first = False
            continue
        if in_class:
            if c == "]" and not first:
                in_class = False
            first = False
        elif c == "[":
            in_class, first = True, True
            negated = pattern.startswith("[^", i)
            i += 2 if negated else 1
            continue
        elif c == ".":
            out.setdefault(".", ReadingNote(
                construct=".", position=i,
                message="`.` matches any character here, a newline too; Python's re "
                "without DOTALL does not",
                help="write `(.|\\n)` to say so plainly, or `[^\\n]` for any character but "
                "a newline", wider=True))
        if not c.isascii() and not unicodedata.is_normalized("NFKC", c):
            norm = unicodedata.normalize("NFKC", c)
            out.setdefault("nfkc", ReadingNote(
                construct=c, position=i,
                message=f"U+{ord(c):04X} {unicodedata.name(c, '')} never occurs in an "
                "argument: arguments are NFKC-normalised before the check",
                help=f"write {norm!r}, its NFKC form", wider=in_class and negated))
        i += 1
    return tuple(sorted(out.values(), key=lambda n: n.position))


def regex_notes(spec: ast.Spec) -> list[Diagnostic]:
    """GG320 warnings for the ``matches`` patterns of ``spec`` whose reading differs from
    Python's re in the direction that makes their rule more permissive."""
    found: list[Diagnostic] = []
    for rule in spec.rules:
        sites = list(_sites(rule.require, 1))
        if rule.when is not None:
            sites += _sites(rule.when, -1)
        for call, polarity in sites:
            pattern = call.args[1]
            if not isinstance(pattern, ast.StrLit):
                continue
            risky = [n for n in reading_notes(pattern.value)
                     if polarity == 0 or (n.wider if polarity > 0 else not n.wider)]
            if not risky:
                continue
            first, *rest = risky
            found.append(Diagnostic(
                code="GG320",
                message=f"rule `{rule.name}`: regex `{pattern.value}` reads differently than "
                f"in Python's re: {first.message}",
                span=pattern.span or call.span or rule.span, help=first.help,
                notes=tuple(f"also: {n.message}; {n.help}" for n in rest)))
    return found


def _sites(e: ast.Expr, polarity: int) -> Iterator[tuple[ast.Call, int]]:
    """Every ``matches`` call under ``e`` with its polarity: +1 where matching more makes
    ``e`` true more often, -1 where less, 0 where it cannot be told (a comparison of
    truth values, an aggregate's filter). Explicit stack: specs may nest deeply."""
    stack: list[tuple[object, int]] = [(e, polarity)]
    while stack:
        node, pol = stack.pop()
        match node:
            case ast.Call(func="matches"):
                yield node, pol
            case ast.Unary(op=ast.UnOp.NOT, operand=inner):
                stack.append((inner, -pol))
            case ast.Binary(op=ast.BinOp.AND | ast.BinOp.OR, left=left, right=right):
                stack += [(left, pol), (right, pol)]
            case ast.Binary(op=ast.BinOp.IMPLIES, left=left, right=right):
                stack += [(left, -pol), (right, pol)]
            case ast.Quantifier(domain=domain, body=body):
                stack += [(domain, 0), (body, pol)]
            case ast.Temporal(pattern=p) | ast.Aggregate(pattern=p):
                keep = pol if isinstance(node, ast.Temporal) else 0
                stack.append((p, keep))
            case ast.Since(held=held, anchor=anchor):
                stack += [(held, pol), (anchor, pol)]
            case ast.EventPattern(where=where, negated=negated) if where is not None:
                stack.append((where, -pol if negated else pol))
            case _:
                stack += [(child, 0) for child in _children(node)]


def _children(node: object) -> list[object]:
    """Sub-expressions of any other node, read from its dataclass fields."""
    out: list[object] = []
    for name in getattr(node, "__slots__", ()):
        value = getattr(node, name, None)
        if isinstance(value, tuple):
            out += [v for v in value if hasattr(v, "__slots__") and not isinstance(v, str)]
        elif hasattr(value, "__slots__") and not isinstance(value, ast.Span | str):
            out.append(value)
    return out
