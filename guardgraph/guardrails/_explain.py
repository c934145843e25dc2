"""Why a rule fired: the conjunct of its ``require`` that failed, with the values it read.

The conjuncts are those of the compiled Z3 term (the meaning); each is shown as DSL text
where the source's top-level ``and`` lines up with them one to one, and otherwise in a
DSL-like rendering of the Z3 term with inputs named as the spec names them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import z3

from guardgraph.guardrails._compile import CompiledRule, Input, InputKind
from guardgraph.guardrails._fastpath import Unsupported, compile_term
from guardgraph.guardrails._text import expr_text
from guardgraph.guardrails.verdict import Failure
from guardgraph.specs import ast

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


def _ast_conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op is ast.BinOp.AND:
        return _ast_conjuncts(e.left) + _ast_conjuncts(e.right)
    return [e]


def _z3_conjuncts(e: z3.BoolRef) -> list[z3.BoolRef]:
    if z3.is_and(e):
        out: list[z3.BoolRef] = []
        for c in e.children():
            out.extend(_z3_conjuncts(c))
        return out
    return [e]


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
    terms = _z3_conjuncts(rule.require)
    texts = [expr_text(c) for c in _ast_conjuncts(rule.rule.require)]
    by_name = {i.key: i for i in rule.inputs}
    out = []
    for n, term in enumerate(terms):
        try:
            fn: Callable[[Mapping[str, object]], object] | None = compile_term(term)
        except Unsupported:
            fn = None
        inputs = tuple(by_name[c.decl().name()] for c in _consts(term)
                       if c.decl().name() in by_name)
        text = texts[n] if len(texts) == len(terms) else _render(term, by_name)
        out.append(Conjunct(text=text, term=term, fn=fn, inputs=inputs))
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
    return Failure(rule=rule.rule.name, condition=expr_text(rule.rule.require))


_INFIX = {
    z3.Z3_OP_LE: "<=", z3.Z3_OP_LT: "<", z3.Z3_OP_GE: ">=", z3.Z3_OP_GT: ">",
    z3.Z3_OP_EQ: "==", z3.Z3_OP_ADD: "+", z3.Z3_OP_SUB: "-", z3.Z3_OP_MUL: "*",
    z3.Z3_OP_DIV: "/", z3.Z3_OP_MOD: "%", z3.Z3_OP_AND: "and", z3.Z3_OP_OR: "or",
    z3.Z3_OP_IMPLIES: "implies",
}


def _render(e: z3.ExprRef, inputs: Mapping[str, Input]) -> str:
    if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
        inp = inputs.get(e.decl().name())
        return display_name(inp) if inp is not None else e.decl().name()
    if not z3.is_app(e):
        return str(e)
    k = e.decl().kind()
    kids = [_render(c, inputs) for c in e.children()]
    if k in _INFIX and len(kids) >= 2:
        return "(" + f" {_INFIX[k]} ".join(kids) + ")"
    if k == z3.Z3_OP_NOT:
        return f"not {kids[0]}"
    if k == z3.Z3_OP_SELECT and z3.is_bool(e):
        return f"{kids[1]} in {kids[0]}"
    if not kids:
        return str(e)
    return f"{e.decl().name()}({', '.join(kids)})"
