"""The questions lint asks about one tool's rules, with assumption literals per rule class.

Rules on a tool whose compiled terms are identical (Z3 hash-conses terms, so renamed
copies of one rule compile to the same ``applies``/``require``) form one *class* and are
checked once. Each class gets four literals:

    app  -> applies          req -> require
    vio  -> not require      ok  -> (applies -> require)     (the rule does not fire)

and every question is a set of them. A question answers sat, unsat or unknown; unknown
is kept as such (never read as sat or unsat).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import z3

from guardgraph.guardrails._compile import CompiledPolicy, CompiledRule

__all__ = ["Answer", "RuleClass", "ToolSession", "Verdict"]

_KEEP_MODELS = 16


class Answer(StrEnum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    answer: Answer
    model: z3.ModelRef | None = None
    core: tuple[z3.BoolRef, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleClass:
    index: int
    rules: tuple[CompiledRule, ...]  # identical terms, spec order
    app: z3.BoolRef
    req: z3.BoolRef
    vio: z3.BoolRef
    ok: z3.BoolRef

    @property
    def first(self) -> CompiledRule:
        return self.rules[0]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(i.key for i in self.first.inputs)


class ToolSession:
    """The rule classes of one target (a tool, or ``route``) and the questions about them.

    Each question is decided by a solver built for it from the domain and the formulas of
    the literals it assumes, nothing else. Z3's incremental mode (one solver, many
    ``check(assumptions)``) skips its preprocessing, and on this language's mix of
    strings, sequences and arrays that made a question 10-50x slower than a fresh solver
    in measurements (benchmarks/lint_scale.py), so the literals stay, the shared solver
    does not. Unsat cores still name rules, through the assumption literals.
    """

    def __init__(
        self,
        policy: CompiledPolicy,
        tool: str,
        timeout_ms: int,
        rules: Sequence[CompiledRule] | None = None,
    ) -> None:
        self.policy = policy
        self.tool = tool
        ctx = policy.ctx
        self._timeout_ms = timeout_ms
        self._domain = policy.domain(tool)
        groups: dict[tuple[int, int, str], list[CompiledRule]] = {}
        for rule in rules if rules is not None else policy.rules_for(tool):
            key = (rule.applies.get_id(), rule.require.get_id(), str(rule.rule.otherwise))
            groups.setdefault(key, []).append(rule)
        classes = []
        # literal id -> (literal, the formula it stands for)
        self._meaning: dict[int, z3.BoolRef] = {}
        for index, members in enumerate(groups.values()):
            first = members[0]
            tag = f"{first.rule.name}@{tool}#{index}"
            lits = [z3.Bool(f"{kind}:{tag}", ctx) for kind in ("app", "req", "vio", "ok")]
            app, req, vio, ok = lits
            meaning = [
                first.applies,
                first.require,
                z3.Not(first.require),
                z3.Implies(first.applies, first.require),
            ]
            for lit, formula in zip(lits, meaning, strict=True):
                self._meaning[lit.get_id()] = formula
            classes.append(
                RuleClass(index=index, rules=tuple(members), app=app, req=req, vio=vio, ok=ok)
            )
        self.classes: tuple[RuleClass, ...] = tuple(classes)
        self._by_lit = {
            lit.get_id(): c for c in classes for lit in (c.app, c.req, c.vio, c.ok)
        }
        self.queries = 0
        self.reused = 0
        # Models of earlier sat answers. A model that satisfies a later question proves it
        # sat without a solver call: most questions about a healthy rule set are sat
        # (rules apply sometimes, pass sometimes, fail sometimes), and one call costs
        # milliseconds on strings and regexes while evaluating a model costs microseconds.
        self._models: list[z3.ModelRef] = []

    def define(self, lit: z3.BoolRef, formula: z3.BoolRef) -> None:
        """Let ``lit`` stand for ``formula`` in later questions."""
        self._meaning[lit.get_id()] = formula

    def check(self, assumptions: Sequence[z3.BoolRef]) -> Verdict:
        """Decide the conjunction of ``assumptions`` with the domain: sat (with a model),
        unsat (with a core of assumption literals) or unknown (with the reason)."""
        formulas = [self._domain]
        for a in assumptions:
            formula = self._meaning.get(a.get_id())
            if formula is None:
                raise ValueError(f"not a literal of this session: {a}")
            formulas.append(formula)
        for model in reversed(self._models):
            if all(self.holds_in(model, f) for f in formulas):
                self.reused += 1
                return Verdict(answer=Answer.SAT, model=model)
        self.queries += 1
        solver = z3.Solver(ctx=self.policy.ctx)
        solver.set("timeout", self._timeout_ms)
        solver.set("core.minimize", True)
        solver.add(self._domain)
        for a in assumptions:
            formula = self._meaning.get(a.get_id())
            if formula is None:
                raise ValueError(f"not a literal of this session: {a}")
            solver.add(z3.Implies(a, formula))
        answer = solver.check(*assumptions)
        if answer == z3.sat:
            model = solver.model()
            self._models.append(model)
            del self._models[:-_KEEP_MODELS]  # _KEEP_MODELS > 0
            return Verdict(answer=Answer.SAT, model=model)
        if answer == z3.unsat:
            return Verdict(answer=Answer.UNSAT, core=tuple(solver.unsat_core()))
        return Verdict(answer=Answer.UNKNOWN, reason=solver.reason_unknown())

    def class_of(self, lit: z3.BoolRef) -> RuleClass | None:
        """The class one of whose literals is ``lit`` (to read unsat cores)."""
        return self._by_lit.get(lit.get_id())

    def core_classes(self, verdict: Verdict) -> list[RuleClass]:
        """The classes named by an unsat core, in class order, each once."""
        found = {c.index: c for lit in verdict.core if (c := self.class_of(lit)) is not None}
        return [found[i] for i in sorted(found)]

    def holds_in(self, model: z3.ModelRef, term: z3.BoolRef) -> bool | None:
        """Whether ``term`` is true in ``model`` (None when the model cannot tell)."""
        value = model.eval(term, model_completion=True)
        if z3.is_true(value):
            return True
        if z3.is_false(value):
            return False
        return None
