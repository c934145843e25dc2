"""Plan checking: can some execution of a proposed plan make a rule fire?

Arguments may be `Symbolic` (unknown until earlier steps run). The monitor is unrolled
over the plan in Z3: every aggregate, temporal term and ``result`` starts from the
session's current (concrete) value and is updated by each earlier step as the monitor
would update it, assuming the plan runs now (no window expires during it) and that each
earlier step passed its rules. For each step Z3 looks for argument values under which a
deny or escalate rule fires; a model is the witness. ``unknown`` counts as a violation.
Provenance of a symbolic argument is unknown, so rules about it are checked for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import z3

from guardgraph.guardrails._compile import CompiledPolicy, InputKind
from guardgraph.guardrails._monitor import MonitorState, Track, TrackKind
from guardgraph.guardrails._program import ToolProgram
from guardgraph.guardrails._provenance import taint_keys, user_keys, value_keys
from guardgraph.guardrails._validate import BadValue, normalize, validate, zero
from guardgraph.guardrails.action import Action, ActionKind, Session, Symbolic
from guardgraph.guardrails.verdict import Decision, PlanVerdict, PlanViolation
from guardgraph.specs import ast

__all__ = ["check_plan"]

Term: TypeAlias = z3.ExprRef


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_plan(policy: CompiledPolicy, programs: Mapping[str, ToolProgram],
               names: Mapping[str, str], actions: Sequence[Action], session: Session,
               state: MonitorState, now: int, facts: Mapping[str, object], *,
               timeout_ms: int) -> PlanVerdict:
    try:
        return _Planner(policy, programs, names, session, state, now, facts,
                        timeout_ms).run(actions)
    except _Bad as bad:
        return PlanVerdict(safe=False, code=bad.code, message=f"{bad.code}: {bad}")


class _Planner:
    def __init__(self, policy: CompiledPolicy, programs: Mapping[str, ToolProgram],
                 names: Mapping[str, str], session: Session, state: MonitorState, now: int,
                 facts: Mapping[str, object], timeout_ms: int) -> None:
        self.p, self.programs, self.names = policy, programs, names
        self.session, self.state, self.now, self.facts = session, state, now, facts
        self.timeout = timeout_ms
        self.ctx = policy.ctx
        self.symbols: dict[str, Term] = {}
        self.fresh = 0

    def lit(self, value: object, t: ast.TypeExpr) -> Term:
        return self.p.to_z3(value, t)

    def run(self, actions: Sequence[Action]) -> PlanVerdict:
        steps = [self._step(i, a) for i, a in enumerate(actions)]
        tracks = {t.key: t for prog in self.programs.values() for _, t, _ in prog.monitor}
        mon = {k: self._initial(t) for k, t in tracks.items()}
        passed: list[z3.BoolRef] = []
        domains = [self._domain(tool, args) for tool, args, _ in steps]
        violations: list[PlanViolation] = []
        for k, (tool, args, action) in enumerate(steps):
            prog = self.programs[tool]
            env = self._env(prog, tool, args, action, mon)
            fires = []
            for rule in prog.rules:
                if rule.rule.otherwise is ast.Decision.WARN:
                    continue
                pairs = [(i.const, env[i.key]) for i in rule.inputs]
                fires.append((rule, z3.substitute(rule.fires, *pairs) if pairs else rule.fires))
            if fires:
                found = self._solve(k, tool, fires, [*domains, *passed])
                if found is not None:
                    violations.append(found)
                passed.append(z3.And(*[z3.Not(f) for _, f in fires]))
            if tool != "route":
                mon = {key: self._update(tracks[key], val, tool, args)
                       for key, val in mon.items()}
        return PlanVerdict(safe=not violations, violations=tuple(violations),
                           message="no execution of the plan violates a rule" if not violations
                           else f"{len(violations)} step(s) can violate a rule")

    # ------------------------------------------------------------------ steps

    def _step(self, i: int, a: Action) -> tuple[str, dict[str, Term], Action]:
        if a.kind is ActionKind.ROUTE:
            return "route", {}, a
        tool = self.names.get(normalize(a.tool).casefold())
        if tool is None:
            raise _Bad("GG401", f"step {i}: unknown tool {a.tool!r}")
        decl = self.p.spec.tool(tool)
        assert decl is not None
        params = {p.name: p for p in decl.params}
        extra = [k for k in a.args if normalize(k) not in params]
        if extra:
            raise _Bad("GG403", f"step {i}: {tool}: undeclared argument {extra[0]!r}")
        args: dict[str, Term] = {}
        for p in decl.params:
            value = a.args.get(p.name)
            if isinstance(value, Symbolic):
                sort = self.p.arg(tool, p.name).const.sort()
                sym = self.symbols.setdefault(value.name, z3.Const(f"plan:{value.name}", sort))
                if sym.sort() != sort:
                    raise _Bad("GG404", f"step {i}: symbol {value.name!r} used with two types")
                args[p.name] = sym
            elif value is None:
                if not isinstance(p.type, ast.OptionalType):
                    raise _Bad("GG402", f"step {i}: {tool}: missing argument {p.name!r}")
            else:
                try:
                    checked = validate(value, p.type, self.p.spec, f"step {i}: {tool}.{p.name}")
                except BadValue as exc:
                    raise _Bad("GG404", str(exc)) from None
                args[p.name] = self.lit(checked, p.type)
        return tool, args, a

    def _arg(self, tool: str, args: Mapping[str, Term], name: str) -> Term:
        if name in args:
            return args[name]
        return self.p.zero(self.p.arg(tool, name).type)

    def _domain(self, tool: str, args: Mapping[str, Term]) -> z3.BoolRef:
        if tool == "route":
            return z3.BoolVal(True, self.ctx)
        decl = self.p.spec.tool(tool)
        assert decl is not None
        pairs = [(self.p.arg(tool, p.name).const, self._arg(tool, args, p.name))
                 for p in decl.params]
        for p in decl.params:
            present = self.p.inputs.get(f"present:{tool}.{p.name}")
            if present is not None:
                pairs.append((present.const, z3.BoolVal(p.name in args, self.ctx)))
        # Each step pins `tool` to its own name: without this, the steps' domains
        # (tool == "a", tool == "b") would contradict each other.
        ctx_tool = self.p.inputs.get("ctx:tool")
        if ctx_tool is not None:
            pairs.append((ctx_tool.const, self.lit(tool, ctx_tool.type)))
        dom = self.p.domain(tool)
        return z3.substitute(dom, *pairs) if pairs else dom

    def _env(self, prog: ToolProgram, tool: str, args: Mapping[str, Term], action: Action,
             mon: Mapping[str, tuple[Term, Term]]) -> dict[str, Term]:
        env: dict[str, Term] = {}
        for inp in prog.inputs:
            key = inp.key
            if inp.kind is InputKind.ARG:
                env[key] = self._arg(tool, args, inp.path[0])
            elif inp.kind is InputKind.PRESENT:
                env[key] = z3.BoolVal(inp.path[0] in args, self.ctx)
            elif inp.kind is InputKind.CONTEXT:
                env[key] = self.lit(self._context(inp.path, action, tool), inp.type)
            elif inp.kind is InputKind.FACT:
                env[key] = self.lit(self.facts[key], inp.type)
            elif inp.kind is InputKind.MONITOR:
                env[key] = mon[key][0]
            elif inp.kind is InputKind.DEFINED:
                env[key] = mon["mon:" + key[4:]][1]
            elif inp.kind is InputKind.PROVENANCE:
                env[key] = self._provenance(inp, action, args)
            elif inp.kind is InputKind.SIZE:
                self.fresh += 1
                env[key] = z3.Int(f"plan:size{self.fresh}", self.ctx)
        return env

    def _context(self, path: tuple[str, ...], action: Action, tool: str) -> object:
        s = self.session
        # A plan step is never approved in advance: approval binds to one checked call.
        table: dict[tuple[str, ...], object] = {
            ("agent",): normalize(action.agent), ("tool",): tool,
            ("target",): normalize(action.target or ""), ("approved",): False,
            ("task", "labels"): frozenset(normalize(x) for x in s.task_labels),
            ("task", "kind"): normalize(s.task_kind), ("session", "user"): normalize(s.user),
        }
        return table[path]

    def _provenance(self, inp: Any, action: Action, args: Mapping[str, Term]) -> Term:
        func = inp.key.split(":")[1]
        given = action.provenance.get(inp.path[0])
        raw = action.args.get(inp.path[0])
        label = "sources" if func == "source" else func
        if given is not None and getattr(given, label) is not None:
            v = getattr(given, label)
            return self.lit(frozenset(v) if func == "source" else v, inp.type)
        if isinstance(raw, Symbolic) or raw is None:
            self.fresh += 1  # unknown provenance: Z3 may pick either
            return z3.Const(f"plan:prov{self.fresh}", inp.const.sort())
        keys = value_keys(raw if not isinstance(raw, str) else normalize(raw))
        st = self.state
        # the same keys as the guard's _label (_check.py), so a plan and a check agree
        if func == "tainted":
            return z3.BoolVal(any(st.tainted(k) for k in taint_keys(raw)), self.ctx)
        if func == "from_user":
            return z3.BoolVal(bool(keys) and (all(st.from_user(k) for k in keys) or all(
                st.from_user(k) for k in user_keys(raw))), self.ctx)
        return self.lit(frozenset(t for k in taint_keys(raw) for t in st.sources(k)), inp.type)

    # ------------------------------------------------------------------ monitor unrolling

    def _initial(self, track: Track) -> tuple[Term, Term]:
        value, defined = self.state.read(track, self.now)
        inp = self.p.inputs[track.key]
        shown = value if defined else zero(inp.type, self.p.spec)
        return self.lit(shown, inp.type), z3.BoolVal(defined, self.ctx)

    def _match(self, pattern: ast.EventPattern | None, tool: str,
               args: Mapping[str, Term]) -> z3.BoolRef:
        assert pattern is not None
        if pattern.tool is not None and pattern.tool != tool:
            hit: z3.BoolRef = z3.BoolVal(False, self.ctx)
        elif pattern.where is None:
            hit = z3.BoolVal(True, self.ctx)
        else:
            decl = self.p.spec.tool(tool)
            assert decl is not None
            pairs = [(self.p.arg(tool, p.name).const, self._arg(tool, args, p.name))
                     for p in decl.params]
            hit = z3.substitute(self.p.where(pattern), *pairs)
        return z3.Not(hit) if pattern.negated else hit

    def _update(self, track: Track, cur: tuple[Term, Term], tool: str,
                args: Mapping[str, Term]) -> tuple[Term, Term]:
        value, defined = cur
        node = self.p.inputs[track.key].node
        k = track.kind
        if k == TrackKind.RESULT:
            if track.tool != tool:
                return cur
            self.fresh += 1
            return z3.Const(f"plan:result{self.fresh}", value.sort()), z3.BoolVal(True, self.ctx)
        if k == TrackKind.VALUES:  # `TOOL.arg` (language work): the set gains the value
            if track.tool != tool or track.field[0] not in args:
                return cur
            new = self._arg(tool, args, track.field[0])
            return z3.Store(value, new, z3.BoolVal(True, self.ctx)), defined
        if k == TrackKind.SINCE:
            assert isinstance(node, ast.Since)
            held, anchor = self._match(node.held, tool, args), self._match(node.anchor, tool, args)
            return z3.Or(anchor, z3.And(value, held)), defined
        pattern = getattr(node, "pattern", None)
        m = self._match(pattern, tool, args)
        if k == TrackKind.ONCE:
            return z3.Or(value, m), defined
        if k == TrackKind.HISTORICALLY:
            return z3.And(value, m), defined
        if k == TrackKind.PREVIOUSLY:
            return m, defined
        if k == TrackKind.COUNT:
            one, nothing = z3.IntVal(1, self.ctx), z3.IntVal(0, self.ctx)
            return value + z3.If(m, one, nothing), defined
        if pattern is None or pattern.tool != tool:  # a field aggregate over another tool
            return cur
        f = self._arg(tool, args, track.field[0])
        if k == TrackKind.SUM:
            nothing = z3.RealVal(0, self.ctx) if z3.is_real(value) else z3.IntVal(0, self.ctx)
            return value + z3.If(m, f, nothing), defined
        better = f < value if k == TrackKind.MIN else f > value
        take = z3.And(m, z3.Or(z3.Not(defined), better))
        return z3.If(take, f, value), z3.Or(defined, m)

    # ------------------------------------------------------------------ solving

    def _solve(self, k: int, tool: str, fires: list[tuple[Any, z3.BoolRef]],
               assumptions: list[z3.BoolRef]) -> PlanViolation | None:
        s = z3.Solver(ctx=self.ctx)
        s.set(timeout=self.timeout)
        s.add(*assumptions)
        s.add(z3.Or(*[f for _, f in fires]))
        got = s.check()
        if got == z3.unsat:
            return None
        if got != z3.sat:
            return PlanViolation(step=k, tool=tool, rules=tuple(r.rule.name for r, _ in fires),
                                 decision=Decision.DENY, witness=(),
                                 message="GG409: the solver could not decide this step")
        model = s.model()
        hit = [r for r, f in fires if z3.is_true(model.eval(f, model_completion=True))]
        witness = []
        for name, sym in sorted(self.symbols.items()):
            val = model.eval(sym, model_completion=True)
            witness.append((name, _py(val)))
        deny = any(r.rule.otherwise is ast.Decision.DENY for r in hit)
        return PlanViolation(
            step=k, tool=tool, rules=tuple(r.rule.name for r in hit),
            decision=Decision.DENY if deny else Decision.ESCALATE, witness=tuple(witness),
            message="; ".join(f"{r.rule.name}: {r.rule.message or 'rule violated'}" for r in hit))


def _py(v: Term) -> object:
    from fractions import Fraction

    from guardgraph.guardrails._fastpath import z3_string

    if z3.is_int_value(v):
        return v.as_long()
    if z3.is_rational_value(v):
        q = Fraction(v.numerator_as_long(), v.denominator_as_long())
        return int(q) if q.denominator == 1 else q
    if z3.is_true(v) or z3.is_false(v):
        return z3.is_true(v)
    if z3.is_string_value(v):
        return z3_string(v)
    return str(v)
