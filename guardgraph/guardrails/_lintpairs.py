"""The lint checks that relate rules to each other on one tool, without checking every
pair with the solver.

Each check asks one batched question per rule (``check`` with the literals of every
candidate at once); only when it is unsat are the rules involved singled out. Candidates
are first filtered with the witness already found (an assignment where rule A fires and
rule B does not proves that B alone does not cover A, at the cost of one evaluation).
Rules equal up to renaming share one class and are never compared (see ``_session``). So
the solver work grows with the number of rules, not with the number of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import z3

from guardgraph.guardrails._compile import CompiledRule
from guardgraph.guardrails._session import Answer, RuleClass, ToolSession, Verdict
from guardgraph.specs import ast

__all__ = ["ClassState", "PairChecks"]

_D = ast.Decision


@dataclass(slots=True)
class ClassState:
    """What lint learnt about one rule class on one tool: an example where it fires and
    one where it passes (each a solver answer, or None before it was asked)."""

    fires: Verdict | None = None  # D ∧ applies ∧ ¬require
    passes: Verdict | None = None  # D ∧ applies ∧ require

    @property
    def can_fire(self) -> bool:
        return self.fires is not None and self.fires.answer is Answer.SAT

    @property
    def can_pass(self) -> bool:
        return self.passes is not None and self.passes.answer is Answer.SAT


class _Reporter(Protocol):
    def add(self, session: ToolSession, code: str, rule: ast.Rule, others: Sequence[ast.Rule],
            message: str, *, help: str | None = ..., example: Verdict | None = ...,
            witness: Iterable[CompiledRule] | None = ...) -> None: ...

    def unknown(self, session: ToolSession, rule: ast.Rule, others: Sequence[ast.Rule],
                question: str, verdict: Verdict) -> None: ...


class PairChecks:
    def __init__(
        self, session: ToolSession, states: dict[int, ClassState], report: _Reporter
    ) -> None:
        self.s = session
        self.states = states
        self.report = report
        self.tool = session.tool

    def _firing(self, decisions: tuple[ast.Decision, ...]) -> list[RuleClass]:
        return [c for c in self.s.classes
                if c.first.rule.otherwise in decisions and self.states[c.index].can_fire]

    def _fire_env(self, c: RuleClass) -> Mapping[str, object]:
        verdict = self.states[c.index].fires
        assert verdict is not None and verdict.env is not None
        return verdict.env

    def _calls(self) -> str:
        return "routing decisions" if self.tool == "route" else f"calls of {self.tool}"

    # ------------------------------------------------------------------ GG304

    def redundant(self) -> None:
        """A rule whose every firing is a firing of other rules with its decision."""
        marked: set[int] = set()
        for decision in (_D.DENY, _D.ESCALATE, _D.WARN):
            classes = self._firing((decision,))
            # Later rules first: of two equivalent rules the later one is reported.
            for a in reversed(classes):
                env = self._fire_env(a)
                # A rule that never passes is reported as such; as a cover it would
                # only repeat that finding for every rule it swallows.
                cands = [
                    b for b in classes
                    if b is not a and b.index not in marked and self.states[b.index].can_pass
                    and self.s.fires(env, b) is not False
                ]
                if not cands:
                    continue
                core = self._covering(a, cands, "whether other rules imply it")
                if not core:
                    continue
                marked.add(a.index)
                names = " and ".join(f"`{c.first.rule.name}`" for c in core)
                self.report.add(
                    self.s, "GG304", a.first.rule, [c.first.rule for c in core],
                    f"rule `{a.first.rule.name}` is implied by rule{'s' if len(core) > 1 else ''}"
                    f" {names} on {self._calls()}: every call it stops is already stopped"
                    f" ({decision})",
                    help="delete it, or make it stricter than the rules that imply it",
                    example=self.states[a.index].fires, witness=[a.first, *(c.first for c in core)],
                )

    def _covering(self, target: RuleClass, cands: Sequence[RuleClass],
                  question: str) -> list[RuleClass]:
        """The candidates that together stop every call ``target`` fires on, or [] when
        some firing call passes them all or Z3 cannot tell (an unknown is reported as
        GG310).

        Which rules are named must not depend on Z3's choice of unsat core (that varies
        with what else the process asked before): the first candidate, in spec order,
        that covers the target alone; else the candidates left after dropping, in spec
        order, each one the rest can do without. Each step is a question whose answer is
        a fact about the spec, so the result is too."""
        verdict = self.s.check([target.app, target.vio, *(c.ok for c in cands)])
        if verdict.answer is Answer.UNKNOWN:
            self.report.unknown(self.s, target.first.rule, [c.first.rule for c in cands],
                                question, verdict)
            return []
        if verdict.answer is Answer.SAT:
            return []
        for c in cands:
            if self.s.check([target.app, target.vio, c.ok]).answer is Answer.UNSAT:
                return [c]
        return self._fewest(cands, [target.app, target.vio])

    def _fewest(self, rules: Sequence[RuleClass],
                fixed: Sequence[z3.BoolRef]) -> list[RuleClass]:
        """``rules`` less each one (in order) whose ``ok`` literal the rest do not need
        for ``fixed`` + their ``ok`` literals to stay unsat."""
        keep = list(rules)
        for c in rules:
            rest = [k for k in keep if k is not c]
            if rest and self.s.check([*fixed, *(k.ok for k in rest)]).answer is Answer.UNSAT:
                keep = rest
        return keep

    # ------------------------------------------------------------------ GG306

    def shadowed_escalations(self) -> None:
        """An escalate rule whose every firing is denied anyway."""
        denies = self._firing((_D.DENY,))
        for e in self._firing((_D.ESCALATE,)):
            env = self._fire_env(e)
            cands = [d for d in denies if self.s.fires(env, d) is not False]
            if not cands:
                continue
            core = self._covering(e, cands, "whether deny rules cover its escalations")
            if not core:
                continue
            names = ", ".join(f"`{c.first.rule.name}`" for c in core)
            for member in e.rules:
                self.report.add(
                    self.s, "GG306", member.rule, [c.first.rule for c in core],
                    f"every call that rule `{member.rule.name}` escalates is denied by {names}"
                    f" anyway, so on {self._calls()} its escalation never reaches a human",
                    help="narrow the deny rule, or drop the escalation",
                    example=self.states[e.index].fires, witness=[member, *(c.first for c in core)],
                )

    # ------------------------------------------------------------------ GG303

    def blocked(self) -> set[frozenset[int]]:
        """Deny rules that together leave no call of the tool allowed."""
        denies = [c for c in self.s.classes if c.first.rule.otherwise is _D.DENY]
        if len(denies) < 2:
            return set()
        verdict = self.s.check([d.ok for d in denies])
        if verdict.answer is Answer.UNKNOWN:
            self.report.unknown(self.s, denies[0].first.rule, [d.first.rule for d in denies[1:]],
                                "whether any call passes all deny rules", verdict)
            return set()
        if verdict.answer is Answer.SAT:
            return set()
        # As in `_covering`: rules named by facts, not by the core Z3 happened to find.
        core = self._fewest(denies, [])
        if len(core) < 2:
            return set()  # one rule alone: reported as never-passes
        first, rest = core[0], core[1:]
        shown = self.s.check([*(c.ok for c in rest), first.app, first.vio])
        names = ", ".join(f"`{c.first.rule.name}`" for c in core)
        self.report.add(
            self.s, "GG303", first.first.rule, [c.first.rule for c in rest],
            f"rules {names} together deny every "
            + ("routing decision" if self.tool == "route" else f"call of {self.tool}"),
            help="each call that passes one of them fails another; the tool can never be used",
            example=shown, witness=[c.first for c in core],
        )
        return {frozenset(c.index for c in core)}

    # ------------------------------------------------------------------ GG305

    def contradictions(self, *, skip: set[frozenset[int]]) -> None:
        """Two blocking rules that can both apply, but never both pass."""
        blocking = [c for c in self.s.classes
                    if c.first.rule.otherwise in (_D.DENY, _D.ESCALATE)
                    and self.states[c.index].can_pass]
        if len(blocking) < 2:
            return
        keys = {c.index: c.keys for c in blocking}
        for x, y in combinations(blocking, 2):
            if frozenset((x.index, y.index)) in skip:
                continue
            if not keys[x.index] & keys[y.index]:
                continue  # no shared input: each passes on its own, so both can
            # Every witness found so far is tried first (``ToolSession.check``), so a
            # pair that some earlier call shows passing both costs no solver call.
            verdict = self.s.check([x.app, x.req, y.app, y.req])
            if verdict.answer is Answer.SAT:
                continue
            rules = [x.first.rule, y.first.rule]
            if verdict.answer is Answer.UNKNOWN:
                self.report.unknown(self.s, rules[0], rules[1:], "whether both can pass",
                                    verdict)
                continue
            # Each must be able to pass on some call both apply to: otherwise one rule's
            # requirement merely excludes the other's `when` (a shadowing, not a conflict).
            alone = [self.s.check([x.app, y.app, x.req]), self.s.check([x.app, y.app, y.req])]
            if all(v.answer is Answer.SAT for v in alone):
                overlap = alone[0]
                self.report.add(
                    self.s, "GG305", x.first.rule, [y.first.rule],
                    f"rules `{x.first.rule.name}` and `{y.first.rule.name}` contradict each"
                    f" other on {self._calls()}: no call they both apply to can pass both",
                    help="one of them stops every call the other lets through",
                    example=overlap, witness=[x.first, y.first],
                )
