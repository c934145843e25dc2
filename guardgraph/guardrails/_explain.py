"""Why a rule fired: the conjunct of its ``require`` that failed, with the values it read.

The conjuncts are the operands of the top-level ``and`` of ``require`` as written, each
compiled to its own Z3 term by the translation (``CompiledRule.conjuncts``), so each is
shown exactly as the spec writes it (``result(lookup).total``), by the one expression
printer, ``guardgraph.specs.format_expr``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import z3

from guardgraph.guardrails._compile import CompiledRule, Input, InputKind
from guardgraph.guardrails._fastpath import Unsupported, compile_term
from guardgraph.guardrails.verdict import Failure
from guardgraph.specs import format_expr

__all__ = ["Conjunct", "display_name", "explain", "rule_conjuncts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Conjunct:
    text: str
    term: z3.BoolRef
    fn: Callable[[Mapping[str, object]], object] | None
    inputs: tuple[Input, ...]


def display_name(inp: Input) -> str:
    """How the spec writes an input: ``amount``, ``task.labels``, ``tainted(recipient)``."""
    body = inp.key.split(":", 1)[1]
    match inp.kind:
        case InputKind.ARG | InputKind.CONTEXT | InputKind.FACT:
            return ".".join(inp.path)
        case InputKind.MONITOR:
            return body
        case InputKind.DEFINED:
            return f"defined({body})"
        case InputKind.PRESENT:
            return f"present({'.'.join(inp.path)})"
        case InputKind.PROVENANCE:
            return f"{inp.key.split(':')[1]}({'.'.join(inp.path)})"
        case InputKind.SIZE:
            return f"len({body.split(':', 1)[-1]})"
    return body  # pragma: no cover


def _consts(term: z3.ExprRef) -> list[z3.ExprRef]:
    seen: dict[int, z3.ExprRef] = {}
    stack = [term]
    while stack:
        e = stack.pop()
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            seen.setdefault(e.get_id(), e)
        elif z3.is_quantifier(e):
            stack.append(e.body())
        elif z3.is_app(e):
            stack.extend(e.children())
    return list(seen.values())


def rule_conjuncts(rule: CompiledRule) -> tuple[Conjunct, ...]:
    parts = rule.conjuncts or ((rule.rule.require, rule.require),)
    by_name = {i.key: i for i in rule.inputs}
    out = []
    for expr, term in parts:
        try:
            fn: Callable[[Mapping[str, object]], object] | None = compile_term(term)
        except Unsupported:
            fn = None
        inputs = tuple(by_name[c.decl().name()] for c in _consts(term)
                       if c.decl().name() in by_name)
        out.append(Conjunct(text=format_expr(expr), term=term, fn=fn, inputs=inputs))
    return tuple(out)


def explain(rule: CompiledRule, conjuncts: tuple[Conjunct, ...], env: Mapping[str, object],
            ) -> Failure:
    """The first conjunct that does not hold under ``env`` (all of ``require`` if none
    can be singled out, e.g. when Z3 had to decide)."""
    for c in conjuncts:
        if c.fn is None:
            continue
        try:
            holds = bool(c.fn(env))
        except (ArithmeticError, LookupError, TypeError, ValueError):
            continue
        if not holds:
            values = tuple((display_name(i), env[i.key]) for i in c.inputs
                           if i.kind is not InputKind.DEFINED and i.key in env)
            defined = [i for i in c.inputs if i.kind is InputKind.DEFINED and not env.get(i.key)]
            if defined:  # the term has no value yet (min of nothing, result before a call)
                values += tuple((display_name(i), False) for i in defined)
            return Failure(rule=rule.rule.name, condition=c.text, values=values)
    return Failure(rule=rule.rule.name, condition=format_expr(rule.rule.require))
