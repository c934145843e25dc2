"""Syntax diagnostics (GG101-GG107): what the parser expected, in words, with hints.

lark reports the terminals an LALR state could shift; :func:`_accepts` narrows them to
those the parse could really continue with, and :func:`_expected_words` folds the long
sets into "an expression" / "an operator", so a message reads
``unexpected `<`; expected an operator, `else`, `repair` or end of the rule``.
"""

from __future__ import annotations

from typing import Final

from lark import Token
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_analysis import Shift

from guardgraph.specs._builder import token_span
from guardgraph.specs._grammar import keywords
from guardgraph.specs._lexer import SpecToken
from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["MAX_ERRORS", "capped", "misplaced", "missing_header", "position", "syntax_error"]

MAX_ERRORS: Final = 20
_HEADER_HELP: Final = "a spec file starts with its name and version, e.g. `spec banking version 3`"


def position(d: Diagnostic) -> tuple[int, int]:
    return (d.span.line, d.span.column) if d.span else (0, 0)


def capped(diags: list[Diagnostic]) -> list[Diagnostic]:
    if len(diags) <= MAX_ERRORS:
        return diags
    rest = diags[MAX_ERRORS]
    return [
        *diags[:MAX_ERRORS],
        Diagnostic(
            code="GG107",
            message=f"too many errors ({len(diags)}); stopped after the first {MAX_ERRORS}",
            span=rest.span,
            help="fix the errors above and run again",
        ),
    ]


def missing_header(first: Token) -> Diagnostic:
    found = "an empty file" if first.type == "$END" else _describe(first)
    return Diagnostic(
        code="GG104",
        message=f"missing header: expected `spec NAME version N`, found {found}",
        span=token_span(first),
        help=_HEADER_HELP,
        data=(("label", "expected `spec` here"),),
    )


def misplaced(tok: Token, why: str) -> Diagnostic:
    return Diagnostic(
        code="GG101",
        message=f"unexpected keyword `{tok}`: {why}",
        span=token_span(tok),
        data=(("label", "misplaced"),),
    )


def syntax_error(exc: UnexpectedInput, seg: list[SpecToken], *, header_segment: bool) -> Diagnostic:
    tok = exc.token if isinstance(exc, UnexpectedToken) else None
    accepted = _accepts(exc)
    item = "header" if header_segment else str(seg[0])
    if tok is None or tok.type == "$END" or not isinstance(tok, SpecToken):
        # The item stopped before it was complete: point at its last token.
        at: Token = seg[-1]
        expected = _expected_words(accepted - {"$END"}, item=item)
        found = f"end of the {item}"
        label = f"expected {expected} after this" if expected else "incomplete"
        hint = _hint(None, seg, accepted)
    else:
        at = tok
        expected = _expected_words(accepted, item=item)
        found = _describe(tok)
        label = f"expected {expected}" if expected else "not expected here"
        hint = _hint(tok, seg, accepted)
    if header_segment:
        return Diagnostic(
            code="GG104",
            message=f"malformed header: expected {expected or 'nothing more'}, found {found}",
            span=token_span(at),
            help=_HEADER_HELP,
            data=(("label", label),),
        )
    return Diagnostic(
        code="GG101",
        message=f"unexpected {found}" + (f"; expected {expected}" if expected else ""),
        span=token_span(at),
        help=hint,
        data=(("label", label),),
    )


def _hint(tok: Token | None, seg: list[SpecToken], expected: set[str]) -> str | None:
    comparisons = {"==", "!=", "<", "<=", ">", ">=", "in"}
    if (
        tok is not None
        and str(tok) in comparisons
        and any(str(t) in comparisons for t in seg[: _index(seg, tok)][-12:])
    ):
        return "comparisons do not chain: write `a < b and b < c`"
    if (
        tok is not None
        and "NAME" in expected
        and "INT" not in expected  # a name position, not the start of an expression
        and tok.type != "NAME"
        and str(tok).isidentifier()
    ):
        return f"`{tok}` is a reserved word; choose another name"
    if "REQUIRE" in expected:
        return "every rule needs a `require CONDITION` clause after `on` (and `when`)"
    if tok is not None and tok.type == "DURATION":
        return "a duration is only valid as a window: `count(TOOL within 24h)`"
    return None


def _index(seg: list[SpecToken], tok: Token) -> int:
    for i, t in enumerate(seg):
        if t is tok:
            return i
    return len(seg)


_WORDS: Final = {
    "NAME": "a name",
    "INT": "an integer",
    "REAL": "a decimal number",
    "STRING": "a string",
    "DURATION": "a duration such as 24h",
    "$END": "end of file",
}
_EXPR_START: Final = frozenset(
    {
        "INT",
        "REAL",
        "STRING",
        "DURATION",
        "NAME",
        "TRUE",
        "FALSE",
        "LPAR",
        "LBRACE",
        "LSQB",
        "MINUS",
        "NOT",
        "FORALL",
        "EXISTS",
        "TOOL",
    }
)


def _operator_terms() -> frozenset[str]:
    kw = keywords()
    ops = (
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "not",
        "+",
        "-",
        "*",
        "/",
        "%",
        "and",
        "or",
        "implies",
        ".",
    )
    return frozenset(kw[o] for o in ops)


def _accepts(exc: UnexpectedInput) -> set[str]:
    """The terminals the parser would have taken where it stopped.

    lark's ``expected`` is the LALR state's set, which merges contexts (it offers `)`
    where no parenthesis is open); this replays the parse table on a copy of the state
    stack, reductions included, without running any callback.
    """
    fallback: set[str] = set(getattr(exc, "expected", None) or ())
    parser = getattr(exc, "interactive_parser", None)
    if parser is None:
        return fallback
    state = parser.parser_state
    table = state.parse_conf.parse_table
    accepted: set[str] = set()
    ends = set(table.end_states.values())
    for term in [t for t in table.states[state.state_stack[-1]] if t.isupper()]:
        stack = list(state.state_stack)
        for _ in range(1000):  # a reduction chain is bounded by the grammar's depth
            action = table.states[stack[-1]].get(term)
            if action is None:
                break
            kind, arg = action
            if kind is Shift:
                accepted.add(term)
                break
            size = len(arg.expansion)
            if size:
                del stack[-size:]
            if not stack:
                break
            goto = table.states[stack[-1]].get(arg.origin.name)
            if goto is None:
                if arg.origin.name in state.parse_conf.start or not stack:
                    accepted.add(term)
                break
            stack.append(goto[1])
            if term == "$END" and stack[-1] in ends:
                accepted.add(term)
                break
    return accepted or fallback


def _expected_words(expected: set[str], *, item: str = "item") -> str:
    """``expected one of ...`` in human words, with expression/operator sets folded."""
    names = {v: k for k, v in keywords().items()}
    rest = set(expected)
    if "$END" in rest:
        rest.discard("$END")
        rest.add(f"end of the {item}")
    words: list[str] = []
    if {"NAME", "INT", "STRING", "LPAR"} <= rest:
        rest -= _EXPR_START
        words.append("an expression")
    ops = _operator_terms()
    if len(rest & ops) >= 4:
        rest -= ops
        words.append("an operator")
    for term in sorted(rest):
        words.append(_WORDS.get(term) or (term if " " in term else f"`{names.get(term, term)}`"))
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "NAME":
        return f"name `{tok}`"
    if tok.type == "STRING":
        text = str(tok)
        return "string " + (text if len(text) <= 30 else text[:27] + '..."')
    if tok.type in ("INT", "REAL", "DURATION"):
        return f"number `{tok}`"
    if str(tok).isidentifier():
        return f"keyword `{tok}`"
    return f"`{tok}`"
