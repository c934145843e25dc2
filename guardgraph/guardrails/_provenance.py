"""Provenance labels of values: which outputs and user messages a value appears in.

A value is recognised by key: a string by its NFKC case-folded text (whole, and each
whitespace/punctuation-separated token of an output or message), a number by its exact
value. ``tainted(x)``: a key of ``x`` was seen in an untrusted output (per field where the
tool declares fields); ``from_user(x)``: it appears in the user's messages; ``source(x)``:
the tools whose outputs contain it. Lookups are hash probes, so their cost does not grow
with the session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from guardgraph.guardrails._validate import normalize
from guardgraph.specs import ast

__all__ = ["output_leaves", "taint_keys", "text_tokens", "user_keys", "value_keys"]

_TOKEN = re.compile(r"[^\s,;!?()\[\]{}<>\"'`]+")


def _num_key(value: int | Fraction) -> str:
    q = Fraction(value)
    return f"#{q.numerator}/{q.denominator}"


def _str_keys(text: str) -> Iterator[str]:
    folded = normalize(text).casefold()
    yield folded.strip()
    for token in _TOKEN.findall(folded):
        token = token.rstrip(".:")
        if not token:
            continue
        yield token
        try:  # "1,100.50" is not parsed; "1100.50" and "1100" are
            number = Fraction(Decimal(token))
        except (InvalidOperation, ValueError, ZeroDivisionError):
            continue
        yield _num_key(number)


def text_tokens(text: str) -> list[str]:
    """Keys of a user message or an untrusted text."""
    return list(dict.fromkeys(_str_keys(text)))


def value_keys(value: object) -> list[str]:
    """Keys under which an argument value is looked up."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | Fraction):
        return [_num_key(value)]
    if isinstance(value, str):
        return [normalize(value).casefold().strip()]
    if isinstance(value, tuple | frozenset | list | set):
        return [k for item in value for k in value_keys(item)]
    if isinstance(value, Mapping):
        return [k for item in value.values() for k in value_keys(item)]
    return []


# A token this long is distinctive enough (an IBAN, a URL, a host name) that finding it in
# an untrusted output means the argument was built from that output, even when the
# argument as a whole (a shell command line, a sentence) never appears there as one token.
_DISTINCTIVE = 8


def taint_keys(value: object) -> list[str]:
    """Keys under which an argument is looked up for ``tainted``/``source``: its whole
    value, plus each distinctive token of a string."""
    keys = value_keys(value)
    strings = [value] if isinstance(value, str) else (
        [v for v in value if isinstance(v, str)]
        if isinstance(value, tuple | frozenset | list | set) else [])
    for text in strings:
        folded = normalize(text).casefold()
        keys.extend(t.rstrip(".:") for t in _TOKEN.findall(folded)
                    if len(t.rstrip(".:")) >= _DISTINCTIVE)
    return list(dict.fromkeys(keys))


def user_keys(value: object) -> list[str]:
    """Every token of a string argument: a command line or a sentence the user typed
    counts as theirs when each of its words appears in their messages."""
    if not isinstance(value, str):
        return value_keys(value)
    tokens = [t.rstrip(".:") for t in _TOKEN.findall(normalize(value).casefold())]
    return [t for t in tokens if t] or value_keys(value)


def output_leaves(value: object, decl: ast.ToolDecl | None, *, trusted: bool | None,
                  ) -> list[tuple[str, bool]]:
    """(key, untrusted) for every leaf of a tool output.

    A leaf is untrusted when the declaration marks the whole output, or marks the field it
    sits in, or the host says the output is not trusted (either side suffices).
    """
    whole = (decl is not None and decl.untrusted and not decl.untrusted_fields) or trusted is False
    marked = decl is not None and decl.untrusted
    fields = frozenset(decl.untrusted_fields) if marked and decl else frozenset()
    out: list[tuple[str, bool]] = []

    def walk(v: object, bad: bool) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, str):
            out.extend((k, bad) for k in text_tokens(v))
        elif isinstance(v, int | float | Fraction):
            try:
                out.append((_num_key(Fraction(repr(v)) if isinstance(v, float) else v), bad))
            except (ValueError, OverflowError):
                return
        elif isinstance(v, Mapping):
            for k, item in v.items():
                walk(item, bad or str(k) in fields)
        elif isinstance(v, list | tuple | set | frozenset):
            for item in v:
                walk(item, bad)

    walk(value, whole)
    return out
