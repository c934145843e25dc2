"""Provenance labels of values: which outputs and user messages a value appears in.

A value is recognised by key (``_value_kinds`` defines the keys per kind: text, numbers,
identifiers, URLs, emails, paths, identifier windows). An output or a user message is
indexed under the keys of the whole text and of each of its parts; an argument is looked
up under its own keys. ``tainted(x)``: some key of ``x`` was seen in an untrusted output (per
field where the tool declares fields); ``from_user(x)``: the canonical key of ``x``, or every
part of it, appears in the user's messages; ``source(x)``: the tools whose outputs hold a
key of ``x``. Lookups are hash probes, so their cost does not grow with the session; an
argument costs a handful of probes per part.

Where matching cannot be sure the two predicates lean in opposite directions, each the
fail-closed one: ``tainted`` probes more keys (fragments and reversals of identifiers,
every token of a command line, the base address of a ``+tag`` email), ``from_user`` probes
only the exact canonical form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction

from guardgraph.guardrails._value_kinds import (
    WINDOW,
    email_keys,
    fold,
    number_key,
    numbers_in,
    plain,
    plain_tokens,
    token_kind_keys,
    units,
    whole_kind_key,
    windows,
)
from guardgraph.specs import ast

__all__ = ["OUTPUT_CHARS", "OUTPUT_NODES", "OVERFLOW", "output_leaves", "taint_keys",
           "text_tokens", "user_keys", "value_keys"]

# An output is indexed up to this many nodes (strings, numbers, containers) and characters
# of text. Past either cap nothing more is read, every key already read counts as
# untrusted, and OVERFLOW is recorded: every argument probes it, so after an over-cap output
# every value of the session counts as tainted (its unread part could hold anything).
OUTPUT_NODES = 20_000
OUTPUT_CHARS = 262_144
OVERFLOW = "!*overflow"

# A run of identifier chunks joins at most this many chunks into sub-identifiers, enough
# for an IBAN in groups of four (up to nine groups) and bounded for a long digit table.
_SUBRUN = 10

# A string is treated as a command line when it holds a shell operator or starts with a
# word followed by an option; then every token of it is probed (a short `rm` or `-rf`
# copied from a page is enough to taint).
_COMMANDISH = re.compile(r"[|;&`<>]|\$\(|\$\{|^\S+\s+--?[a-z]")


def _keys_of_text(text: str, *, fragments: bool) -> Iterator[str]:
    """Index keys of an output string or a user message."""
    folded = fold(text)
    yield folded
    whole = whole_kind_key(folded)
    if whole is not None:
        yield whole
    seen: set[str] = set()  # a page repeats its words: each is analysed once
    for unit in units(folded):
        if unit.text in seen:
            continue
        seen.add(unit.text)
        for token in unit.text.split(" ") if unit.chunks else (unit.text,):
            yield token
            yield from token_kind_keys(token)
        if unit.chunks:
            c = unit.chunks
            for i in range(len(c)):
                for j in range(i + 1, min(len(c), i + _SUBRUN) + 1):
                    yield "i:" + "".join(c[i:j])
            if fragments:
                yield from windows(unit.ident)
    yield from numbers_in(folded)


def text_tokens(text: str, *, fragments: bool = False) -> list[str]:
    """Keys of a user message or an output text; ``fragments`` adds identifier windows
    (for untrusted text, so fragments and reversals of its identifiers stay tainted)."""
    return list(dict.fromkeys(_keys_of_text(text, fragments=fragments)))


def _scalar_key(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | Fraction):
            return number_key(value)
        if isinstance(value, float | Decimal):
            return number_key(Fraction(repr(value)) if isinstance(value, float)
                              else Fraction(value))
    except (ValueError, OverflowError, ArithmeticError):
        return None  # inf, nan
    return None


def _items(value: object) -> list[object]:
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, tuple | frozenset | list | set):
        return list(value)
    return []


def _strings(value: object) -> list[str]:
    """The strings of an argument (itself, or the items of a collection, iteratively)."""
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        else:
            stack.extend(_items(v))
    return out


def value_keys(value: object) -> list[str]:
    """The canonical key of each leaf of an argument (all must be the user's for
    ``from_user``)."""
    if isinstance(value, str):  # the common case, without the walk
        folded = fold(value)
        return [whole_kind_key(folded) or folded]
    keys: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            folded = fold(v)
            keys.append(whole_kind_key(folded) or folded)
        elif (k := _scalar_key(v)) is not None:
            keys.append(k)
        else:
            stack.extend(reversed(_items(v)))
    return keys


def taint_keys(value: object) -> list[str]:
    """Keys under which an argument is looked up for ``tainted``/``source``: each leaf's
    canonical key and plain text, each distinctive part of a string (URLs, emails, paths,
    identifiers of :data:`WINDOW`+ characters and their windows, tokens of as many
    characters), every token of a command line, and :data:`OVERFLOW`."""
    if isinstance(value, str):
        folded = fold(value)
        if plain(folded) and _COMMANDISH.search(folded) is None:
            # no number, identifier, URL, email, path or shell operator: the text and its
            # long words are all there is to probe (the guard's common case, kept cheap)
            return list(dict.fromkeys([folded, *(t for t in plain_tokens(folded)
                                                 if len(t) >= WINDOW), OVERFLOW]))
    keys = value_keys(value)
    for text in _strings(value):
        folded = fold(text)
        keys.append(folded)
        keys.extend(email_keys(folded)[1:])
        command = _COMMANDISH.search(folded) is not None
        for unit in units(folded):
            if unit.chunks:
                ident = unit.ident
                if command or len(ident) >= WINDOW:
                    keys.append("i:" + ident)
                keys.extend(windows(ident, reverse=False))  # the index holds reversals
                tokens = unit.text.split(" ")
            else:
                tokens = [unit.text]
            for token in tokens:
                kinds = token_kind_keys(token)
                keys.extend(k for k in kinds if command or k[0] in "uep")
                keys.extend(email_keys(token)[1:])
                if command or len(token) >= WINDOW:
                    keys.append(token)
    keys.append(OVERFLOW)
    return list(dict.fromkeys(keys))


def user_keys(value: object) -> list[str]:
    """Every part of a string argument: a command line or a sentence the user typed counts
    as theirs when each of its parts appears in their messages."""
    if not isinstance(value, str):
        return value_keys(value)
    folded = fold(value)
    if plain(folded):
        return plain_tokens(folded) or [folded]
    keys: list[str] = []
    for unit in units(folded):
        if len(unit.chunks) > 1:
            keys.append("i:" + unit.ident)
        else:
            keys.append(whole_kind_key(unit.text) or unit.text)
    return keys or value_keys(value)


def output_leaves(value: object, decl: ast.ToolDecl | None, *, trusted: bool | None,
                  ) -> list[tuple[str, bool]]:
    """(key, untrusted) for every leaf of a tool output, read without recursion.

    A leaf is untrusted when the declaration marks the whole output, or marks the field it
    sits in, or the host says the output is not trusted (either side suffices). The keys of
    an untrusted mapping (an attacker can choose them too) are indexed like its values.
    Past :data:`OUTPUT_NODES` nodes or :data:`OUTPUT_CHARS` characters the output counts as
    wholly untrusted (see :data:`OVERFLOW`).
    """
    whole = (decl is not None and decl.untrusted and not decl.untrusted_fields) or trusted is False
    marked = decl is not None and decl.untrusted
    fields = frozenset(decl.untrusted_fields) if marked and decl else frozenset()
    out: list[tuple[str, bool]] = []
    stack: list[tuple[object, bool]] = [(value, whole)]
    nodes = chars = 0
    while stack:
        v, bad = stack.pop()
        nodes += 1
        if isinstance(v, str):
            chars += len(v)
        if nodes > OUTPUT_NODES or chars > OUTPUT_CHARS:
            return [(k, True) for k, _ in out] + [(OVERFLOW, True)]
        if isinstance(v, str):
            out.extend((k, bad) for k in text_tokens(v, fragments=bad))
        elif isinstance(v, Mapping):
            for k, item in v.items():
                stack.append((item, bad or str(k) in fields))
                if bad and isinstance(k, str):
                    stack.append((k, True))
        elif isinstance(v, list | tuple | set | frozenset):
            stack.extend((item, bad) for item in v)
        elif (key := _scalar_key(v)) is not None:
            out.append((key, bad))
    return out
