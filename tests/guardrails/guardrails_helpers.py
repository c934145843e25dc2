"""Shared helpers for the guardrails tests: load spec text, evaluate compiled terms."""

from __future__ import annotations

from collections.abc import Mapping

import z3

from guardgraph.guardrails._compile import CompiledPolicy, InputKind, compile_policy
from guardgraph.specs import ast
from guardgraph.specs._loader import load_text


def load_spec(text: str, path: str = "t.spec") -> ast.Spec:
    result = load_text(text, path=path)
    assert result.spec is not None, [d.message for d in result.diagnostics]
    return result.spec


def policy_of(text: str) -> CompiledPolicy:
    return compile_policy(load_spec(text))


def holds(policy: CompiledPolicy, term: z3.BoolRef, values: Mapping[str, object]) -> bool:
    """Whether ``term`` is true once every input it reads is replaced by ``values``.

    SIZE inputs are derived from their set's value. The closed formula is decided by a
    solver in the policy's own context (simplify does not unfold quantifiers); an
    undecided answer fails the test rather than counting as either.
    """
    pairs = []
    for key, inp in policy.inputs.items():
        if inp.kind is InputKind.SIZE and inp.path[0] in values:
            base = values[inp.path[0]]
            assert isinstance(base, set | frozenset)
            pairs.append((inp.const, policy.to_z3(len(base), inp.type)))
        elif key in values and isinstance(values[key], z3.ExprRef):
            pairs.append((inp.const, values[key]))
        elif key in values:
            pairs.append((inp.const, policy.to_z3(values[key], inp.type)))
    closed = z3.substitute(term, *pairs) if pairs else term
    simple = z3.simplify(closed)
    if z3.is_true(simple):
        return True
    if z3.is_false(simple):
        return False
    solver = z3.Solver(ctx=policy.ctx)
    solver.set(timeout=5000)
    solver.add(z3.Not(closed))
    if solver.check() == z3.unsat:
        return True
    solver = z3.Solver(ctx=policy.ctx)
    solver.set(timeout=5000)
    solver.add(closed)
    answer = solver.check()
    if answer == z3.unsat:
        return False
    raise AssertionError(f"term is not closed or undecided ({answer}): {closed}")
