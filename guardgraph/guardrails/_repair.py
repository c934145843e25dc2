"""Minimal repairs: the nearest compliant arguments, found by Z3 ``Optimize``.

Only the arguments named in the firing rules' ``repair`` clauses may change; every other
input keeps its concrete value. The repaired call must satisfy every deny rule of the
tool at once (not just the ones that fired), within the tool's domain. Distance: for a
number ``|new - old|`` (minimised exactly over Int/Real), for anything else whether it
changed (soft constraints). ``unknown`` or a time-out means no repair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import z3

from guardgraph.guardrails._compile import CompiledPolicy, CompiledRule, InputKind
from guardgraph.guardrails._program import ToolProgram
from guardgraph.specs import ast

__all__ = ["find_repair"]

_REPAIRABLE = (ast.Primitive.INT, ast.Primitive.REAL, ast.Primitive.STR, ast.Primitive.BOOL)


def _repairable(t: ast.TypeExpr, spec: ast.Spec) -> bool:
    if isinstance(t, ast.OptionalType):
        return False  # changing presence is not a repair of a value
    if isinstance(t, ast.PrimType):
        return t.name in _REPAIRABLE
    return isinstance(t, ast.NamedType) and spec.enum(t.name) is not None


def find_repair(policy: CompiledPolicy, prog: ToolProgram, env: Mapping[str, object],
                firing: Sequence[CompiledRule], *, timeout_ms: int,
                ) -> dict[str, object] | None:
    """New values for the repairable arguments, or None when no compliant call is found."""
    names = sorted({n for r in firing for n in r.rule.repair})
    tool = prog.tool
    spec = policy.spec
    free = {}
    for name in names:
        inp = policy.arg(tool, name)
        if not _repairable(inp.type, spec):
            return None
        free[inp.key] = inp
    # Provenance and sizes describe the old value; they cannot follow a changed argument.
    if any(i.kind in (InputKind.PROVENANCE, InputKind.SIZE) and i.path and i.path[0] in names
           for i in prog.inputs):
        return None
    pairs = [(inp.const, policy.to_z3(env[inp.key], inp.type))
             for inp in prog.inputs if inp.key not in free and inp.key in env]
    opt = z3.Optimize(ctx=policy.ctx)
    opt.set(timeout=timeout_ms)
    for rule in prog.rules:
        if rule.rule.otherwise is ast.Decision.DENY:
            holds = z3.Implies(rule.applies, rule.require)
            opt.add(z3.substitute(holds, *pairs) if pairs else holds)
    domain = policy.domain(tool)
    opt.add(z3.substitute(domain, *pairs) if pairs else domain)
    for inp in free.values():
        old = policy.to_z3(env[inp.key], inp.type)
        if z3.is_arith(inp.const):
            diff = inp.const - old
            opt.minimize(z3.If(diff >= 0, diff, -diff))
        else:
            opt.add_soft(inp.const == old)
    if opt.check() != z3.sat:
        return None
    model = opt.model()
    out: dict[str, object] = {}
    for inp in free.values():
        value = policy.from_z3(model.eval(inp.const, model_completion=True), inp.type)
        if value != env[inp.key]:
            out[inp.path[0]] = value
    return out or None
