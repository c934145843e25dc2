"""The lint checks that relate rules to each other on one tool, without checking every
pair with the solver.

Each check asks one batched question per rule (``check`` with the literals of every
candidate at once) and reads the answer's unsat core for the rules involved; candidates
are first filtered with models already found (a model where rule A fires and rule B does
not proves that B does not cover A, at the cost of one evaluation). Rules equal up to
renaming share one class and are never compared (see ``_session``). So the solver work
grows with the number of rules, not with the number of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Protocol

import z3

from guardgraph.guardrails._compile import CompiledRule
from guardgraph.guardrails._session import Answer, RuleClass, ToolSession, Verdict
from guardgraph.specs import ast

if TYPE_CHECKING:
    from guardgraph.guardrails.lint import _ClassState

__all__ = ["PairChecks"]

_D = ast.Decision
_BATCH_ROUNDS = 8


class _Reporter(Protocol):
    def add(self, session: ToolSession, code: str, rule: ast.Rule, others: Sequence[ast.Rule],
            message: str, *, help: str | None = ..., model: z3.ModelRef | None = ...,
            witness: Iterable[CompiledRule] | None = ...) -> None: ...

    def unknown(self, session: ToolSession, rule: ast.Rule, others: Sequence[ast.Rule],
                question: str, verdict: Verdict) -> None: ...


class PairChecks:
    def __init__(
        self, session: ToolSession, states: dict[int, _ClassState], report: _Reporter
    ) -> None:
        self.s = session
        self.states = states
        self.report = report
        self.tool = session.tool
        self._fires = {c.index: z3.And(c.first.applies, z3.Not(c.first.require))
                       for c in session.classes}

    def _firing(self, decisions: tuple[ast.Decision, ...]) -> list[RuleClass]:
        return [c for c in self.s.classes
                if c.first.rule.otherwise in decisions and self.states[c.index].can_fire]

    def _fire_model(self, c: RuleClass) -> z3.ModelRef:
        verdict = self.states[c.index].fires
        assert verdict is not None and verdict.model is not None
        return verdict.model

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
                model = self._fire_model(a)
                # A rule that never passes is reported as such; as a cover it would
                # only repeat that finding for every rule it swallows.
                cands = [
                    b for b in classes
                    if b is not a and b.index not in marked and self.states[b.index].can_pass
                    and self.s.holds_in(model, self._fires[b.index]) is not False
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
                    model=model, witness=[a.first, *(c.first for c in core)],
                )

    def _covering(self, target: RuleClass, cands: Sequence[RuleClass],
                  question: str) -> list[RuleClass]:
        """The candidates that together stop every call ``target`` fires on (from the
        unsat core), or [] when some firing call passes them all or Z3 cannot tell (an
        unknown is reported as GG310)."""
        verdict = self.s.check([target.app, target.vio, *(c.ok for c in cands)])
        if verdict.answer is Answer.UNKNOWN:
            self.report.unknown(self.s, target.first.rule, [c.first.rule for c in cands],
                                question, verdict)
            return []
        if verdict.answer is Answer.SAT:
            return []
        return [c for c in self.s.core_classes(verdict) if c is not target]

    # ------------------------------------------------------------------ GG306

    def shadowed_escalations(self) -> None:
        """An escalate rule whose every firing is denied anyway."""
        denies = self._firing((_D.DENY,))
        for e in self._firing((_D.ESCALATE,)):
            model = self._fire_model(e)
            cands = [d for d in denies
                     if self.s.holds_in(model, self._fires[d.index]) is not False]
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
                    model=model, witness=[member, *(c.first for c in core)],
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
        core = self.s.core_classes(verdict)
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
            model=shown.model, witness=[c.first for c in core],
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
        agree: set[int] = set()  # classes that all apply and pass in one model
        pool: list[z3.ModelRef] = []
        active = list(blocking)
        for _ in range(_BATCH_ROUNDS):
            if len(active) < 2:
                break
            verdict = self.s.check([lit for c in active for lit in (c.app, c.req)])
            if verdict.answer is Answer.SAT and verdict.model is not None:
                agree = {c.index for c in active}
                pool.append(verdict.model)
                break
            if verdict.answer is Answer.UNKNOWN:
                break
            core = self.s.core_classes(verdict)
            if not core:
                break
            active.remove(core[-1])
        keys = {c.index: c.keys for c in blocking}
        for x, y in combinations(blocking, 2):
            if {x.index, y.index} <= agree or frozenset((x.index, y.index)) in skip:
                continue
            if not keys[x.index] & keys[y.index]:
                continue  # no shared input: each passes on its own, so both can
            both = z3.And(x.first.applies, x.first.require, y.first.applies, y.first.require)
            models = [*pool, *(m for c in (x, y) if (m := self._pass_model(c)) is not None)]
            if any(self.s.holds_in(m, both) for m in models):
                continue
            verdict = self.s.check([x.app, x.req, y.app, y.req])
            if verdict.answer is Answer.SAT:
                if verdict.model is not None:
                    pool.append(verdict.model)
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
                    model=overlap.model, witness=[x.first, y.first],
                )

    def _pass_model(self, c: RuleClass) -> z3.ModelRef | None:
        verdict = self.states[c.index].passes
        return verdict.model if verdict is not None else None
