"""The grammar of the spec language, loaded once: the lark LALR(1) parser and its terminals.

``_grammar.lark`` is the single source of the syntax and of the reserved words; this
module builds the parser from it with ``_builder.Builder`` as embedded transformer, so
parsing yields AST nodes directly. Building the LALR tables takes about 0.1 s, so they are
kept in the user's cache directory (``$XDG_CACHE_HOME/guardgraph``, private to the user;
keyed by the grammar and lark's version) and loaded from there by later processes; where
that directory cannot be written, the tables are built each time.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.lexer import Lexer

from guardgraph.specs._builder import Builder

__all__ = ["grammar_text", "keywords", "lark_parser"]


class _Feed(Lexer):
    """Hands lark the tokens our own tokenizer already made."""

    def __init__(self, lexer_conf: object) -> None:
        del lexer_conf

    def lex(self, data: Any) -> Iterator[Token]:  # type: ignore[override]
        return iter(data)


def grammar_text() -> str:
    """The lark grammar of the language (also used to fuzz the parser)."""
    return (Path(__file__).parent / "_grammar.lark").read_text(encoding="utf-8")


@functools.cache
def lark_parser() -> Lark:
    text = grammar_text()
    return Lark(
        text,
        parser="lalr",
        lexer=_Feed,
        start=["header", "include", "item"],
        keep_all_tokens=True,
        maybe_placeholders=False,
        transformer=Builder(),
        cache=_cache_file(text) or False,
    )


def _cache_file(text: str) -> str | None:
    """Where the parser tables of ``text`` are kept, or None when there is no private
    cache directory to keep them in (lark pickles them, so the directory must be the
    user's alone)."""
    if os.environ.get("GUARDGRAPH_NO_CACHE"):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "guardgraph"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
    except (OSError, AttributeError):  # no home, read-only, or no getuid (Windows)
        return None
    import lark

    key = hashlib.sha256(f"{lark.__version__}\n{text}".encode()).hexdigest()[:16]
    return str(base / f"grammar-{key}.lark")


@functools.cache
def keywords() -> dict[str, str]:
    """Reserved words and punctuation -> the grammar's terminal names."""
    table: dict[str, str] = {}
    for term in lark_parser().terminals:
        if term.pattern.type == "str":
            table[term.pattern.value] = term.name
    return table
