"""The translation of rule expressions to Z3 terms: the one definition of what they mean.

A term that may be undefined (``min``/``max`` of an empty history, ``result(t)`` before
``t`` ran, a division or modulo by zero) carries *guards*: Bool conditions under which it
is defined. The smallest enclosing Boolean formula that is not a connective (a
comparison, a membership test, a predicate call, a Boolean-valued term) is conjoined
with them, so such an atom is false while its term is undefined (docs/language.md:
"a clause that mentions it is false until t has been called").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import z3

from guardgraph.guardrails._errors import CompileError
from guardgraph.guardrails._inputs import Input, InputTable
from guardgraph.guardrails._regex import regex_to_z3
from guardgraph.guardrails._z3sorts import Sorts, string_val
from guardgraph.specs import CONTEXT_NAMES, ROUTE_ONLY, Types, ast, literal_text
from guardgraph.specs import format_expr as expr_text

__all__ = ["Scope", "Translator", "iter_subexprs"]

_P = ast.Primitive
_BOOL, _INT, _STR = ast.PrimType(name=_P.BOOL), ast.PrimType(name=_P.INT), ast.PrimType(name=_P.STR)

@dataclass(frozen=True, slots=True)
class _T:
    term: z3.ExprRef
    guards: tuple[z3.BoolRef, ...] = ()


@dataclass(frozen=True, slots=True)
class _Var:
    value: _T
    path: tuple[str, ...] | None  # the argument path its values come from (provenance)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What names mean inside one rule: the tool whose arguments are in scope (None for
    ``on any`` and ``on route``), whether this is a route rule, and bound variables."""

    tool: str | None
    route: bool = False
    env: tuple[tuple[str, _Var], ...] = ()

    def var(self, name: str) -> _Var | None:
        for n, v in reversed(self.env):
            if n == name:
                return v
        return None

    def bind(self, name: str, var: _Var) -> Scope:
        return Scope(tool=self.tool, route=self.route, env=(*self.env, (name, var)))


class Translator:
    """Translates expressions of one spec into one context, creating inputs on demand."""

    def __init__(self, spec: ast.Spec, sorts: Sorts, table: InputTable) -> None:
        self.spec = spec
        self.sorts = sorts
        self.ctx = sorts.ctx
        self.table = table
        self._tools = {t.name: t for t in spec.tools}
        self._consts = {c.name: c for c in spec.consts}
        self._facts = {f.name: f for f in spec.facts}
        self._types = Types(spec)  # the checker's types, not a second derivation
        self._regex: dict[str, z3.ReRef] = {}
        self._reads: dict[str, Input] = {}
        self._true = z3.BoolVal(True, self.ctx)

    # ------------------------------------------------------------------ entry points

    def formula(self, e: ast.Expr | None, scope: Scope) -> tuple[z3.BoolRef, tuple[Input, ...]]:
        """A Boolean formula with its definedness guards, and the inputs it reads."""
        self._reads = {}
        if e is None:
            return self._true, ()
        term = self._bool(e, scope)
        return term, tuple(self._reads.values())

    def formula_parts(
        self, e: ast.Expr, scope: Scope
    ) -> tuple[z3.BoolRef, tuple[tuple[ast.Expr, z3.BoolRef], ...], tuple[Input, ...]]:
        """Like :meth:`formula`, and also each top-level conjunct of ``e`` (the operands
        of its ``and`` tree, as written) with its own term. The whole term is built from
        those same terms, so it is exactly the term ``formula`` gives; explanations name
        the conjunct that failed in the spec's words, with no second printer of Z3 terms."""
        self._reads = {}
        parts: list[tuple[ast.Expr, z3.BoolRef]] = []

        def walk(x: ast.Expr) -> z3.BoolRef:
            if isinstance(x, ast.Binary) and x.op is ast.BinOp.AND:
                left = walk(x.left)
                return z3.And(left, walk(x.right))
            term = self._bool(x, scope)
            parts.append((x, term))
            return term

        whole = walk(e)
        return whole, tuple(parts), tuple(self._reads.values())

    # ------------------------------------------------------------------ helpers

    def _read(self, inp: Input) -> z3.ExprRef:
        self._reads.setdefault(inp.key, inp)
        return inp.const

    def _bool(self, e: ast.Expr, scope: Scope) -> z3.BoolRef:
        t = self._expr(e, scope)
        if not z3.is_bool(t.term):
            raise CompileError(f"expected a bool, got {expr_text(e)!r}")
        if t.guards:
            return z3.And(*t.guards, t.term)
        return t.term

    def _num(self, a: _T, b: _T) -> tuple[z3.ExprRef, z3.ExprRef]:
        x, y = a.term, b.term
        if z3.is_int(x) and z3.is_real(y):
            x = self._fit(x, y.sort())
        elif z3.is_real(x) and z3.is_int(y):
            y = self._fit(y, x.sort())
        return x, y

    def _fit(self, value: z3.ExprRef, sort: z3.SortRef) -> z3.ExprRef:
        """Promote an Int to a Real where the other side is Real (int -> real rule)."""
        if sort.kind() == z3.Z3_REAL_SORT and z3.is_int(value):
            if z3.is_int_value(value):
                return z3.RealVal(value.as_long(), self.ctx)
            return z3.ToReal(value)
        return value

    # ------------------------------------------------------------------ expressions

    def _expr(self, e: ast.Expr, scope: Scope, expect: z3.SortRef | None = None) -> _T:
        ctx = self.ctx
        match e:
            case ast.BoolLit(value=v):
                return _T(z3.BoolVal(v, ctx))
            case ast.IntLit(value=v):
                return _T(z3.IntVal(v, ctx))
            case ast.RealLit(value=v):
                return _T(z3.RealVal(str(Fraction(v)), ctx))
            case ast.StrLit(value=v):
                return _T(string_val(literal_text(v), ctx))
            case ast.DurationLit(seconds=s):
                return _T(z3.IntVal(s, ctx))
            case ast.Name(id=name):
                return self._name(name, scope, e)
            case ast.Attribute():
                return self._attribute(e, scope)
            case ast.Unary(op=ast.UnOp.NOT, operand=o):
                return _T(z3.Not(self._bool(o, scope)))
            case ast.Unary(op=ast.UnOp.NEG, operand=o):
                t = self._expr(o, scope)
                return _T(-t.term, t.guards)
            case ast.Binary():
                return self._binary(e, scope)
            case ast.SetLit(items=items):
                return self._set_lit(items, scope, expect)
            case ast.ListLit(items=items):
                return self._list_lit(items, scope, expect)
            case ast.Call():
                return self._call(e, scope)
            case ast.Quantifier():
                return self._quantifier(e, scope)
            case ast.Aggregate() | ast.Temporal() | ast.Since():
                return self._monitor(e)
        raise CompileError(f"cannot translate {expr_text(e)!r}")  # pragma: no cover

    def _name(self, name: str, scope: Scope, e: ast.Expr) -> _T:
        var = scope.var(name)
        if var is not None:
            return var.value
        if scope.tool is not None:
            arg = self.table.args.get((scope.tool, name))
            if arg is not None:
                return _T(self._read(arg))
        const = self._consts.get(name)
        if const is not None:
            return self._expr(const.value, Scope(tool=None))
        if name in self._facts:
            return _T(self._read(self.table.fact(name, self._facts[name].type)))
        typ = CONTEXT_NAMES.get((name,))
        if typ is not None and (scope.route or (name,) not in ROUTE_ONLY):
            return _T(self._read(self.table.context((name,), typ)))
        raise CompileError(f"unknown name {name!r} at {_where(e)}")

    def _attribute(self, e: ast.Attribute, scope: Scope) -> _T:
        base = e.value
        if isinstance(base, ast.Name) and self._past_tool(base.id, scope):
            return self._monitor(e)  # `TOOL.arg`: the values of earlier calls
        if isinstance(base, ast.Name) and scope.var(base.id) is None:
            if base.id == "args" and scope.tool is not None and not self._is_arg(scope, "args"):
                arg = self.table.args.get((scope.tool, e.attr))
                if arg is None:
                    raise CompileError(f"tool {scope.tool} has no argument {e.attr!r}")
                return _T(self._read(arg))
            ctx_path = (base.id, e.attr)
            typ = CONTEXT_NAMES.get(ctx_path)
            if typ is not None and not self._is_arg(scope, base.id):
                return _T(self._read(self.table.context(ctx_path, typ)))
        value = self._expr(base, scope)
        info = self.sorts.record_of_sort(value.term.sort())
        if info is None or e.attr not in info.accessors:
            raise CompileError(f"no field {e.attr!r} on {expr_text(base)!r} at {_where(e)}")
        return _T(info.accessors[e.attr](value.term), value.guards)

    def _past_tool(self, name: str, scope: Scope) -> bool:
        """The checker's reading (``Infer.is_past_tool``): a tool name that nothing
        closer (variable, argument, const, fact, context name) hides."""
        if name not in self._tools or scope.var(name) is not None or self._is_arg(scope, name):
            return False
        hidden = name in self._consts or name in self._facts or name == "args"
        return not hidden and not any(path[0] == name for path in CONTEXT_NAMES)

    def _is_arg(self, scope: Scope, name: str) -> bool:
        return scope.tool is not None and (scope.tool, name) in self.table.args

    def _binary(self, e: ast.Binary, scope: Scope) -> _T:
        op = e.op
        B = ast.BinOp
        if op is B.AND:
            return _T(z3.And(self._bool(e.left, scope), self._bool(e.right, scope)))
        if op is B.OR:
            return _T(z3.Or(self._bool(e.left, scope), self._bool(e.right, scope)))
        if op is B.IMPLIES:
            return _T(z3.Implies(self._bool(e.left, scope), self._bool(e.right, scope)))
        if op in (B.IN, B.NOT_IN):
            t = self._membership(e.left, e.right, scope)
            return _T(z3.Not(t.term), t.guards) if op is B.NOT_IN else t
        left, right = self._pair(e.left, e.right, scope)
        guards = left.guards + right.guards
        x, y = self._num(left, right)
        if op is B.EQ:
            return _T(x == y, guards)
        if op is B.NE:
            return _T(x != y, guards)
        if op is B.LT:
            return _T(x < y, guards)
        if op is B.LE:
            return _T(x <= y, guards)
        if op is B.GT:
            return _T(x > y, guards)
        if op is B.GE:
            return _T(x >= y, guards)
        if op is B.ADD:
            if z3.is_string(x):
                return _T(z3.Concat(x, y), guards)
            return _T(x + y, guards)
        if op is B.SUB:
            return _T(x - y, guards)
        if op is B.MUL:
            return _T(x * y, guards)
        if op is B.DIV:
            rx = x if z3.is_real(x) else z3.ToReal(x)
            ry = y if z3.is_real(y) else z3.ToReal(y)
            return _T(rx / ry, (*guards, ry != 0))
        if op is B.MOD:
            # SMT-LIB mod: the result lies in [0, |y|) for y != 0.
            return _T(x % y, (*guards, y != 0))
        raise CompileError(f"unknown operator {op}")  # pragma: no cover

    def _pair(self, a: ast.Expr, b: ast.Expr, scope: Scope) -> tuple[_T, _T]:
        # An empty `{}` / `[]` takes its element sort from the other side.
        if _empty_lit(a) and not _empty_lit(b):
            right = self._expr(b, scope)
            return self._expr(a, scope, right.term.sort()), right
        left = self._expr(a, scope)
        return left, self._expr(b, scope, left.term.sort())

    def _membership(self, item: ast.Expr, coll: ast.Expr, scope: Scope) -> _T:
        lit = self._literal_items(coll, scope)
        x = self._expr(item, scope)
        if lit is not None:
            # A literal collection: a disjunction of equalities, cheaper than a set term.
            guards = list(x.guards)
            options = []
            for it in lit:
                v = self._expr(it, scope)
                guards.extend(v.guards)
                a, b = self._num(x, v)
                options.append(a == b)
            return _T(z3.Or(*options) if options else z3.BoolVal(False, self.ctx), tuple(guards))
        c = self._expr(coll, scope)
        both = x.guards + c.guards
        sort = c.term.sort()
        if sort.kind() == z3.Z3_ARRAY_SORT:
            member = z3.IsMember(self._fit(x.term, sort.domain()), c.term)
            return _T(member, both)
        if z3.is_string(c.term):
            return _T(z3.Contains(c.term, x.term), both)
        elem = sort.basis()
        return _T(z3.Contains(c.term, z3.Unit(self._fit(x.term, elem))), both)

    def _literal_items(self, coll: ast.Expr, scope: Scope) -> tuple[ast.Expr, ...] | None:
        if isinstance(coll, ast.SetLit | ast.ListLit):
            return coll.items
        if (
            isinstance(coll, ast.Name)
            and scope.var(coll.id) is None
            and not self._is_arg(scope, coll.id)
            and coll.id in self._consts
        ):
            value = self._consts[coll.id].value
            if isinstance(value, ast.SetLit | ast.ListLit):
                return value.items
        return None

    def _items(self, items: tuple[ast.Expr, ...], scope: Scope) -> tuple[list[_T], z3.SortRef]:
        ts = [self._expr(i, scope) for i in items]
        real = any(z3.is_real(t.term) for t in ts)
        if real:
            ts = [_T(self._fit(t.term, z3.RealSort(self.ctx)), t.guards) for t in ts]
        return ts, ts[0].term.sort()

    def _set_lit(self, items: tuple[ast.Expr, ...], scope: Scope, expect: z3.SortRef | None) -> _T:
        if not items:
            if expect is None or expect.kind() != z3.Z3_ARRAY_SORT:
                raise CompileError("cannot tell the element type of an empty set `{}`")
            return _T(z3.K(expect.domain(), z3.BoolVal(False, self.ctx)))
        ts, elem = self._items(items, scope)
        acc: z3.ExprRef = z3.K(elem, z3.BoolVal(False, self.ctx))
        for t in ts:
            acc = z3.Store(acc, t.term, z3.BoolVal(True, self.ctx))
        return _T(acc, tuple(g for t in ts for g in t.guards))

    def _list_lit(self, items: tuple[ast.Expr, ...], scope: Scope, expect: z3.SortRef | None) -> _T:
        if not items:
            if expect is None or expect.kind() != z3.Z3_SEQ_SORT:
                raise CompileError("cannot tell the element type of an empty list `[]`")
            return _T(z3.Empty(expect))
        ts, _ = self._items(items, scope)
        units = [z3.Unit(t.term) for t in ts]
        term = units[0] if len(units) == 1 else z3.Concat(*units)
        return _T(term, tuple(g for t in ts for g in t.guards))

    # ------------------------------------------------------------------ calls

    def _call(self, e: ast.Call, scope: Scope) -> _T:
        f, args = e.func, e.args
        if f in ("startswith", "endswith", "contains"):
            s, p = (self._expr(a, scope) for a in args)
            guards = s.guards + p.guards
            if f == "startswith":
                return _T(z3.PrefixOf(p.term, s.term), guards)
            if f == "endswith":
                return _T(z3.SuffixOf(p.term, s.term), guards)
            return _T(z3.Contains(s.term, p.term), guards)
        if f == "matches":
            s = self._expr(args[0], scope)
            pattern = args[1]
            if not isinstance(pattern, ast.StrLit):
                raise CompileError(f"matches() needs a regex literal at {_where(e)}")
            regex = self._regex.get(pattern.value)
            if regex is None:
                regex = self._regex[pattern.value] = regex_to_z3(pattern.value, self.ctx)
            return _T(z3.InRe(s.term, regex), s.guards)
        if f == "len":
            return self._len(args[0], scope)
        if f == "present":
            path = self._arg_path(args[0], scope)
            inp = self.table.present.get((scope.tool or "", path[0])) if path else None
            if inp is None or len(path or ()) != 1:
                raise CompileError(f"present() needs an optional argument at {_where(e)}")
            return _T(self._read(inp))
        if f in ("tainted", "from_user", "source"):
            path = self._arg_path(args[0], scope)
            if path is None or scope.tool is None:
                raise CompileError(f"{f}() needs an argument of the tool at {_where(e)}")
            return _T(self._read(self.table.provenance(f, scope.tool, path)))
        if f == "result":
            return self._monitor(e)
        raise CompileError(f"unknown function {f!r} at {_where(e)}")

    def _len(self, arg: ast.Expr, scope: Scope) -> _T:
        lit = self._literal_items(arg, scope)
        if lit is not None and isinstance(arg, ast.SetLit | ast.Name):
            values = {_literal_value(i) for i in lit}
            if isinstance(arg, ast.Name) and isinstance(self._consts[arg.id].value, ast.ListLit):
                return _T(z3.IntVal(len(lit), self.ctx))
            return _T(z3.IntVal(len(values), self.ctx))
        t = self._expr(arg, scope)
        if t.term.sort().kind() != z3.Z3_ARRAY_SORT:
            return _T(z3.Length(t.term), t.guards)
        base = self.table.by_const(t.term)
        if base is None:
            raise CompileError(
                f"len() of a set is supported on arguments, facts, context and source(); "
                f"got {expr_text(arg)!r}"
            )
        return _T(self._read(self.table.size(base)), t.guards)

    def _arg_path(self, e: ast.Expr, scope: Scope) -> tuple[str, ...] | None:
        match e:
            case ast.Name(id=name):
                var = scope.var(name)
                if var is not None:
                    return var.path
                return (name,) if self._is_arg(scope, name) else None
            case ast.Attribute(value=ast.Name(id="args"), attr=a) if (
                scope.var("args") is None and not self._is_arg(scope, "args")
            ):
                return (a,) if self._is_arg(scope, a) else None
            case ast.Attribute(value=v, attr=a):
                base = self._arg_path(v, scope)
                return None if base is None else (*base, a)
        return None

    # ------------------------------------------------------------------ quantifiers

    def _quantifier(self, e: ast.Quantifier, scope: Scope) -> _T:
        dom = self._expr(e.domain, scope)
        depth = len(scope.env)
        sort = dom.term.sort()
        path = self._arg_path(e.domain, scope)
        name = f"{e.var}!{depth}"
        if sort.kind() == z3.Z3_ARRAY_SORT:
            x = z3.Const(name, sort.domain())
            body = self._bool(e.body, scope.bind(e.var, _Var(_T(x), path)))
            member = z3.IsMember(x, dom.term)
            if e.kind is ast.QuantifierKind.FORALL:
                q = z3.ForAll([x], z3.Implies(member, body))
            else:
                q = z3.Exists([x], z3.And(member, body))
            return _T(q, dom.guards)
        i = z3.Int(name, self.ctx)
        elem = dom.term[i]
        body = self._bool(e.body, scope.bind(e.var, _Var(_T(elem), path)))
        in_range = z3.And(i >= 0, i < z3.Length(dom.term))
        if e.kind is ast.QuantifierKind.FORALL:
            q = z3.ForAll([i], z3.Implies(in_range, body))
        else:
            q = z3.Exists([i], z3.And(in_range, body))
        return _T(q, dom.guards)

    # ------------------------------------------------------------------ monitor values

    def _monitor(
        self, e: ast.Aggregate | ast.Temporal | ast.Since | ast.Call | ast.Attribute
    ) -> _T:
        typ, defined = self._monitor_type(e)
        value, flag = self.table.monitor(e, typ, defined=defined)
        term = self._read(value)
        if flag is None:
            return _T(term)
        return _T(term, (self._read(flag),))

    def _monitor_type(self, e: ast.Expr) -> tuple[ast.TypeExpr, bool]:
        """The term's type as the checker inferred it, and whether it can be undefined:
        min/max of nothing, result(t) before t ran, TOOL.arg past its bound."""
        typ = self._types.of(e)
        if typ is None:
            raise CompileError(f"no type for the history term {expr_text(e)!r}")
        match e:
            case ast.Aggregate(func=func):
                return typ, func in (ast.AggregateFunc.MIN, ast.AggregateFunc.MAX)
            case ast.Call(func="result") | ast.Attribute():
                return typ, True
        return typ, False

    # ------------------------------------------------------------------ event patterns

    def where(self, pattern: ast.EventPattern) -> z3.BoolRef:
        """The ``where`` filter of a pattern over the past call's arguments (the ARG
        inputs of ``pattern.tool``); True when there is none. ``negated`` is not applied:
        it negates the whole pattern, tool match included."""
        if pattern.where is None:
            return self._true
        term, _ = self.formula(pattern.where, Scope(tool=pattern.tool))
        return term


def _empty_lit(e: ast.Expr) -> bool:
    return isinstance(e, ast.SetLit | ast.ListLit) and not e.items


def _literal_value(e: ast.Expr) -> object:
    if isinstance(e, ast.StrLit):
        return literal_text(e.value)
    if isinstance(e, ast.IntLit | ast.RealLit | ast.BoolLit):
        return e.value
    if isinstance(e, ast.Unary) and e.op is ast.UnOp.NEG:
        return ("-", _literal_value(e.operand))
    return expr_text(e)


def _where(e: ast.Expr) -> str:
    s = e.span
    return f"{s.file}:{s.line}:{s.column}" if s is not None else "<unknown position>"


def iter_subexprs(e: ast.Expr) -> Iterator[ast.Expr]:
    """``e`` and every expression inside it (patterns' ``where`` included)."""
    yield e
    for child in _children(e):
        yield from iter_subexprs(child)


def _children(e: ast.Expr) -> list[ast.Expr]:
    pats: Callable[[ast.EventPattern], list[ast.Expr]] = lambda p: (  # noqa: E731
        [p.where] if p.where is not None else []
    )
    match e:
        case ast.Attribute(value=v):
            return [v]
        case ast.Unary(operand=o):
            return [o]
        case ast.Binary(left=lhs, right=rhs):
            return [lhs, rhs]
        case ast.SetLit(items=i) | ast.ListLit(items=i) | ast.Call(args=i):
            return list(i)
        case ast.Quantifier(domain=d, body=b):
            return [d, b]
        case ast.Aggregate(pattern=p) | ast.Temporal(pattern=p):
            return pats(p)
        case ast.Since(held=h, anchor=a):
            return pats(h) + pats(a)
    return []
