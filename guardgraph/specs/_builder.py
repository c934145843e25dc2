"""Builds the typed AST from the grammar's reductions (lark's embedded transformer).

The parser runs with ``keep_all_tokens``, so every callback sees its keywords and
punctuation too: that is what gives each node a span from its first to its last token
without any parser state (tokens carry their file, see ``_lexer.SpecToken``). Checks that
the grammar cannot express (which calls take an event pattern, ``list[...]`` vs an unknown
generic) raise :class:`BuildError`, which the parser turns into a diagnostic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, TypeVar

from lark import Token

from guardgraph.specs import ast
from guardgraph.specs._lexer import decode_string, duration_seconds
from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["AGGREGATES", "TEMPORALS", "BuildError", "Builder", "Header"]

AGGREGATES: Final = frozenset(f.value for f in ast.AggregateFunc)
TEMPORALS: Final = frozenset(op.value for op in ast.TemporalOp)
_PRIMITIVES: Final = {p.value: p for p in ast.Primitive}
_PATTERN_CALLS: Final = "count, sum, min, max, once, historically, previously and since"


class BuildError(Exception):
    """A construct the grammar accepts but the language does not."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    name: str
    version: int
    span: ast.Span


@dataclass(frozen=True, slots=True, kw_only=True)
class _Arg:
    """One call argument before we know whether it is an expression or a pattern."""

    expr: ast.Expr | None  # None for `any`
    negated_any: bool
    where: ast.Expr | None
    window: ast.DurationLit | None
    where_token: Token | None
    window_token: Token | None
    span: ast.Span


@dataclass(frozen=True, slots=True, kw_only=True)
class _Clause:
    """A rule's `on`, `else` or `repair` clause, or a tool's `untrusted` suffix."""

    kind: str
    names: tuple[str, ...] = ()
    decision: ast.Decision | None = None
    message: str | None = None
    span: ast.Span


_T = TypeVar("_T")
_Child = Token | ast.Expr | ast.TypeExpr | ast.Field | ast.Param | _Arg | _Clause | None


def span_of(children: Sequence[object]) -> ast.Span:
    """From the first positioned child to the last one (hot: one call per node)."""
    file, line, column = "<string>", 1, 1
    for child in children:
        if isinstance(child, Token):
            file, line, column = getattr(child, "file", file), child.line or 1, child.column or 1
            break
        span = getattr(child, "span", None)
        if isinstance(span, ast.Span):
            file, line, column = span.file, span.line, span.column
            break
    end_line, end_column = line, column
    for child in reversed(children):
        if isinstance(child, Token):
            end_line, end_column = child.end_line or 1, child.end_column or 1
            break
        span = getattr(child, "span", None)
        if isinstance(span, ast.Span):
            end_line, end_column = span.end_line, span.end_column
            break
    return ast.Span(file=file, line=line, column=column, end_line=end_line, end_column=end_column)


def token_span(tok: Token) -> ast.Span:
    return span_of([tok])


def _error(message: str, at: object, *, label: str, help: str | None = None) -> BuildError:
    return BuildError(
        Diagnostic(
            code="GG101",
            message=message,
            span=span_of([at]),
            help=help,
            data=(("label", label),),
        )
    )


def _tokens(children: list[_Child], *types: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type in types]


def _nodes(children: list[_Child], kind: type[_T] | tuple[type[_T], ...]) -> list[_T]:
    return [c for c in children if isinstance(c, kind)]


def _after(children: list[_Child], keyword: str) -> _Child:
    """The child right after the token ``keyword`` (for clauses like ``when e``)."""
    for i, c in enumerate(children):
        if isinstance(c, Token) and c.type == keyword:
            return children[i + 1]
    return None


def _type(children: list[_Child]) -> ast.TypeExpr:
    """The (only) type among a reduction's children."""
    for c in children:
        if isinstance(c, ast.PrimType | ast.ListType | ast.SetType | ast.OptionalType):
            return c
        if isinstance(c, ast.NamedType):
            return c
    raise AssertionError("the grammar puts a type here")


def _string(tok: Token) -> str:
    return decode_string(str(tok)[1:-1])[0]


_TYPE_NODES: Final = (ast.PrimType, ast.ListType, ast.SetType, ast.OptionalType, ast.NamedType)
_EXPR_NODES: Final = (
    ast.IntLit,
    ast.RealLit,
    ast.StrLit,
    ast.BoolLit,
    ast.DurationLit,
    ast.Name,
    ast.Attribute,
    ast.Unary,
    ast.Binary,
    ast.SetLit,
    ast.ListLit,
    ast.Call,
    ast.Quantifier,
    ast.Aggregate,
    ast.Temporal,
    ast.Since,
)


class Builder:
    """Callbacks named after the grammar's rules and aliases; each returns an AST value."""

    # ---------------------------------------------------------------- file structure

    def header(self, c: list[_Child]) -> Header:
        name, version = _tokens(c, "NAME", "INT")
        return Header(name=str(name), version=int(version.replace("_", "")), span=span_of(c))

    def include(self, c: list[_Child]) -> ast.Include:
        return ast.Include(path=_string(_tokens(c, "STRING")[0]), span=span_of(c))

    def record(self, c: list[_Child]) -> ast.RecordDecl:
        return ast.RecordDecl(name=str(c[1]), fields=tuple(_nodes(c, ast.Field)), span=span_of(c))

    def field(self, c: list[_Child]) -> ast.Field:
        typ = _type(c)
        return ast.Field(name=str(c[0]), type=typ, span=span_of(c))

    def enum(self, c: list[_Child]) -> ast.EnumDecl:
        values = tuple(_string(t) for t in _tokens(c, "STRING"))
        return ast.EnumDecl(name=str(c[1]), values=values, span=span_of(c))

    def tool(self, c: list[_Child]) -> ast.ToolDecl:
        returns = next((x for x in c if isinstance(x, _TYPE_NODES)), None)
        untrusted = next((x for x in c if isinstance(x, _Clause)), None)
        return ast.ToolDecl(
            name=str(c[1]),
            params=tuple(_nodes(c, ast.Param)),
            returns=returns,
            untrusted=untrusted is not None,
            untrusted_fields=untrusted.names if untrusted else (),
            span=span_of(c),
        )

    def param(self, c: list[_Child]) -> ast.Param:
        typ = _type(c)
        sensitive = bool(_tokens(c, "SENSITIVE"))
        return ast.Param(name=str(c[0]), type=typ, sensitive=sensitive, span=span_of(c))

    def untrusted(self, c: list[_Child]) -> _Clause:
        names = tuple(str(t) for t in _tokens(c, "NAME"))
        return _Clause(kind="untrusted", names=names, span=span_of(c))

    def fact(self, c: list[_Child]) -> ast.FactDecl:
        typ = _type(c)
        return ast.FactDecl(name=str(c[1]), type=typ, span=span_of(c))

    def const(self, c: list[_Child]) -> ast.ConstDecl:
        value = c[3]
        assert isinstance(value, _EXPR_NODES)
        return ast.ConstDecl(name=str(c[1]), value=value, span=span_of(c))

    def rule(self, c: list[_Child]) -> ast.Rule:
        clauses = {x.kind: x for x in c if isinstance(x, _Clause)}
        when = _after(c, "WHEN")
        require = _after(c, "REQUIRE")
        assert isinstance(require, _EXPR_NODES)
        otherwise = clauses.get("otherwise")
        return ast.Rule(
            name=str(c[1]),
            targets=clauses["targets"].names,
            require=require,
            when=when if isinstance(when, _EXPR_NODES) else None,
            otherwise=otherwise.decision or ast.Decision.DENY if otherwise else ast.Decision.DENY,
            message=otherwise.message if otherwise else None,
            repair=clauses["repair"].names if "repair" in clauses else (),
            span=span_of(c),
        )

    def targets(self, c: list[_Child]) -> _Clause:
        names = tuple(str(t) for t in c if isinstance(t, Token) and t.type != "COMMA")
        return _Clause(kind="targets", names=names, span=span_of(c))

    def otherwise(self, c: list[_Child]) -> _Clause:
        decision = ast.Decision(str(c[1]))
        message = _tokens(c, "STRING")
        return _Clause(
            kind="otherwise",
            decision=decision,
            message=_string(message[0]) if message else None,
            span=span_of(c),
        )

    def repair(self, c: list[_Child]) -> _Clause:
        names = tuple(str(t) for t in _tokens(c, "NAME"))
        return _Clause(kind="repair", names=names, span=span_of(c))

    # ---------------------------------------------------------------- types

    def named_type(self, c: list[_Child]) -> ast.TypeExpr:
        name = str(c[0])
        if name in _PRIMITIVES:
            return ast.PrimType(name=_PRIMITIVES[name], span=span_of(c))
        return ast.NamedType(name=name, span=span_of(c))

    def generic_type(self, c: list[_Child]) -> ast.TypeExpr:
        inner = _type(c)
        kind = str(c[0])
        if kind == "list":
            return ast.ListType(element=inner, span=span_of(c))
        if kind == "set":
            return ast.SetType(element=inner, span=span_of(c))
        raise _error(
            f"unknown generic type `{kind}[...]`",
            c[0],
            label="not a generic type",
            help="the generic types are `list[T]` and `set[T]`",
        )

    def optional_type(self, c: list[_Child]) -> ast.OptionalType:
        inner = _type(c)
        return ast.OptionalType(inner=inner, span=span_of(c))

    # ---------------------------------------------------------------- expressions

    def quantifier(self, c: list[_Child]) -> ast.Quantifier:
        domain, body = c[3], c[5]
        assert isinstance(domain, _EXPR_NODES) and isinstance(body, _EXPR_NODES)
        return ast.Quantifier(
            kind=ast.QuantifierKind(str(c[0])),
            var=str(c[1]),
            domain=domain,
            body=body,
            span=span_of(c),
        )

    def binary(self, c: list[_Child]) -> ast.Binary:
        left, right = c[0], c[-1]
        assert isinstance(left, _EXPR_NODES) and isinstance(right, _EXPR_NODES)
        op = ast.BinOp(" ".join(str(t) for t in c[1:-1]))
        return ast.Binary(op=op, left=left, right=right, span=span_of(c))

    def unary(self, c: list[_Child]) -> ast.Unary:
        operand = c[1]
        assert isinstance(operand, _EXPR_NODES)
        return ast.Unary(op=ast.UnOp(str(c[0])), operand=operand, span=span_of(c))

    def attribute(self, c: list[_Child]) -> ast.Attribute:
        value = c[0]
        assert isinstance(value, _EXPR_NODES)
        return ast.Attribute(value=value, attr=str(c[2]), span=span_of(c))

    def int_lit(self, c: list[_Child]) -> ast.IntLit:
        text = str(c[0])
        return ast.IntLit(value=int(text.replace("_", "")), text=text, span=span_of(c))

    def real_lit(self, c: list[_Child]) -> ast.RealLit:
        text = str(c[0])
        return ast.RealLit(value=Fraction(text.replace("_", "")), text=text, span=span_of(c))

    def str_lit(self, c: list[_Child]) -> ast.StrLit:
        assert isinstance(c[0], Token)
        return ast.StrLit(value=_string(c[0]), span=span_of(c))

    def duration_lit(self, c: list[_Child]) -> ast.DurationLit:
        return _duration(c[0])

    def true_lit(self, c: list[_Child]) -> ast.BoolLit:
        return ast.BoolLit(value=True, span=span_of(c))

    def false_lit(self, c: list[_Child]) -> ast.BoolLit:
        return ast.BoolLit(value=False, span=span_of(c))

    def name(self, c: list[_Child]) -> ast.Name:
        return ast.Name(id=str(c[0]), span=span_of(c))

    def paren(self, c: list[_Child]) -> ast.Expr:
        inner = c[1]
        assert isinstance(inner, _EXPR_NODES)
        return inner

    def set_lit(self, c: list[_Child]) -> ast.SetLit:
        return ast.SetLit(items=tuple(_nodes(c, _EXPR_NODES)), span=span_of(c))

    def list_lit(self, c: list[_Child]) -> ast.ListLit:
        return ast.ListLit(items=tuple(_nodes(c, _EXPR_NODES)), span=span_of(c))

    def arg(self, c: list[_Child]) -> _Arg:
        expr = c[0]
        assert isinstance(expr, _EXPR_NODES)
        return _arg(c, expr=expr, negated_any=False)

    def any_arg(self, c: list[_Child]) -> _Arg:
        return _arg(c, expr=None, negated_any=bool(_tokens(c[:1], "NOT")))

    def call(self, c: list[_Child]) -> ast.Expr:
        func = str(c[0])
        args = _nodes(c, _Arg)
        span = span_of(c)
        if func in AGGREGATES:
            return _aggregate(ast.AggregateFunc(func), args, c[0], span)
        if func in TEMPORALS or func == "since":
            return _temporal(func, args, c[0], span)
        plain: list[ast.Expr] = []
        for a in args:
            bad = a.where_token or a.window_token
            if bad is not None or a.expr is None:
                at = bad if bad is not None else a
                word = str(bad) if bad is not None else "any"
                raise _error(
                    f"`{word}` is only allowed in an event pattern",
                    at,
                    label=f"`{func}` takes plain expressions",
                    help=f"event patterns are arguments of {_PATTERN_CALLS}",
                )
            plain.append(a.expr)
        return ast.Call(func=func, args=tuple(plain), span=span)


def _duration(tok: _Child) -> ast.DurationLit:
    assert isinstance(tok, Token)
    text = str(tok)
    return ast.DurationLit(seconds=duration_seconds(text), text=text, span=token_span(tok))


def _arg(c: list[_Child], *, expr: ast.Expr | None, negated_any: bool) -> _Arg:
    where = _after(c, "WHERE")
    window_tok = _after(c, "WITHIN")
    return _Arg(
        expr=expr,
        negated_any=negated_any,
        where=where if isinstance(where, _EXPR_NODES) else None,
        window=_duration(window_tok) if window_tok is not None else None,
        where_token=next(iter(_tokens(c, "WHERE")), None),
        window_token=next(iter(_tokens(c, "WITHIN")), None),
        span=span_of(c),
    )


def _one_arg(func: str, args: list[_Arg], at: _Child, usage: str) -> _Arg:
    if len(args) != 1:
        raise _error(
            f"`{func}` takes one event pattern, got {len(args)} arguments",
            at,
            label="wrong number of arguments",
            help=f"write it as {usage}",
        )
    return args[0]


def _pattern(arg: _Arg, func: str, usage: str) -> ast.EventPattern:
    """``[not] (TOOL | any) [where e]`` from a parsed argument."""
    expr, negated = arg.expr, arg.negated_any
    if isinstance(expr, ast.Unary) and expr.op is ast.UnOp.NOT:
        expr, negated = expr.operand, True
    if expr is None:
        tool = None
    elif isinstance(expr, ast.Name):
        tool = expr.id
    else:
        raise _error(
            f"`{func}` expects an event pattern",
            expr,
            label="expected a tool name or `any`",
            help=f"write it as {usage}",
        )
    return ast.EventPattern(tool=tool, where=arg.where, negated=negated, span=arg.span)


def _aggregate(
    func: ast.AggregateFunc, args: list[_Arg], at: _Child, span: ast.Span
) -> ast.Aggregate:
    if func is ast.AggregateFunc.COUNT:
        usage = "count(TOOL [where COND] [within 24h])"
        arg = _one_arg(func.value, args, at, usage)
        return ast.Aggregate(
            func=func, pattern=_pattern(arg, func.value, usage), window=arg.window, span=span
        )
    usage = f"{func.value}(TOOL.field [where COND] [within 24h])"
    arg = _one_arg(func.value, args, at, usage)
    expr, negated = arg.expr, False
    if isinstance(expr, ast.Unary) and expr.op is ast.UnOp.NOT:
        expr, negated = expr.operand, True
    if not (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)):
        raise _error(
            f"`{func.value}` aggregates a field of a tool's past calls",
            arg.expr if arg.expr is not None else arg,
            label="expected `TOOL.field`",
            help=f"write it as {usage}",
        )
    pattern = ast.EventPattern(tool=expr.value.id, where=arg.where, negated=negated, span=arg.span)
    return ast.Aggregate(func=func, pattern=pattern, field=expr.attr, window=arg.window, span=span)


def _temporal(func: str, args: list[_Arg], at: _Child, span: ast.Span) -> ast.Expr:
    if func == "since":
        usage = "since(HELD, ANCHOR), e.g. since(not push, run_tests)"
        if len(args) != 2:
            raise _error(
                f"`since` takes two event patterns, got {len(args)}",
                at,
                label="wrong number of arguments",
                help=f"write it as {usage}",
            )
        for a in args:
            if a.window_token is not None:
                raise _error(
                    "`since` takes no `within` window",
                    a.window_token,
                    label="not allowed here",
                    help="use once(... within D) for a windowed condition",
                )
        return ast.Since(
            held=_pattern(args[0], func, usage), anchor=_pattern(args[1], func, usage), span=span
        )
    usage = f"{func}(TOOL [where COND] [within 10m])"
    arg = _one_arg(func, args, at, usage)
    return ast.Temporal(
        op=ast.TemporalOp(func), pattern=_pattern(arg, func, usage), window=arg.window, span=span
    )
