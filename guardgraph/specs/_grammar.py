"""The grammar of the spec language, loaded once: the lark LALR(1) parser and its terminals.

``_grammar.lark`` is the single source of the syntax and of the reserved words; this
module builds the parser from it (about 0.1 s, once per process) with
``_builder.Builder`` as embedded transformer, so parsing yields AST nodes directly.
"""

from __future__ import annotations

import functools
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
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer=_Feed,
        start=["header", "include", "item"],
        keep_all_tokens=True,
        maybe_placeholders=False,
        transformer=Builder(),
    )


@functools.cache
def keywords() -> dict[str, str]:
    """Reserved words and punctuation -> the grammar's terminal names."""
    table: dict[str, str] = {}
    for term in lark_parser().terminals:
        if term.pattern.type == "str":
            table[term.pattern.value] = term.name
    return table
