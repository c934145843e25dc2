"""Type inference for expressions: one walk that returns a type and reports every misuse.

Each visit returns the expression's :class:`~guardgraph.specs._types.Ty`; a sub-expression
that was already wrong comes back as ``UNKNOWN`` so that its parent stays quiet (one
mistake, one diagnostic). Names resolve in the order of docs/language.md. Built-in calls
live in ``_builtins``, aggregates and temporal operators in ``_history``.
"""

from __future__ import annotations

from guardgraph.specs import ast
from guardgraph.specs._builtins import Builtins
from guardgraph.specs._history import History
from guardgraph.specs._locate import Locator
from guardgraph.specs._scope import (
    CONTEXT,
    CONTEXT_FIELDS,
    LABELS,
    Env,
    Scope,
    ScopeKind,
    Sink,
    TargetKind,
    did_you_mean,
)
from guardgraph.specs._types import (
    BOOL,
    INT,
    REAL,
    STR,
    UNKNOWN,
    Kind,
    Ty,
    assignable,
    comparable,
    is_numeric,
    join,
    list_of,
    literal_text,
    set_of,
)

__all__ = ["Infer"]

_ARITH = (ast.BinOp.ADD, ast.BinOp.SUB, ast.BinOp.MUL, ast.BinOp.DIV, ast.BinOp.MOD)
_ORDER = (ast.BinOp.LT, ast.BinOp.LE, ast.BinOp.GT, ast.BinOp.GE)
_LOGIC = (ast.BinOp.AND, ast.BinOp.OR, ast.BinOp.IMPLIES)


def _num(t: Ty) -> str:
    return str(t) if t.kind is Kind.REAL else "int or real"


class Infer:
    """Infers expression types against one spec's declarations, reporting into a sink."""

    def __init__(self, env: Env, sink: Sink, locator: Locator | None = None) -> None:
        self.env = env
        self.sink = sink
        self.at = locator or Locator(None)
        self._builtins = Builtins(self)
        self._history = History(self)

    # ------------------------------------------------------------------ entry points

    def expect(self, expr: ast.Expr, want: Ty, scope: Scope, *, what: str) -> Ty:
        got = self.expr(expr, scope)
        if not assignable(got, want):
            message = f"{what}: expected {want}, got {got}"
            self.report("GG203", message, expr, scope, label=f"expected {want}")
        return got

    def expr(self, e: ast.Expr, scope: Scope) -> Ty:
        match e:
            case ast.IntLit():
                return INT
            case ast.RealLit():
                return REAL
            case ast.StrLit():
                return STR
            case ast.BoolLit():
                return BOOL
            case ast.DurationLit():
                self.report(
                    "GG215",
                    f"duration `{e.text or str(e.seconds) + 's'}` outside a `within` window",
                    e,
                    scope,
                    help="durations only bound aggregates and temporal operators, "
                    "e.g. count(send_money within 24h)",
                )
                return UNKNOWN
            case ast.Name():
                return self.name(e, scope)
            case ast.Attribute():
                return self._attribute(e, scope)
            case ast.Unary():
                return self._unary(e, scope)
            case ast.Binary():
                return self._binary(e, scope)
            case ast.SetLit() | ast.ListLit():
                return self._collection(e, scope)
            case ast.Call():
                return self._builtins.call(e, scope)
            case ast.Quantifier():
                return self._quantifier(e, scope)
            case ast.Aggregate():
                return self._history.aggregate(e, scope)
            case ast.Temporal() | ast.Since():
                return self._history.temporal(e, scope)
        return UNKNOWN  # pragma: no cover - the match is exhaustive over Expr

    # ------------------------------------------------------------------ names

    def name(self, e: ast.Name, scope: Scope) -> Ty:
        n = e.id
        if n in scope.variables:
            return scope.variables[n]
        if n in scope.args:
            return scope.args[n]
        if n in scope.conflicting:
            self.report("GG203", f"argument `{n}` {scope.conflicting[n]}", e, scope)
            return UNKNOWN
        if n in self.env.consts:
            return self.env.consts[n]
        if scope.kind is ScopeKind.CONST:
            return self._unknown_name(e, scope)
        if scope.kind is ScopeKind.WHERE:
            return self._out_of_where(e, scope)
        if n in self.env.facts:
            return self.env.resolve(self.env.facts[n].type)
        if n == "target" and scope.target is not TargetKind.ROUTE:
            self.report(
                "GG209",
                "`target` is only in scope in an `on route` rule",
                e,
                scope,
                help="`target` is the agent a routing decision chooses",
            )
            return UNKNOWN
        if n in CONTEXT:
            return CONTEXT[n]
        if n in CONTEXT_FIELDS or n == "args":
            fields = ", ".join(f"{n}.{f}" for f in CONTEXT_FIELDS.get(n, {})) or "args.NAME"
            self.report("GG203", f"`{n}` is not a value by itself; use {fields}", e, scope)
            return UNKNOWN
        return self._unknown_name(e, scope)

    def _unknown_name(self, e: ast.Name, scope: Scope) -> Ty:
        n = e.id
        if n in scope.missing:
            self.report(
                "GG209",
                f"argument `{n}` is not a parameter of `{scope.missing[n]}`",
                e,
                scope,
                help="a rule with several targets may only use arguments all of them have",
            )
            return UNKNOWN
        if n in self.env.all_params() and scope.target is not TargetKind.TOOLS:
            self.report(
                "GG209",
                f"tool arguments such as `{n}` are not in scope in an `on {scope.target}` rule",
                e,
                scope,
                help="name the tools instead: `on TOOL, ...`",
            )
            return UNKNOWN
        if scope.kind is ScopeKind.CONST:
            self.report("GG214", f"`{n}`: a const must be a literal", e, scope)
            return UNKNOWN
        visible = [*scope.variables, *scope.args, *self.env.consts]
        if scope.kind is ScopeKind.RULE:
            visible += [*self.env.facts, *CONTEXT, *CONTEXT_FIELDS]
        hint = did_you_mean(n, visible)
        if hint is None and n in self.env.tools:
            hint = f"a tool is not a value; for its past calls use once({n}) or count({n})"
        elif hint is None and scope.kind is ScopeKind.RULE:
            hint = "declare it as a `fact` (supplied at run time) or a `const`"
        self.report("GG201", f"unknown name `{n}`", e, scope, help=hint)
        return UNKNOWN

    def _out_of_where(
        self, e: ast.Name, scope: Scope, *, shown: str | None = None, at: ast.Expr | None = None
    ) -> Ty:
        n = e.id
        if n in scope.outer_variables:
            what = f"the quantifier variable `{n}` of the current action"
        elif n in scope.outer_args:
            what = f"the current action's argument `{n}`"
        elif n == "args":
            what = f"`{shown or n}` (the current action's arguments)"
        elif n in self.env.facts:
            what = f"fact `{n}`"
        elif n in CONTEXT or n in CONTEXT_FIELDS:
            what = f"context name `{shown or n}`"
        else:
            return self._unknown_name(e, scope)
        past = f"`{scope.tools[0]}`" if scope.tools else "the past event"
        self.report(
            "GG209",
            f"{what} is not in scope inside `where`",
            at or e,
            scope,
            help=f"inside `where`, bare names are the arguments of the past call of {past} "
            "(and consts); compare with the current action outside the aggregate",
        )
        return UNKNOWN

    def _attribute(self, e: ast.Attribute, scope: Scope) -> Ty:
        base = e.value
        if isinstance(base, ast.Name) and self.is_past_tool(base.id, scope):
            return self._history.past_values(e, scope)
        if isinstance(base, ast.Name) and self.is_context(base.id, scope):
            if scope.kind is not ScopeKind.RULE:
                return self._out_of_where(base, scope, shown=f"{base.id}.{e.attr}", at=e)
            if base.id == "args":
                return self.args_attr(e, scope)
            context = CONTEXT_FIELDS[base.id]
            if e.attr in context:
                return context[e.attr]
            self.report(
                "GG207",
                f"`{base.id}` has no field `{e.attr}`",
                e,
                scope,
                help=did_you_mean(e.attr, context) or f"fields: {', '.join(context)}",
            )
            return UNKNOWN
        owner = self.expr(base, scope)
        if owner.unknown:
            return UNKNOWN
        if owner.kind is not Kind.RECORD or owner.name is None:
            self.report("GG207", f"type {owner} has no field `{e.attr}`", e, scope)
            return UNKNOWN
        fields = self.env.record_fields(owner.name)
        if e.attr in fields:
            return fields[e.attr][0]
        self.report(
            "GG207",
            f"record {owner.name} has no field `{e.attr}`",
            e,
            scope,
            help=did_you_mean(e.attr, fields) or f"fields: {', '.join(fields)}",
        )
        return UNKNOWN

    def args_attr(self, e: ast.Attribute, scope: Scope) -> Ty:
        """``args.x``: the argument ``x`` and nothing else (no const, fact or variable)."""
        n = e.attr
        if n in scope.args:
            return scope.args[n]
        if n in scope.conflicting:
            self.report("GG203", f"argument `{n}` {scope.conflicting[n]}", e, scope)
        elif n in scope.missing:
            lacking = scope.missing[n]
            self.report("GG209", f"argument `{n}` is not a parameter of `{lacking}`", e, scope)
        elif scope.target is not TargetKind.TOOLS and scope.kind is ScopeKind.RULE:
            self.report(
                "GG209", f"`args` is not in scope in an `on {scope.target}` rule", e, scope
            )
        else:
            owner = f"`{scope.tools[0]}`" if len(scope.tools) == 1 else "the targets"
            hint = did_you_mean(n, scope.args)
            self.report("GG207", f"{owner} has no argument `{n}`", e, scope, help=hint)
        return UNKNOWN

    def is_past_tool(self, n: str, scope: Scope) -> bool:
        """``n`` names a tool (not hidden by a variable, argument, const, fact or context
        name): ``n.arg`` is then the values that argument took in earlier calls."""
        if n not in self.env.tools or n in scope.variables or n in scope.args:
            return False
        hidden = n in self.env.consts or n in self.env.facts or n in CONTEXT
        return not hidden and n not in CONTEXT_FIELDS and n != "args"

    def is_context(self, n: str, scope: Scope) -> bool:
        shadowed = n in scope.variables or n in scope.args or n in self.env.consts
        shadowed = shadowed or (scope.kind is ScopeKind.RULE and n in self.env.facts)
        return not shadowed and (n in CONTEXT_FIELDS or n == "args")

    # ------------------------------------------------------------------ operators

    def _unary(self, e: ast.Unary, scope: Scope) -> Ty:
        if e.op is ast.UnOp.NOT:
            self.expect(e.operand, BOOL, scope, what="`not` needs a condition")
            return BOOL
        t = self.expr(e.operand, scope)
        if not is_numeric(t):
            message = f"unary `-` needs a number: expected int or real, got {t}"
            self.report("GG203", message, e.operand, scope)
            return UNKNOWN
        return t

    def _binary(self, e: ast.Binary, scope: Scope) -> Ty:
        # Walk the left spine in a loop: generated specs write `x == 1 or x == 2 or ...`
        # with thousands of terms, and a left-associative chain that deep must not cost
        # one Python frame per operator.
        spine: list[ast.Binary] = []
        node: ast.Expr = e
        while isinstance(node, ast.Binary):
            spine.append(node)
            node = node.left
        lt = self.expr(node, scope)
        for b in reversed(spine):
            lt = self._combine(b, lt, scope)
        return lt

    def _combine(self, e: ast.Binary, lt: Ty, scope: Scope) -> Ty:
        """The type of ``e`` given its left operand's type ``lt``."""
        op = e.op
        if op in _LOGIC:
            what = f"`{op}` needs conditions"
            if not assignable(lt, BOOL):
                message = f"{what}: expected bool, got {lt}"
                self.report("GG203", message, e.left, scope, label="expected bool")
            self.expect(e.right, BOOL, scope, what=what)
            return BOOL
        rt = self.expr(e.right, scope)
        opaque = next((side for side, t in ((e.left, lt), (e.right, rt))
                       if t.kind is Kind.JSON), None)
        if opaque is not None:
            self.report(
                "GG203",
                f"`{op}` cannot look into a json value: the spec treats json as opaque",
                opaque,
                scope,
                help="rules may only ask present(x), tainted(x), from_user(x) or source(x) "
                "of a json argument; declare a typed argument or record to constrain it",
                label="json",
            )
            return BOOL if op not in _ARITH else UNKNOWN
        if op in _ARITH or op in _ORDER:
            return self._numeric(e, lt, rt, scope)
        if op in (ast.BinOp.IN, ast.BinOp.NOT_IN):
            self._membership(e, lt, rt, scope)
            return BOOL
        # == and !=
        if not comparable(lt, rt):
            message = f"cannot compare with `{op}`: expected {lt}, got {rt}"
            self.report("GG203", message, e.right, scope, label=f"expected {lt}")
        else:
            self._literal_fits(lt, e.right, scope)
            self._literal_fits(rt, e.left, scope)
            self._tool_literal(e.left, e.right, scope)
            self._tool_literal(e.right, e.left, scope)
        return BOOL

    def _numeric(self, e: ast.Binary, lt: Ty, rt: Ty, scope: Scope) -> Ty:
        op = e.op
        bad = False
        for side, t, other in ((e.left, lt, rt), (e.right, rt, lt)):
            if not is_numeric(t):
                want = _num(other) if is_numeric(other) else "int or real"
                message = f"`{op}` needs numbers: expected {want}, got {t}"
                self.report("GG203", message, side, scope, label=f"expected {want}")
                bad = True
        if bad:
            return UNKNOWN
        if op in _ORDER:
            return BOOL
        if op is ast.BinOp.MOD:
            for side, t in ((e.left, lt), (e.right, rt)):
                if t.kind is Kind.REAL:
                    message = f"`%` is integer modulo: expected int, got {t}"
                    self.report("GG203", message, side, scope)
            return INT
        if op is ast.BinOp.DIV or REAL in (lt, rt):
            return REAL
        if lt.unknown or rt.unknown:
            return UNKNOWN
        return INT

    def _membership(self, e: ast.Binary, lt: Ty, rt: Ty, scope: Scope) -> None:
        if rt.unknown:
            return
        if rt.kind not in (Kind.SET, Kind.LIST) or rt.element is None:
            self.report(
                "GG203",
                f"`{e.op}` needs a set or list on the right: expected set[{lt}], got {rt}",
                e.right,
                scope,
                help="for a substring test use contains(s, part)"
                if rt.kind in (Kind.STR, Kind.ENUM)
                else None,
                label=f"expected set[{lt}] or list[{lt}]",
            )
            return
        if not comparable(lt, rt.element):
            self.report(
                "GG203",
                f"`{e.op}` compares with the elements of {rt}: expected {rt.element}, got {lt}",
                e.left,
                scope,
            )
            return
        if isinstance(e.right, ast.SetLit | ast.ListLit):
            for item in e.right.items:
                self._literal_fits(lt, item, scope)
                self._tool_literal(e.left, item, scope)

    def _literal_fits(self, want: Ty, lit: ast.Expr, scope: Scope) -> None:
        """A string literal compared with an enum must be one of the enum's values."""
        if want.kind is not Kind.ENUM or want.name is None or not isinstance(lit, ast.StrLit):
            return
        decl = self.env.enums.get(want.name)
        if decl is not None and literal_text(lit.value) not in map(literal_text, decl.values):
            values = " | ".join(f'"{v}"' for v in decl.values)
            hint = did_you_mean(lit.value, decl.values, literal=True)
            self.report(
                "GG203",
                f'"{lit.value}" is not a value of enum {want.name}',
                lit,
                scope,
                help=hint or f"values: {values}",
                label=f"not a {want.name}",
            )

    def _tool_literal(self, name: ast.Expr, lit: ast.Expr, scope: Scope) -> None:
        """``tool == "x"``: the string must name a declared tool."""
        if not (isinstance(name, ast.Name) and name.id == "tool" and isinstance(lit, ast.StrLit)):
            return
        if name.id in scope.args or name.id in scope.variables or scope.kind is not ScopeKind.RULE:
            return
        routing = lit.value == "route" and scope.target is TargetKind.ROUTE
        if lit.value not in self.env.tools and not routing:
            hint = did_you_mean(lit.value, self.env.tools, literal=True)
            self.report("GG202", f'unknown tool "{lit.value}"', lit, scope, help=hint)

    def _collection(self, e: ast.SetLit | ast.ListLit, scope: Scope) -> Ty:
        element = UNKNOWN
        for item in e.items:
            t = self.expr(item, scope)
            joined = join(element, t)
            if joined is None:
                self.report(
                    "GG203",
                    f"elements of a {'set' if isinstance(e, ast.SetLit) else 'list'} must "
                    f"share one type: expected {element}, got {t}",
                    item,
                    scope,
                )
                continue
            element = joined
        return set_of(element) if isinstance(e, ast.SetLit) else list_of(element)

    def _quantifier(self, e: ast.Quantifier, scope: Scope) -> Ty:
        domain = self.expr(e.domain, scope)
        element = UNKNOWN
        if domain.kind in (Kind.LIST, Kind.SET) and domain.element is not None:
            element = domain.element
        elif not domain.unknown:
            self.report(
                "GG203",
                f"`{e.kind}` ranges over a list or set: expected list[...] or set[...], "
                f"got {domain}",
                e.domain,
                scope,
            )
        inner = scope.with_variable(e.var, element)
        self.expect(e.body, BOOL, inner, what=f"the body of `{e.kind}` must be a condition")
        return BOOL

    # ------------------------------------------------------------------ reporting

    def report(
        self,
        code: str,
        message: str,
        node: ast.Expr | ast.EventPattern,
        scope: Scope,
        *,
        help: str | None = None,
        label: str | None = None,
    ) -> None:
        if label is None:
            label = LABELS.get(code)
        self.sink.emit(code, message, node.span or scope.fallback, help=help, label=label)

