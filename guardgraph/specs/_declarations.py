"""Checking declarations: types resolve, names are unique, untrusted fields exist, consts
are constant. Produces the :class:`Env` that rules are checked against."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace

from guardgraph.specs import ast
from guardgraph.specs._context import CONTEXT_ROOTS
from guardgraph.specs._infer import Infer
from guardgraph.specs._locate import Locator
from guardgraph.specs._scope import Env, Scope, ScopeKind, Sink, TargetKind, did_you_mean, where_is
from guardgraph.specs._types import UNKNOWN, Kind, Ty

__all__ = ["DeclarationChecker", "Tables", "const_scope"]

_PRIMS = ("int", "real", "bool", "str")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tables:
    """The declarations of a spec by name, in load order (first declaration wins)."""

    records: dict[str, ast.RecordDecl]
    enums: dict[str, ast.EnumDecl]
    tools: dict[str, ast.ToolDecl]
    facts: dict[str, ast.FactDecl]
    consts: dict[str, ast.ConstDecl]


class DeclarationChecker:
    """Checks every declaration once (GG206 for enum values, GG208, GG212-GG215)."""

    def __init__(self, sink: Sink, locator: Locator) -> None:
        self._sink = sink
        self._at = locator

    def check(self, t: Tables) -> Env:
        env = Env(records=t.records, enums=t.enums, tools=t.tools, facts=t.facts, consts={})
        for record in t.records.values():
            self._unique([f.name for f in record.fields], [f.span for f in record.fields],
                         f"field of record {record.name}", record.span)
            for f in record.fields:
                self._type(f.type, env, f.span or record.span, optional_ok=True)
        for enum in t.enums.values():
            quoted = [f'"{v}"' for v in enum.values]
            spans = [
                self._at.word(enum.span, q, nth=quoted[:i].count(q)) for i, q in enumerate(quoted)
            ]
            self._unique(quoted, spans, f"value of enum {enum.name}", enum.span, code="GG206")
        canonical: dict[str, ast.ToolDecl] = {}
        for tool in t.tools.values():
            self._tool(tool, env)
            self._distinct_tool(tool, canonical)
        for fact in t.facts.values():
            self._type(fact.type, env, fact.span, optional_ok=False)
        infer = Infer(env, self._sink, self._at)
        consts: dict[str, Ty] = {}
        for c in t.consts.values():
            consts[c.name] = self._const(c, infer)
            env = replace(env, consts=dict(consts))
            infer = Infer(env, self._sink, self._at)
        return env

    def _distinct_tool(self, tool: ast.ToolDecl, canonical: dict[str, ast.ToolDecl]) -> None:
        """Calls are matched by the canonical name (NFKC, then case folding; issue #11),
        so two tools that are one name under it would be one tool to the guard."""
        key = unicodedata.normalize("NFKC", tool.name).casefold()
        first = canonical.setdefault(key, tool)
        if first is tool:
            return
        self._sink.emit(
            "GG218",
            f"tools `{first.name}` and `{tool.name}` differ only in case or Unicode form",
            self._at.word(tool.span, tool.name, after="tool"),
            label="the same tool name to the guard",
            help="calls are matched by the name after NFKC and case folding; rename one",
            notes=(f"`{first.name}` is declared at "
                   f"{where_is(self._at.word(first.span, first.name, after='tool'))}",),
        )

    def _tool(self, tool: ast.ToolDecl, env: Env) -> None:
        self._unique([p.name for p in tool.params], [p.span for p in tool.params],
                     f"parameter of tool {tool.name}", tool.span)
        for p in tool.params:
            if p.name in CONTEXT_ROOTS:
                self._sink.emit(
                    "GG219",
                    f"argument `{p.name}` of `{tool.name}` is named like the context name "
                    f"`{p.name}`, which it would hide from every rule on the tool",
                    p.span or self._at.word(tool.span, p.name, after="("),
                    label="a context name",
                    help=f"rename the argument (e.g. `{p.name}_name`); the context names are "
                    + ", ".join(f"`{n}`" for n in sorted(CONTEXT_ROOTS)),
                )
        for p in tool.params:
            self._type(p.type, env, p.span or tool.span, optional_ok=True)
        if tool.returns is not None:
            self._type(tool.returns, env, tool.span, optional_ok=False)
        if not tool.untrusted_fields:
            return
        out = env.resolve(tool.returns) if tool.returns is not None else None
        if out is not None and out.kind in (Kind.LIST, Kind.SET) and out.element is not None:
            out = out.element
        if out is not None and out.unknown:
            return
        if out is None or out.kind is not Kind.RECORD or out.name is None:
            got = "no output" if out is None else f"output {out}"
            self._sink.emit(
                "GG213",
                f"`untrusted(...)` names fields, but tool `{tool.name}` has {got}",
                self._at.word(tool.span, "untrusted"),
                help="name fields only for a record (or list of records) output; "
                "write plain `untrusted` to mark the whole output",
            )
            return
        fields = env.record_fields(out.name)
        for name in tool.untrusted_fields:
            if name not in fields:
                self._sink.emit(
                    "GG213",
                    f"untrusted field `{name}` is not a field of {out.name}, "
                    f"the output of `{tool.name}`",
                    self._at.word(tool.span, name, after="untrusted"),
                    label="not a field of the output",
                    help=did_you_mean(name, fields) or f"fields: {', '.join(fields)}",
                )

    def _type(
        self, texpr: ast.TypeExpr, env: Env, span: ast.Span | None, *, optional_ok: bool
    ) -> None:
        at = texpr.span or span
        match texpr:
            case ast.NamedType(name=name):
                if name not in env.records and name not in env.enums:
                    known = [*_PRIMS, *env.records, *env.enums]
                    self._sink.emit(
                        "GG208",
                        f"unknown type `{name}`",
                        at,
                        help=did_you_mean(name, known)
                        or "declare it with `type NAME = {...}` or `enum NAME = ...`",
                    )
            case ast.ListType(element=el) | ast.SetType(element=el):
                self._type(el, env, at, optional_ok=False)
            case ast.OptionalType(inner=inner):
                if not optional_ok:
                    self._sink.emit(
                        "GG208",
                        "an optional type `T?` is only allowed for a tool parameter or a "
                        "record field",
                        at,
                    )
                self._type(inner, env, at, optional_ok=False)

    def _unique(
        self,
        names: list[str],
        spans: list[ast.Span | None],
        what: str,
        fallback: ast.Span | None,
        *,
        code: str = "GG212",
    ) -> None:
        first: dict[str, ast.Span | None] = {}
        for name, span in zip(names, spans, strict=True):
            if name in first:
                self._sink.emit(
                    code,
                    f"{name if name.startswith(chr(34)) else f'`{name}`'} is declared twice "
                    f"as a {what}",
                    span or fallback,
                    notes=(f"first declared at {where_is(first[name] or fallback)}",),
                )
            else:
                first[name] = span

    def _const(self, c: ast.ConstDecl, infer: Infer) -> Ty:
        bad = _non_literal(c.value)
        if bad is not None:
            self._sink.emit(
                "GG214",
                f"const `{c.name}` must be a literal or a set/list of literals",
                bad.span or c.span,
                help="a const is fixed when the spec loads; declare a `fact` for a value "
                "the host supplies at run time",
            )
            return UNKNOWN
        return infer.expr(c.value, const_scope(c))


def const_scope(c: ast.ConstDecl) -> Scope:
    return Scope(kind=ScopeKind.CONST, target=TargetKind.ANY, fallback=c.span)


def _non_literal(e: ast.Expr, *, top: bool = True) -> ast.Expr | None:
    """The first part of a const's value that is not a literal, a negated number, or (at
    the top) a set/list of those; None when the whole value is constant."""
    match e:
        case ast.IntLit() | ast.RealLit() | ast.StrLit() | ast.BoolLit() | ast.DurationLit():
            return None
        case ast.Unary(op=ast.UnOp.NEG, operand=ast.IntLit() | ast.RealLit()):
            return None
        case ast.SetLit(items=items) | ast.ListLit(items=items) if top:
            return next((bad for i in items if (bad := _non_literal(i, top=False))), None)
    return e
