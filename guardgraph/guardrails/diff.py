"""What changed between two versions of a spec (``guardgraph diff OLD NEW``), per tool,
as concrete example actions, or a proof that the versions agree.

A call is *allowed* by a version when it is well-formed for that version's declaration
(``domain``) and no deny or escalate rule fires on it: an escalation needs a human, so it
counts as not allowed; warn rules do not count. Arguments, facts, context and history
terms are matched across versions by name (the inputs' keys), so a renamed argument is a
different argument, and a changed signature is reported as such.

Per tool (the union of both versions' tools, plus ``route``): ``same`` when no call is
allowed by one and not the other (the solver proved it: unsat both ways), ``narrows``
when the new version only denies more, ``widens`` when it only allows more, ``changes``
when both, ``added``/``removed`` for a tool only one version declares, and ``unknown``
when the solver could not decide (never taken as an answer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import z3

from guardgraph.guardrails._compile import ROUTE, CompiledPolicy, Input, InputKind, compile_policy
from guardgraph.guardrails._witness import Witness, tool_inputs, witness_from
from guardgraph.specs import ast, format_type

__all__ = ["DiffStatus", "SpecDiff", "ToolDiff", "diff"]

_BLOCKING = (ast.Decision.DENY, ast.Decision.ESCALATE)


class DiffStatus(StrEnum):
    SAME = "same"
    NARROWS = "narrows"
    WIDENS = "widens"
    CHANGES = "changes"
    ADDED = "added"
    REMOVED = "removed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolDiff:
    """One tool's change. ``newly_allowed``: calls the new version allows and the old
    denied; ``newly_denied``: the reverse. ``signature``: how the declaration changed."""

    tool: str
    status: DiffStatus
    newly_allowed: tuple[Witness, ...] = ()
    newly_denied: tuple[Witness, ...] = ()
    signature: str | None = None
    reason: str | None = None

    def data(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "status": str(self.status),
            "signature": self.signature,
            "reason": self.reason,
            "newly_allowed": [w.data() for w in self.newly_allowed],
            "newly_denied": [w.data() for w in self.newly_denied],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecDiff:
    old: str
    new: str
    tools: tuple[ToolDiff, ...]

    @property
    def same(self) -> bool:
        """True when the solver proved that every tool allows the same calls."""
        return all(t.status is DiffStatus.SAME for t in self.tools)

    def to_json(self) -> str:
        return json.dumps(
            {"old": self.old, "new": self.new, "same": self.same,
             "tools": [t.data() for t in self.tools]},
            indent=2,
            ensure_ascii=False,
        )

    def render_human(self) -> str:
        lines = [f"diff {self.old} -> {self.new}"]
        for t in self.tools:
            head = f"  {t.tool}: {t.status}"
            if t.status is DiffStatus.SAME:
                head += " (proved: no call is allowed by one version and not the other)"
            lines.append(head)
            if t.signature:
                lines.append(f"    signature: {t.signature}")
            if t.reason:
                lines.append(f"    solver: {t.reason}")
            lines.extend(f"    + now allowed: {w.text()}" for w in t.newly_allowed)
            lines.extend(f"    - now denied:  {w.text()}" for w in t.newly_denied)
        verdict = "the versions agree" if self.same else "the versions differ"
        lines.append(verdict)
        return "\n".join(lines)


def diff(
    old: ast.Spec, new: ast.Spec, *, timeout_ms: int = 5000, examples: int = 3
) -> SpecDiff:
    """Compare two versions tool by tool, with up to ``examples`` witnesses each way."""
    a, b = compile_policy(old), compile_policy(new)
    names = list(dict.fromkeys([*a.tools, *b.tools]))
    if ROUTE not in names:
        names.append(ROUTE)
    results = [_tool(a, b, t, timeout_ms, examples) for t in names]
    return SpecDiff(
        old=f"{old.name} v{old.version}", new=f"{new.name} v{new.version}", tools=tuple(results)
    )


def _declared(policy: CompiledPolicy, tool: str) -> bool:
    return tool == ROUTE or policy.spec.tool(tool) is not None


def _tool(a: CompiledPolicy, b: CompiledPolicy, tool: str, timeout_ms: int, n: int) -> ToolDiff:
    if not _declared(a, tool):
        return ToolDiff(tool=tool, status=DiffStatus.ADDED)
    if not _declared(b, tool):
        return ToolDiff(tool=tool, status=DiffStatus.REMOVED)
    ctx = a.ctx
    allowed_a = _allowed(a, tool)
    allowed_b = _allowed(b, tool).translate(ctx)
    inputs = [*tool_inputs(a, tool), *tool_inputs(b, tool)]
    for policy in (a, b):
        for r in policy.rules_for(tool):
            inputs.extend(r.inputs)
    gained, why_g = _examples(ctx, z3.And(allowed_b, z3.Not(allowed_a)), tool, inputs, a, b,
                              timeout_ms, n)
    lost, why_l = _examples(ctx, z3.And(allowed_a, z3.Not(allowed_b)), tool, inputs, a, b,
                            timeout_ms, n)
    reason = why_g or why_l
    if reason is not None:
        status = DiffStatus.UNKNOWN
    elif gained and lost:
        status = DiffStatus.CHANGES
    elif gained:
        status = DiffStatus.WIDENS
    elif lost:
        status = DiffStatus.NARROWS
    else:
        status = DiffStatus.SAME
    return ToolDiff(tool=tool, status=status, newly_allowed=gained, newly_denied=lost,
                    signature=_signature(a, b, tool), reason=reason)


def _allowed(policy: CompiledPolicy, tool: str) -> z3.BoolRef:
    parts = [policy.domain(tool)]
    for r in policy.rules_for(tool):
        if r.rule.otherwise in _BLOCKING:
            parts.append(z3.Implies(r.applies, r.require))
    return z3.And(*parts)


def _examples(
    ctx: z3.Context,
    question: z3.BoolRef,
    tool: str,
    inputs: list[Input],
    a: CompiledPolicy,
    b: CompiledPolicy,
    timeout_ms: int,
    n: int,
) -> tuple[tuple[Witness, ...], str | None]:
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", timeout_ms)
    solver.add(question)
    args = tool_inputs(a, tool)
    # A `TOOL.arg` term is undefined only past the monitor's bound of kept values: an
    # example within the bound reads better, so it is asked for first.
    within = [i.const if i.const.ctx is ctx else i.const.translate(ctx) for i in inputs
              if i.kind is InputKind.DEFINED and isinstance(i.node, ast.Attribute)]
    found: list[Witness] = []
    while len(found) < n:
        answer = solver.check(*within) if within else solver.check()
        if answer == z3.unsat and within:
            within = []
            answer = solver.check()
        if answer == z3.unsat:
            break
        if answer != z3.sat:
            if found:
                break  # the first example settles the status; fewer examples is fine
            return (), f"undecided: {solver.reason_unknown()}"
        model = solver.model()
        found.append(_witness(model, tool, inputs, a, b))
        block = [i.const != model.eval(i.const, model_completion=True) for i in args]
        if not block:
            break
        solver.add(z3.Or(*block))
    return tuple(found), None


def _witness(model: z3.ModelRef, tool: str, inputs: Iterable[Input], a: CompiledPolicy,
             b: CompiledPolicy) -> Witness:
    def value(inp: Input) -> object:
        const = inp.const if inp.const.ctx is a.ctx else inp.const.translate(a.ctx)
        owner = a if inp.const.ctx is a.ctx else b
        return owner.from_z3(model.eval(const, model_completion=True), inp.type)

    return witness_from(tool, inputs, value)


def _signature(a: CompiledPolicy, b: CompiledPolicy, tool: str) -> str | None:
    if tool == ROUTE:
        return None
    old, new = a.spec.tool(tool), b.spec.tool(tool)
    if old is None or new is None:
        return None
    before = {p.name: format_type(p.type) for p in old.params}
    after = {p.name: format_type(p.type) for p in new.params}
    changes = [f"-{k}: {v}" for k, v in before.items() if after.get(k) != v]
    changes += [f"+{k}: {v}" for k, v in after.items() if before.get(k) != v]
    return ", ".join(changes) if changes else None
