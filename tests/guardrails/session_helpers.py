"""Helpers for the lint session and search tests: Python values as Z3 literals by sort,
the free constants of a term, and Z3's own answer about a conjunction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

import z3

from guardgraph.guardrails._z3sorts import AllExcept, string_val


def literal(value: object, sort: z3.SortRef) -> z3.ExprRef:
    """``value`` in the fast path's representation (int, Fraction, str, bool, tuple,
    frozenset or AllExcept, dict by field) as a Z3 literal of ``sort``."""
    ctx = sort.ctx
    kind = sort.kind()
    if kind == z3.Z3_BOOL_SORT:
        assert isinstance(value, bool), value
        return z3.BoolVal(value, ctx)
    if kind == z3.Z3_INT_SORT:
        assert isinstance(value, int) and not isinstance(value, bool), value
        return z3.IntVal(value, ctx)
    if kind == z3.Z3_REAL_SORT:
        assert isinstance(value, int | Fraction) and not isinstance(value, bool), value
        q = Fraction(value)
        return z3.RealVal(f"{q.numerator}/{q.denominator}", ctx)
    if isinstance(sort, z3.SeqSortRef) and sort.is_string():
        assert isinstance(value, str), value
        return string_val(value, ctx)
    if isinstance(sort, z3.SeqSortRef):
        assert isinstance(value, tuple), value
        if not value:
            return z3.Empty(sort)
        units = [z3.Unit(literal(v, sort.basis())) for v in value]
        return units[0] if len(units) == 1 else z3.Concat(*units)
    if isinstance(sort, z3.ArraySortRef):
        element = sort.domain()
        if isinstance(value, AllExcept):
            acc = z3.K(element, z3.BoolVal(True, ctx))
            for v in sorted(value.excluded, key=repr):
                acc = z3.Store(acc, literal(v, element), z3.BoolVal(False, ctx))
            return acc
        assert isinstance(value, frozenset), value
        acc = z3.K(element, z3.BoolVal(False, ctx))
        for v in sorted(value, key=repr):
            acc = z3.Store(acc, literal(v, element), z3.BoolVal(True, ctx))
        return acc
    if isinstance(sort, z3.DatatypeSortRef):
        assert isinstance(value, Mapping), value
        fields = [sort.accessor(0, i) for i in range(sort.constructor(0).arity())]
        return sort.constructor(0)(*(literal(value[f.name()], f.range()) for f in fields))
    raise AssertionError(f"no literal of sort {sort} for {value!r}")


def free_consts(terms: Iterable[z3.ExprRef]) -> dict[str, z3.ExprRef]:
    """The uninterpreted constants ``terms`` read, by name."""
    out: dict[str, z3.ExprRef] = {}
    seen: set[int] = set()
    stack = list(terms)
    while stack:
        e = stack.pop()
        if e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_quantifier(e):
            stack.append(e.body())
        elif z3.is_app(e):
            if e.decl().kind() == z3.Z3_OP_UNINTERPRETED and e.num_args() == 0:
                out[e.decl().name()] = e
            stack.extend(e.children())
    return out


def answer(ctx: z3.Context, formulas: Sequence[z3.ExprRef], timeout_ms: int = 10_000) -> str:
    """Z3's answer about the conjunction of ``formulas``: "sat", "unsat" or "unknown"."""
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", timeout_ms)
    solver.add(*formulas)
    return str(solver.check())


def closed(term: z3.ExprRef, env: Mapping[str, object]) -> z3.ExprRef:
    """``term`` with every constant it reads replaced by its value in ``env``."""
    consts = free_consts([term])
    missing = sorted(set(consts) - set(env))
    assert not missing, f"the assignment has no value for {missing}"
    pairs = [(c, literal(env[name], c.sort())) for name, c in consts.items()]
    return z3.substitute(term, *pairs) if pairs else term


def true_in(term: z3.ExprRef, env: Mapping[str, object]) -> bool:
    """Whether ``term`` holds once every constant it reads takes its value in ``env``
    (a closed formula that simplify leaves open, a quantifier say, goes to a solver; an
    undecided answer fails the test rather than counting as either)."""
    fixed = closed(term, env)
    simple = z3.simplify(fixed)
    if z3.is_true(simple):
        return True
    if z3.is_false(simple):
        return False
    verdict = answer(term.ctx, [fixed])
    assert verdict in ("sat", "unsat"), f"undecided closed formula: {fixed}"
    return verdict == "sat"
