"""The questions lint asks about one tool's rules, with assumption literals per rule class.

Rules on a tool whose compiled terms are identical (Z3 hash-conses terms, so renamed
copies of one rule compile to the same ``applies``/``require``) form one *class* and are
checked once. Each class gets four literals:

    app  -> applies          req -> require
    vio  -> not require      ok  -> (applies -> require)     (the rule does not fire)

and every question is a set of them, conjoined with the tool's domain. A question answers
sat (with a witness: a value for every input), unsat (with a core of literals) or unknown
(with the reason); unknown is kept as such, never read as sat or unsat.

How a question is decided, cheapest first:

1. Known assignments: every witness found so far is kept with the truth of each
   literal in it (bit masks), so a question one of them satisfies costs a few integer
   operations.
2. Search (``_search.walk``): values tried against the compiled terms, from the closest
   known assignment. Sound: an assignment is returned only when every term holds in it.
3. Z3, on the question split into independent parts (terms that share no input are
   decided separately, and the domain only where it touches the question), each part on
   a fresh solver and remembered for later questions. Z3's incremental mode (one solver,
   many ``check(assumptions)``) skips its preprocessing, and on this language's strings,
   sequences and arrays that made a question 10-50x slower in measurements.
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import z3

from guardgraph.guardrails._compile import CompiledPolicy, CompiledRule, InputKind
from guardgraph.guardrails._errors import CompileError
from guardgraph.guardrails._fastpath import compile_predicates
from guardgraph.guardrails._search import Env, Goal, Values, walk
from guardgraph.guardrails._witness import tool_inputs
from guardgraph.guardrails._z3sorts import python_value
from guardgraph.specs import ast

__all__ = ["Answer", "RuleClass", "ToolSession", "Verdict"]

_STEPS = 40  # search moves per question before Z3 is asked


class Answer(StrEnum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    answer: Answer
    env: Mapping[str, object] | None = None  # sat: a value for every input
    core: tuple[z3.BoolRef, ...] = ()
    reason: str = ""
    question: tuple[z3.BoolRef, ...] = ()  # the assumptions it answers


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


_APP, _REQ, _VIO, _OK, _DEF = range(5)


@dataclass(slots=True)
class _Lit:
    """What an assumption literal stands for."""

    base: tuple[z3.BoolRef, ...]  # the formula, or (applies, require) of a class
    kind: int  # _APP .. _DEF
    bit: int  # 1 << class index (0 for _DEF)
    goal: Goal | None  # None: the fast path cannot evaluate it
    reads: frozenset[str] | None  # None: unknown (not compiled)
    _formula: z3.BoolRef | None = None

    @property
    def formula(self) -> z3.BoolRef:
        # Built on first use: most questions never reach Z3.
        if self._formula is None:
            if self.kind == _VIO:
                self._formula = z3.Not(self.base[1])
            elif self.kind == _OK:
                self._formula = z3.Implies(*self.base)
            else:
                self._formula = self.base[0]
        return self._formula


@dataclass(slots=True)
class _Known:
    """An assignment that satisfies the domain, with the literals true in it by class."""

    env: Env
    app: int
    req: int
    vio: int
    ok: int
    extra: dict[int, bool] = field(default_factory=dict)  # defined literals, by id


class ToolSession:
    """The rule classes of one target (a tool, or ``route``) and the questions about them."""

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
        groups: dict[tuple[int, int, str], list[CompiledRule]] = {}
        for rule in rules if rules is not None else policy.rules_for(tool):
            key = (rule.applies.get_id(), rule.require.get_id(), str(rule.rule.otherwise))
            groups.setdefault(key, []).append(rule)
        classes = []
        for index, members in enumerate(groups.values()):
            tag = f"{members[0].rule.name}@{tool}#{index}"
            app, req, vio, ok = (z3.Bool(f"{kind}:{tag}", ctx)
                                 for kind in ("app", "req", "vio", "ok"))
            classes.append(
                RuleClass(index=index, rules=tuple(members), app=app, req=req, vio=vio, ok=ok)
            )
        self.classes: tuple[RuleClass, ...] = tuple(classes)

        # One compiled predicate per class term and per conjunct of the domain that
        # touches the inputs the rules or a witness read (the rest holds on its own).
        wanted = {inp.key for c in classes for inp in c.first.inputs}
        wanted.update(inp.key for inp in tool_inputs(policy, tool))
        domain_parts = _touching(policy.domain_parts(tool), wanted)
        terms: list[z3.ExprRef] = []
        for c in classes:
            terms += [c.first.applies, c.first.require]
        terms += [formula for formula, _ in domain_parts]
        preds = compile_predicates(terms, name=tool)
        self._consts: dict[str, z3.ExprRef] = {
            name: z3.Const(name, sort) for name, sort in preds.free.items()
        }
        for inp in tool_inputs(policy, tool):
            self._consts.setdefault(inp.key, inp.const)
        self._values = Values({n: c.sort() for n, c in self._consts.items()}, preds,
                              seed=zlib.crc32(tool.encode()))
        for name in self._consts:
            known = policy.inputs.get(name)
            enum = policy.enum_values(known.type) if known is not None else None
            if enum:
                self._values.only(name, list(enum))  # an enum input takes nothing else
            elif (known is not None and known.kind is InputKind.DEFINED
                  and isinstance(known.node, ast.Attribute)):
                # `TOOL.arg` is undefined only past the monitor's bound: examples within it
                # read better (`lookup.id = {}`, not an overflow)
                self._values.prefer(name, True)
        self._rng = random.Random(zlib.crc32(tool.encode()) ^ 0x5EED)
        self._fns = preds.fns
        self._reads = preds.reads
        self._literals = preds.literals
        self._lits: dict[int, _Lit] = {}
        for c in classes:
            self._add_lits(c, 2 * c.index, 2 * c.index + 1)
        base = 2 * len(classes)
        self._domain: list[_Item] = []
        for i, (formula, reads) in enumerate(domain_parts):
            fn = preds.fns[base + i]
            goal = None if fn is None else Goal(_is_true(fn), reads, preds.literals[base + i])
            self._domain.append(_Item(None, formula, reads, goal))
        self._known: list[_Known] = []
        self._solved: dict[frozenset[tuple[int, int]], Verdict] = {}
        # How questions were decided: by a known witness, by search, by Z3.
        self.stats = {"known": 0, "search": 0, "solver": 0}

    def _add_lits(self, c: RuleClass, a: int, r: int) -> None:
        fa, fr = self._fns[a], self._fns[r]
        ra, rr = self._reads[a], self._reads[r]
        bit = 1 << c.index
        applies, require = c.first.applies, c.first.require
        both = None if fa is None or fr is None else ra | rr
        la, lr = self._literals[a], self._literals[r]
        self._lits[c.app.get_id()] = _Lit(
            (applies,), _APP, bit, None if fa is None else Goal(_is_true(fa), ra, la),
            None if fa is None else ra)
        self._lits[c.req.get_id()] = _Lit(
            (require,), _REQ, bit, None if fr is None else Goal(_is_true(fr), rr, lr),
            None if fr is None else rr)
        self._lits[c.vio.get_id()] = _Lit(
            (applies, require), _VIO, bit, None if fr is None else Goal(_is_false(fr), rr, lr),
            None if fr is None else rr)
        ok_goal = None
        if fa is not None and fr is not None:
            ok_goal = Goal(_passes(fa, fr), ra | rr, (*la, *lr))
        self._lits[c.ok.get_id()] = _Lit((applies, require), _OK, bit, ok_goal, both)

    # ------------------------------------------------------------------ public

    def define(self, lit: z3.BoolRef, formula: z3.BoolRef) -> None:
        """Let ``lit`` stand for ``formula`` in later questions."""
        preds = compile_predicates([formula], name=f"{self.tool}:{lit}")
        for name, sort in preds.free.items():
            if name not in self._consts:
                self._consts[name] = z3.Const(name, sort)
                self._values.sorts[name] = sort
        fn = preds.fns[0]
        goal = None if fn is None else Goal(_is_true(fn), preds.reads[0], preds.literals[0])
        self._lits[lit.get_id()] = _Lit((formula,), _DEF, 0, goal,
                                        None if fn is None else preds.reads[0])

    def check(self, assumptions: Sequence[z3.BoolRef]) -> Verdict:
        """Decide the conjunction of ``assumptions`` with the domain: sat (with a witness),
        unsat (with a core of assumption literals) or unknown (with the reason)."""
        verdict = self._check(assumptions)
        return dataclasses.replace(verdict, question=tuple(assumptions))

    def simplest(self, verdict: Verdict) -> Mapping[str, object]:
        """The witness of a sat ``verdict`` with each input, in turn, set to the first of
        its usual values (``0`` before ``1``, the spec's own numbers and strings next)
        that keeps the question true: the example a person reads."""
        assert verdict.env is not None, "a sat verdict"
        goals = [self._lits[a.get_id()].goal for a in verdict.question]
        goals += [item.goal for item in self._domain]
        tests = [g for g in goals if g is not None]
        if len(tests) < len(goals):
            return verdict.env
        env = self._filled(verdict.env)
        self._simplify(env, sorted({n for g in tests for n in g.reads}), tests)
        return env

    def _simplify(self, env: Env, names: Sequence[str], tests: Sequence[Goal]) -> None:
        """Set each of ``names`` in ``env``, in turn, to the first of its usual values that
        keeps every test true (its own value when none earlier does)."""
        for name in names:
            current = env[name]
            for value in self._values.simple(name):
                if value == current:
                    break
                env[name] = value
                if all(g.test(env) for g in tests):
                    break
                env[name] = current

    def _check(self, assumptions: Sequence[z3.BoolRef]) -> Verdict:
        lits = []
        for a in assumptions:
            lit = self._lits.get(a.get_id())
            if lit is None:
                raise ValueError(f"not a literal of this session: {a}")
            lits.append(lit)
        need = [0, 0, 0, 0]
        extra: list[tuple[int, _Lit]] = []
        for a, lit in zip(assumptions, lits, strict=True):
            if lit.kind == _DEF:
                extra.append((a.get_id(), lit))
            else:
                need[lit.kind] |= lit.bit
        known = self._known or [self._base()]
        best, best_score = known[0], -1
        for k in reversed(known):
            score = ((need[_APP] & k.app).bit_count() + (need[_REQ] & k.req).bit_count()
                     + (need[_VIO] & k.vio).bit_count() + (need[_OK] & k.ok).bit_count()
                     + sum(self._extra(k, key, lit) for key, lit in extra))
            if score > best_score:
                best, best_score = k, score
            if (need[_APP] & ~k.app == 0 and need[_REQ] & ~k.req == 0
                    and need[_VIO] & ~k.vio == 0 and need[_OK] & ~k.ok == 0
                    and all(self._extra(k, key, lit) for key, lit in extra)):
                self.stats["known"] += 1
                return Verdict(answer=Answer.SAT, env=k.env)
        goals = [lit.goal for lit in lits]
        if all(g is not None for g in goals):
            question = [g for g in goals if g is not None]
            domain = [d.goal for d in self._domain if d.goal is not None]
            found = walk([*question, *domain], self._filled(best.env), self._values,
                         self._rng, _STEPS)
            if found is not None:
                self.stats["search"] += 1
                return Verdict(answer=Answer.SAT, env=self._remember(found).env)
        return self._solve(list(assumptions), lits, best.env)

    def fires(self, env: Mapping[str, object], c: RuleClass) -> bool | None:
        """Whether rule class ``c`` fires on ``env`` (None: the fast path cannot tell)."""
        fa, fr = self._fns[2 * c.index], self._fns[2 * c.index + 1]
        if fa is None or fr is None:
            return None
        applies, require = fa(env), fr(env)
        if applies is None or require is None:
            return None
        return applies and not require

    # ------------------------------------------------------------------ known assignments

    def _extra(self, k: _Known, key: int, lit: _Lit) -> bool:
        found = k.extra.get(key)
        if found is None:
            found = lit.goal is not None and lit.goal.test(self._filled(k.env))
            k.extra[key] = found
        return found

    def _filled(self, env: Mapping[str, object]) -> Env:
        out = dict(env)
        for name in self._consts:
            if name not in out:
                out[name] = self._values.first(name)
        return out

    def _remember(self, env: Env) -> _Known:
        app = req = vio = ok = 0
        for c in self.classes:
            fa, fr = self._fns[2 * c.index], self._fns[2 * c.index + 1]
            a = fa(env) if fa is not None else None
            r = fr(env) if fr is not None else None
            bit = 1 << c.index
            if a is True:
                app |= bit
            if r is True:
                req |= bit
            elif r is False:
                vio |= bit
            if a is False or r is True:
                ok |= bit
        known = _Known(env=env, app=app, req=req, vio=vio, ok=ok)
        self._known.append(known)
        return known

    def _base(self) -> _Known:
        """A first assignment: the first value of every input, then mended until the
        domain holds (by search, else by Z3)."""
        env = self._filled({})
        domain = [d.goal for d in self._domain if d.goal is not None]
        found = walk(domain, env, self._values, self._rng, 10 * len(domain) + 10)
        if found is None or len(domain) < len(self._domain):
            solver = self._solver()
            solver.add(*(d.formula for d in self._domain))
            if solver.check() == z3.sat:
                found = self._read(solver.model(), env, self._consts)
        if found is None:
            found = env
        return self._remember(found)

    # ------------------------------------------------------------------ Z3

    def _solver(self) -> z3.Solver:
        solver = z3.Solver(ctx=self.policy.ctx)
        solver.set("timeout", self._timeout_ms)
        return solver

    def _read(self, model: z3.ModelRef, start: Mapping[str, object],
              names: Sequence[str] | Mapping[str, object]) -> Env:
        env = dict(start)
        for name in names:
            const = self._consts.get(name)
            if const is None:
                continue
            try:
                value = python_value(model.eval(const, model_completion=True))
            except CompileError:
                continue  # kept from ``start``; the check below then decides
            env[name] = value
        return env

    def _solve(self, assumptions: list[z3.BoolRef], lits: list[_Lit],
               start: Mapping[str, object]) -> Verdict:
        items = [_Item(a, lit.formula, lit.reads, lit.goal)
                 for a, lit in zip(assumptions, lits, strict=True)]
        items += self._domain
        env = self._filled(start)
        unknown: Verdict | None = None
        for part in _split(items):
            # Keyed by literal and formula: an unsat core names the question's literals.
            key = frozenset((item.assumption.get_id() if item.assumption is not None else -1,
                             item.formula.get_id()) for item in part)
            verdict = self._solved.get(key)
            if verdict is None:
                verdict = self._decide_part(part, env)
                self._solved[key] = verdict
            if verdict.answer is Answer.UNSAT:
                return verdict
            if verdict.answer is Answer.UNKNOWN:
                unknown = verdict
            elif verdict.env is not None:
                env.update(verdict.env)
        if unknown is not None:
            # Z3's quantifier instantiation is heuristic: a part it cannot decide on its
            # own may be decided within the whole question.
            whole = self._z3(items)
            if whole.answer is Answer.SAT and whole.env is not None:
                return Verdict(answer=Answer.SAT, env={**env, **whole.env})
            return whole if whole.answer is Answer.UNSAT else unknown
        if all(item.goal is not None and item.goal.test(env) for item in items):
            return Verdict(answer=Answer.SAT, env=self._remember(env).env)
        # The parts' values do not add up under the fast path (a co-finite set, say):
        # ask once more about the whole question for one model.
        whole = self._z3(items)
        if whole.answer is Answer.SAT and whole.env is not None:
            return Verdict(answer=Answer.SAT, env={**env, **whole.env})
        return whole

    def _decide_part(self, part: list[_Item], env: Env) -> Verdict:
        """One independent part: by search (a part is smaller than the question, so the
        search often succeeds here where it failed on the whole), else by Z3."""
        goals = [item.goal for item in part]
        if all(g is not None for g in goals):
            found = walk([g for g in goals if g is not None], env, self._values, self._rng,
                         _STEPS)
            if found is not None:
                self.stats["search"] += 1
                names = {n for item in part for n in item.reads or ()}
                return Verdict(answer=Answer.SAT, env={n: found[n] for n in names})
        verdict = self._z3(part)
        if verdict.answer is Answer.SAT and verdict.env is not None:
            verdict = Verdict(answer=Answer.SAT, env=self._shrink(part, verdict.env, env))
        return verdict

    def _shrink(self, part: list[_Item], found: Mapping[str, object], env: Env) -> Env:
        """Z3's values for a part, each replaced by the first of the usual values that
        keeps the part true. Witnesses read better (``0`` rather than ``-97988``), and
        they no longer depend on which model Z3 happened to build: that depends on the
        terms created before in its context, so on what else the process checked."""
        goals = [item.goal for item in part]
        out = {**env, **found}
        if any(g is None for g in goals):
            return dict(found)
        self._simplify(out, sorted(found), [g for g in goals if g is not None])
        shrunk = {name: out[name] for name in found}
        for name, value in shrunk.items():
            self._values.learn(name, value)
        return shrunk

    def _z3(self, part: Sequence[_Item]) -> Verdict:
        self.stats["solver"] += 1
        solver = self._solver()
        assumptions = []
        for item in part:
            if item.assumption is None:
                solver.add(item.formula)
            else:
                solver.add(z3.Implies(item.assumption, item.formula))
                assumptions.append(item.assumption)
        answer = solver.check(*assumptions)
        if answer == z3.sat:
            model = solver.model()
            if any(item.reads is None for item in part):
                names: set[str] = set(self._consts)
            else:
                names = {n for item in part for n in item.reads or ()}
            return Verdict(answer=Answer.SAT, env=self._read(model, {}, sorted(names)))
        if answer == z3.unsat:
            core = tuple(solver.unsat_core())
            # Z3's string solver can return a core that is not unsat on its own (seen with
            # a length bound and an equality: `len(to) < 1` alone); a finding must name
            # rules that really conflict, so a smaller core is checked and else dropped.
            if len(core) < len(assumptions) and solver.check(*core) != z3.unsat:
                core = tuple(assumptions)
            return Verdict(answer=Answer.UNSAT, core=core)
        return Verdict(answer=Answer.UNKNOWN, reason=solver.reason_unknown())


@dataclass(frozen=True, slots=True)
class _Item:
    """A formula of a question: under an assumption literal, or (None) of the domain."""

    assumption: z3.BoolRef | None
    formula: z3.BoolRef
    reads: frozenset[str] | None  # None: not known (the fast path cannot read it)
    goal: Goal | None


def _split(items: list[_Item]) -> list[list[_Item]]:
    """The question's formulas grouped into parts that share no input; the domain's
    formulas only in parts with a question formula (alone they hold: see ``_base``).
    A formula whose inputs are unknown puts everything in one part."""
    if any(item.reads is None for item in items):
        return [items]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for item in items:
        names = sorted(item.reads or ())
        for other in names[1:]:
            parent[find(other)] = find(names[0])
    groups: dict[str, list[_Item]] = {}
    constant: list[_Item] = []
    for item in items:
        if not item.reads:
            constant.append(item)
        else:
            groups.setdefault(find(min(item.reads)), []).append(item)
    out = [g for g in groups.values() if any(item.assumption is not None for item in g)]
    if any(item.assumption is not None for item in constant):
        out.append(constant)
    return out


def _touching(parts: Sequence[tuple[z3.BoolRef, frozenset[str]]],
              keys: set[str]) -> list[tuple[z3.BoolRef, frozenset[str]]]:
    """The parts that read one of ``keys``, or an input such a part reads, and so on."""
    chosen: dict[int, tuple[z3.BoolRef, frozenset[str]]] = {}
    grown = True
    while grown:
        grown = False
        for i, (formula, reads) in enumerate(parts):
            if i not in chosen and reads & keys:
                chosen[i] = (formula, reads)
                keys |= reads
                grown = True
    return [chosen[i] for i in sorted(chosen)]


def _is_true(fn: Callable[[Env], bool | None]) -> Callable[[Env], bool]:
    return lambda env: fn(env) is True


def _is_false(fn: Callable[[Env], bool | None]) -> Callable[[Env], bool]:
    return lambda env: fn(env) is False


def _passes(fa: Callable[[Env], bool | None],
            fr: Callable[[Env], bool | None]) -> Callable[[Env], bool]:
    def test(env: Env) -> bool:
        return fa(env) is False or fr(env) is True

    return test
