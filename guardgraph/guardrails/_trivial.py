"""Lint's GG312: conditions that are always true or always false wherever they stand.

Two kinds (issue #10: ``once(lookup_order where order_id == order_id)`` linted clean):

- a comparison whose two sides are the same expression (``x == x`` is always true,
  ``x != x`` never), anywhere in a rule, found on the syntax tree alone;
- an event pattern's ``where`` filter that holds for every call of its tool, or for none,
  within the tool's declared types, asked of Z3 (an unknown answer reports nothing).

Inside ``where``, bare names are the earlier call's arguments, so a comparison with "the
current call's argument" there compares the earlier call with itself; the help says how to
write what was meant (``order_id in lookup_order.order_id``).
"""

from __future__ import annotations

from collections.abc import Iterator

import z3

from guardgraph.guardrails._compile import CompiledPolicy
from guardgraph.guardrails._translate import iter_subexprs
from guardgraph.specs import ast, format_expr, literal_text
from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["same_sides", "trivial_filters"]

_B = ast.BinOp
_ALWAYS = {_B.EQ: True, _B.LE: True, _B.GE: True, _B.NE: False, _B.LT: False, _B.GT: False}
_WHERE_HELP = ("inside `where`, bare names are the earlier call's arguments; to say that "
               "this call's argument equals an earlier call's, write `x in TOOL.x`")


def _patterns(e: ast.Expr) -> Iterator[ast.EventPattern]:
    for sub in iter_subexprs(e):
        match sub:
            case ast.Aggregate(pattern=p) | ast.Temporal(pattern=p):
                yield p
            case ast.Since(held=h, anchor=a):
                yield h
                yield a


def _roots(rule: ast.Rule) -> list[ast.Expr]:
    return [e for e in (rule.when, rule.require) if e is not None]


def same_sides(spec: ast.Spec) -> list[Diagnostic]:
    """A GG312 warning for every comparison of an expression with itself."""
    out: list[Diagnostic] = []
    for rule in spec.rules:
        for root in _roots(rule):
            where_nodes = {id(x) for p in _patterns(root) if p.where is not None
                           for x in iter_subexprs(p.where)}
            for e in iter_subexprs(root):
                if not (isinstance(e, ast.Binary) and e.op in _ALWAYS and e.left == e.right):
                    continue
                verdict = "always true" if _ALWAYS[e.op] else "never true"
                out.append(Diagnostic(
                    code="GG312",
                    message=f"condition `{format_expr(e)}` in rule `{rule.name}` is {verdict}: "
                            "both sides are the same expression",
                    span=e.span or rule.span,
                    help=_WHERE_HELP if id(e) in where_nodes else
                    "compare with another value, or drop the condition",
                    data=(("rule", rule.name), ("label", verdict)),
                ))
    return out


def trivial_filters(policy: CompiledPolicy, rules: list[ast.Rule],
                    timeout_ms: int) -> list[Diagnostic]:
    """A GG312 warning for every ``where`` of ``rules`` that holds for every call of its
    tool or for none (a filter that compares a side with itself is left to `same_sides`)."""
    out: list[Diagnostic] = []
    seen: set[int] = set()
    solvers: dict[str, z3.Solver] = {}  # one per tool, its domain added once
    for rule in rules:
        for root in _roots(rule):
            for p in _patterns(root):
                if p.where is None or p.tool is None or id(p) in seen:
                    continue
                seen.add(id(p))
                if any(isinstance(x, ast.Binary) and x.op in _ALWAYS and x.left == x.right
                       for x in iter_subexprs(p.where)):
                    continue
                if _depends_on_the_call(policy, p):
                    continue
                solver = solvers.get(p.tool)
                if solver is None:
                    solver = solvers[p.tool] = z3.Solver(ctx=policy.ctx)
                    solver.set(timeout=timeout_ms)
                    solver.add(policy.domain(p.tool))
                found = _constant(solver, policy.where(p))
                if found is None:
                    continue
                what = "every call" if found else "no call"
                out.append(Diagnostic(
                    code="GG312",
                    message=f"the filter `where {format_expr(p.where)}` in rule `{rule.name}` "
                            f"holds for {what} of {p.tool}",
                    span=p.where.span or p.span or rule.span,
                    help=_WHERE_HELP if found else
                    "within the declared types no call matches; check the filter",
                    data=(("rule", rule.name), ("label", f"holds for {what}")),
                ))
    return out


_ORDER = frozenset({_B.EQ, _B.NE, _B.LT, _B.LE, _B.GT, _B.GE})


def _depends_on_the_call(policy: CompiledPolicy, p: ast.EventPattern) -> bool:
    """The common filter ``arg OP literal`` (an int, real or str argument, or an enum one
    under ``==`` / ``!=`` with one of its values) plainly depends on the call: no need to
    ask Z3 (lint runs this on every pattern of a 1,000-rule spec)."""
    e = p.where
    if not (isinstance(e, ast.Binary) and e.op in _ORDER):
        return False
    sides = (e.left, e.right)
    name = next((x for x in sides if isinstance(x, ast.Name)), None)
    lit = next((x for x in sides if isinstance(x, ast.IntLit | ast.RealLit | ast.StrLit)), None)
    if name is None or lit is None or p.tool is None:
        return False
    arg = policy.inputs.get(f"arg:{p.tool}.{name.id}")
    if arg is None:
        return False
    t = arg.type.inner if isinstance(arg.type, ast.OptionalType) else arg.type
    if isinstance(t, ast.PrimType):
        return t.name in (ast.Primitive.INT, ast.Primitive.REAL, ast.Primitive.STR)
    values = policy.enum_values(t)
    return (values is not None and len(values) > 1 and e.op in (_B.EQ, _B.NE)
            and isinstance(lit, ast.StrLit) and literal_text(lit.value) in values)


def _constant(solver: z3.Solver, term: z3.BoolRef) -> bool | None:
    """True: the filter holds for every call of the tool (the solver holds its domain);
    False: for none; None: it depends on the call (or Z3 could not tell)."""
    for goal, answer in ((z3.Not(term), True), (term, False)):
        solver.push()
        solver.add(goal)
        result = solver.check()
        solver.pop()
        if result == z3.unsat:
            return answer
        if result == z3.sat:
            continue
    return None
