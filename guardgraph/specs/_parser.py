"""The parser of the spec language: text -> ``SpecFile`` or diagnostics, never an exception.

Pipeline: ``_lexer.tokenize`` -> split the tokens into top-level items -> parse each item
with the LALR(1) grammar in ``_grammar.lark`` (lark, with ``_builder.Builder`` as embedded
transformer, so no parse tree is built) -> attach comments -> ``SpecFile``.

Error recovery: every top-level item starts with a keyword that appears nowhere else
(``spec include type enum fact const rule``, and ``tool`` followed by a name), so the token
stream is cut there and each item is parsed on its own. An error costs the rest of its
item and nothing else, so one run reports the errors of independent items; the list is
capped at ``MAX_ERRORS`` (then GG107).

Comments: those before the header, or on its line, go to ``SpecFile.comments``; a comment
inside an item, or after it on the item's last line, goes to that item; any other comment
goes to the next item (an include or a declaration or a rule), and those after the last
item to ``SpecFile.trailing_comments``. Comments inside a rule body therefore end up in
``Rule.comments`` in source order, and the formatter writes them above the rule. Blank
lines before or among an item's leading comments are kept as "" entries (one per run),
so the formatter can keep comment paragraphs and the author's grouping of declarations.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass
from typing import Final

from lark.exceptions import UnexpectedInput

from guardgraph.specs import ast
from guardgraph.specs._builder import BuildError, Header
from guardgraph.specs._grammar import grammar_text, keywords, lark_parser
from guardgraph.specs._lexer import Comment, SpecToken, tokenize
from guardgraph.specs._syntax_errors import (
    MAX_ERRORS,
    capped,
    misplaced,
    missing_header,
    position,
    syntax_error,
)
from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["MAX_ERRORS", "grammar_text", "keywords", "parse"]

_ITEM_KEYWORDS: Final = frozenset({"SPEC", "INCLUDE", "TYPE", "ENUM", "FACT", "CONST", "RULE"})
# The keywords that open a rule's clauses: an end-of-line comment belongs to the clause
# whose keyword comes last before it.
_CLAUSES: Final = frozenset({"RULE", "ON", "WHEN", "REQUIRE", "ELSE", "REPAIR"})
_DECLS: Final = (ast.RecordDecl, ast.EnumDecl, ast.ToolDecl, ast.FactDecl, ast.ConstDecl, ast.Rule)


def parse(
    text: str, *, path: str = "<string>"
) -> tuple[ast.SpecFile | None, tuple[Diagnostic, ...]]:
    """Parse one spec file.

    Returns the file and no diagnostics, or None and the syntax errors (codes GG1xx),
    sorted by position. Never raises on any text.

    >>> spec, diags = parse("spec demo version 1\\nconst cap = 10")
    >>> spec.items[0].name, diags
    ('cap', ())
    """
    if not isinstance(text, str):
        raise TypeError(f"expected the spec text as str, got {type(text).__name__}")
    kw = keywords()
    lexed = tokenize(text, path=path, keywords=kw)
    segments = _segments(lexed.tokens)
    bad_offsets = lexed.error_offsets
    diags: list[Diagnostic] = list(lexed.diagnostics)
    header: Header | None = None
    includes: list[ast.Include] = []
    items: list[ast.Decl] = []
    owners: list[_Owner] = []  # parallel to nodes
    nodes: list[Header | ast.Include | ast.Decl] = []
    for i, seg in enumerate(segments):
        boundary = segments[i + 1][0] if i + 1 < len(segments) else lexed.end
        first = seg[0]
        lexical_error = _has_offset(bad_offsets, first.start_pos or 0, boundary.start_pos or 0)
        if i == 0 and first.type != "SPEC":
            diags.append(missing_header(first))
            if first.type not in _ITEM_KEYWORDS and first.type != "TOOL":
                continue
        if first.type == "SPEC" and (i != 0 or header is not None):
            diags.append(misplaced(first, "the header must come first, and only once"))
            continue
        if first.type == "INCLUDE" and items:
            diags.append(misplaced(first, "`include` lines must come right after the header"))
            continue
        start = {"SPEC": "header", "INCLUDE": "include"}.get(first.type, "item")
        try:
            node: object = lark_parser().parse(seg, start=start)
        except UnexpectedInput as exc:
            if not lexical_error:
                diags.append(syntax_error(exc, seg, header_segment=start == "header"))
            continue
        except BuildError as exc:
            if not lexical_error:
                diags.append(exc.diagnostic)
            continue
        if isinstance(node, Header):
            header = node
        elif isinstance(node, ast.Include):
            includes.append(node)
        elif isinstance(node, _DECLS):
            items.append(node)
        else:  # pragma: no cover - every item rule has a Builder callback
            raise AssertionError(f"unexpected parse result {type(node).__name__}")
        last = seg[-1]
        owners.append(
            _Owner(
                start=first.start_pos or 0,
                end=last.end_pos or 0,
                first_line=first.line or 1,
                last_line=last.end_line or 1,
                clauses=tuple((t.start_pos or 0, t.value) for t in seg if t.type in _CLAUSES)
                if isinstance(node, ast.Rule) else (),
            )
        )
        nodes.append(node)
    if not segments:
        diags.append(missing_header(lexed.end))
    errors = capped(sorted(diags, key=position))
    if errors or header is None:
        return None, tuple(errors)
    per_node, ends, trailing = _attach_comments(lexed.comments, owners, lexed.end.line or 1)
    attached = [
        dataclasses.replace(n, comments=tuple(c), end_comments=tuple(e))
        if (c or e) and not isinstance(n, Header) else n
        for n, c, e in zip(nodes, per_node, ends, strict=True)
    ]
    # the header is node 0 whenever parsing succeeded; a comment after it on its line
    # stays with the file's leading comments, as before
    leading = per_node[0] + [text for _, text in ends[0]]
    spec = ast.SpecFile(
        name=header.name,
        version=header.version,
        includes=tuple(n for n in attached if isinstance(n, ast.Include)),
        items=tuple(n for n in attached if not isinstance(n, ast.Include | Header)),
        comments=tuple(leading),
        trailing_comments=tuple(trailing),
        path=path,
        span=ast.Span(
            file=path,
            line=1,
            column=1,
            end_line=lexed.end.line or 1,
            end_column=lexed.end.column or 1,
        ),
    )
    return spec, ()


# ------------------------------------------------------------------------- structure


def _segments(tokens: tuple[SpecToken, ...]) -> list[list[SpecToken]]:
    """Cut the token stream before every top-level keyword."""
    segments: list[list[SpecToken]] = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        # An item keyword starts an item when a name follows it (`rule x`, `tool f`: an
        # expression never has a name after `tool`, the context name) or when it opens a
        # line; elsewhere, as in `tool f(type: str)`, it is an error inside the item.
        starts = (tok.type in _ITEM_KEYWORDS or tok.type == "TOOL") and (
            (i + 1 < n and tokens[i + 1].type in ("NAME", "STRING"))
            or i == 0
            or (tok.type != "TOOL" and tokens[i - 1].end_line != tok.line)
        )
        if starts or not segments:
            segments.append([tok])
        else:
            segments[-1].append(tok)
    return segments


def _has_offset(offsets: tuple[int, ...], lo: int, hi: int) -> bool:
    i = bisect.bisect_left(offsets, lo)
    return i < len(offsets) and offsets[i] < hi


@dataclass(frozen=True, slots=True, kw_only=True)
class _Owner:
    """Where a parsed item lies: offsets and first/last lines."""

    start: int
    end: int
    first_line: int
    last_line: int
    clauses: tuple[tuple[int, str], ...] = ()  # a rule's clause keywords: (offset, word)


def _attach_comments(
    comments: tuple[Comment, ...], owners: list[_Owner], last_line: int
) -> tuple[list[list[str]], list[list[tuple[str, str]]], list[str]]:
    """Each item's comments, its end-of-line comments (by clause), and the file's trailing
    ones (see the module docstring).

    An empty string in the result stands for blank lines between an item's leading
    comments, or before them (the item opens a new group), so the formatter keeps
    paragraphs of comments and groups of declarations the way the author spaced them.
    """
    inner: list[list[str]] = [[] for _ in owners]
    ends: list[list[tuple[str, str]]] = [[] for _ in owners]
    leading: list[dict[int, str]] = [{} for _ in owners]
    tail: dict[int, str] = {}
    starts = [o.start for o in owners]
    for com in comments:
        i = bisect.bisect_right(starts, com.start) - 1  # the last item starting before it
        if i >= 0 and (com.start < owners[i].end or com.line == owners[i].last_line):
            if com.trailing:
                clause = [word for offset, word in owners[i].clauses if offset < com.start]
                ends[i].append((clause[-1] if clause else "", com.text))
            else:
                inner[i].append(com.text)
        elif i + 1 < len(owners):
            leading[i + 1][com.line] = com.text
        else:
            tail[com.line] = com.text
    per_node: list[list[str]] = []
    previous_end = 0
    for k, owner in enumerate(owners):
        per_node.append(_gap(leading[k], previous_end + 1, owner.first_line) + inner[k])
        previous_end = owner.last_line
    trailing = _gap(tail, previous_end + 1, last_line + 1)
    while trailing and trailing[-1] == "":
        trailing.pop()
    while trailing and trailing[0] == "":
        trailing.pop(0)
    return per_node, ends, trailing


def _gap(lines: dict[int, str], lo: int, hi: int) -> list[str]:
    """The comments on lines ``lo`` to ``hi - 1``, with "" for each run of blank lines
    (nothing but comments and blank lines lives between two items)."""
    out: list[str] = []
    line = lo
    for number in sorted(lines):
        if number > line and (not out or out[-1] != ""):
            out.append("")
        out.append(lines[number])
        line = number + 1
    if hi > line and (not out or out[-1] != ""):
        out.append("")
    return out
