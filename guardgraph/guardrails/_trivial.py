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
from guardgraph.specs import ast, format_expr
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
    for rule in rules:
        for root in _roots(rule):
            for p in _patterns(root):
                if p.where is None or p.tool is None or id(p) in seen:
                    continue
                seen.add(id(p))
                if any(isinstance(x, ast.Binary) and x.op in _ALWAYS and x.left == x.right
                       for x in iter_subexprs(p.where)):
                    continue
                found = _constant(policy, p, timeout_ms)
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


def _constant(policy: CompiledPolicy, p: ast.EventPattern, timeout_ms: int) -> bool | None:
    """True: the filter holds for every call of the tool; False: for none; None: it
    depends on the call (or Z3 could not tell)."""
    assert p.tool is not None
    term = policy.where(p)
    domain = policy.domain(p.tool)
    for negate, answer in ((True, True), (False, False)):
        solver = z3.Solver(ctx=policy.ctx)
        solver.set(timeout=timeout_ms)
        solver.add(domain, z3.Not(term) if negate else term)
        if solver.check() == z3.unsat:
            return answer
    return None
