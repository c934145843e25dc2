"""Static checks of a spec (``guardgraph lint``): Z3 finds rules that can never pass, never
apply, always pass, block a tool together, repeat another rule, contradict each other,
or escalate only calls that are denied anyway; repair clauses that cannot produce a
compliant call; unused facts and tools. Each finding carries a concrete witness.

Definitions (per target tool T; D(T) is ``policy.domain(T)``; a rule *fires* when it
applies and its requirement does not hold):

- GG302 never-applies: D ∧ applies is unsat.
- GG301 never-passes: D ∧ applies is sat, D ∧ applies ∧ require is unsat.
- GG311 always-passes: D ∧ applies is sat, D ∧ applies ∧ ¬require is unsat.
- GG303 tool-blocked: D ∧ ⋀(applies_r → require_r) over T's deny rules is unsat, and the
  unsat core has at least two rules (one rule alone is GG301).
- GG304 redundant-rule: A is implied by B (same decision): every call A stops, B stops:
  D ∧ fires_A ∧ ¬fires_B is unsat. For rules equal up to renaming, each later copy points
  at the first; otherwise the later rule of two equivalent ones is reported. A rule
  implied only by several rules together is reported with all of them.
- GG305 contradictory-rules: two deny/escalate rules both apply to some call, each of
  them passes on some call both apply to, but no call they both apply to passes both
  (a pair that already blocks the tool as GG303 is not repeated).
- GG306 overlapping-verdicts: every call an escalate rule escalates is denied by deny
  rules anyway, so the escalation never reaches a human.
- GG307 unreachable-repair: there is no call the rule denies for which some values of the
  repair arguments (all else unchanged, within the declared types) satisfy the rule.
  Only the rule itself is considered, not the other rules on the tool.
- GG308 unused-fact / GG309 unused-tool: a fact no rule reads; a tool that no rule
  targets (``on any`` counts) or mentions in an aggregate, temporal term or ``result``.
- GG310 solver-unknown: a question the solver could not decide within ``timeout_ms``;
  it is reported, never read as either answer.
- GG320 regex-reading: a ``matches`` pattern that Python's re reads otherwise, in the
  direction that makes its rule more permissive (guardrails/_regex_notes.py).

A rule on several targets is checked on each; ``on any`` rules are reported only for
findings that hold on every tool.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import z3

from guardgraph.guardrails._compile import ROUTE, CompiledPolicy, CompiledRule, compile_policy
from guardgraph.guardrails._lintpairs import ClassState, PairChecks
from guardgraph.guardrails._regex_notes import regex_notes
from guardgraph.guardrails._session import Answer, RuleClass, ToolSession, Verdict
from guardgraph.guardrails._translate import iter_subexprs
from guardgraph.guardrails._trivial import same_sides, trivial_filters
from guardgraph.guardrails._witness import read_witness
from guardgraph.specs import ast
from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["DEFAULT_TIMEOUT_MS", "PARALLEL_MIN_RULES", "lint"]

DEFAULT_TIMEOUT_MS = 2000


# Below this many rules a second process costs more to start than it saves.
PARALLEL_MIN_RULES = 200


def lint(
    spec: ast.Spec, *, timeout_ms: int = DEFAULT_TIMEOUT_MS, jobs: int | None = None
) -> tuple[Diagnostic, ...]:
    """Every static finding about ``spec``, sorted by place then code.

    ``timeout_ms`` bounds each solver question; an undecided one is a GG310 finding.
    ``jobs``: processes to run at once (tools are checked independently); None picks one
    per CPU for a spec of at least ``PARALLEL_MIN_RULES`` rules, else 1. A spec with more
    than one batch of tools (see ``_BATCH``) is linted a batch per worker process even with
    ``jobs=1``, so that the output never depends on ``jobs``.
    """
    if jobs is None:
        jobs = (os.cpu_count() or 1) if len(spec.rules) >= PARALLEL_MIN_RULES else 1
    tools = _targets(spec)
    size = max(_BATCH, min(_MAX_BATCH, -(-len(tools) // 4)))
    batches = [tools[i:i + size] for i in range(0, len(tools), size)]
    if len(batches) <= 1:
        findings = _Linter(compile_policy(spec), timeout_ms).run()
    else:
        rendered: list[_Rendered] = []
        read: set[str] = set()
        for part, keys in _in_processes(spec, batches, timeout_ms, jobs):
            rendered += part
            read |= keys
        findings = _combine(spec, rendered, read)
    return tuple(sorted(findings, key=_order))


# Tools are linted in batches, each in a process of its own that compiles the rules of its
# batch afresh: Z3's answers (which model, which core) depend on the terms created before in
# its context, so this keeps every finding and every example the same whatever the number
# of processes and wherever a batch lands. The batches depend on the spec alone: a quarter
# of the tools each, between _BATCH and _MAX_BATCH tools. A process costs ~35 ms to fork
# and warm up, so a 100-tool spec gets four batches (measured faster than 6, 8 or 13 on 2
# CPUs) and a 1,000-tool spec about thirty. Compiling in the workers also takes the
# compilation off the critical path: each compiles only its batch's rules.
_BATCH = 8
_MAX_BATCH = 32

_Rendered = tuple[tuple[str, str, tuple[str, ...]] | None, str, Diagnostic]
_Part = tuple[list[_Rendered], set[str]]  # a batch's findings, and the inputs its rules read
_FORKED: tuple[ast.Spec, int] | None = None  # what forked workers lint


def _targets(spec: ast.Spec) -> list[str]:
    """The targets lint checks, in ``CompiledPolicy.tools`` order: every declared tool
    some rule applies to (all of them when there is an `on any` rule), then ``route``."""
    has_any = any(r.on_any for r in spec.rules)
    targeted = {t for r in spec.rules if not r.on_any and not r.on_route for t in r.targets}
    out = [t.name for t in spec.tools if has_any or t.name in targeted]
    if any(r.on_route for r in spec.rules):
        out.append(ROUTE)
    return out


def _batch_spec(spec: ast.Spec, tools: Sequence[str]) -> ast.Spec:
    """``spec`` with only the rules that apply to one of ``tools`` (all declarations kept)."""
    wanted = set(tools)
    rules = tuple(
        r for r in spec.rules
        if r.on_any or (r.on_route and ROUTE in wanted)
        or (not r.on_route and wanted.intersection(r.targets))
    )
    return dataclasses.replace(spec, rules=rules)


def _in_processes(spec: ast.Spec, batches: Sequence[Sequence[str]], timeout_ms: int,
                  jobs: int) -> list[_Part]:
    """The findings on the tools of ``batches``, over ``jobs`` processes at a time: where
    the platform can fork, each batch in a fork of this process (milliseconds), elsewhere
    in a spawned process (which imports guardgraph first)."""
    global _FORKED
    jobs = max(1, min(jobs, len(batches)))
    if "fork" in multiprocessing.get_all_start_methods():
        _FORKED = (spec, timeout_ms)
        gc.freeze()  # a child's collector then leaves the parent's objects (and pages) alone
        try:
            with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=1) as pool:
                return pool.map(_lint_forked, batches, chunksize=1)
        finally:
            _FORKED = None
            gc.unfreeze()
    with multiprocessing.get_context("spawn").Pool(jobs, maxtasksperchild=1) as pool:
        return pool.starmap(_lint_batch, [(spec, batch, timeout_ms) for batch in batches],
                            chunksize=1)


def _lint_forked(tools: Sequence[str]) -> _Part:
    assert _FORKED is not None, "a forked worker inherits the spec"
    spec, timeout_ms = _FORKED
    return _lint_batch(spec, tools, timeout_ms)


def _lint_batch(spec: ast.Spec, tools: Sequence[str], timeout_ms: int) -> _Part:
    """Worker: the findings on ``tools`` as (on-any group key, tool, diagnostic), and the
    keys of the inputs the batch's rules read (for unused facts)."""
    linter = _Linter(compile_policy(_batch_spec(spec, tools)), timeout_ms)
    for tool in tools:
        linter._tool(tool)
    linter.filters()
    return linter.rendered(), linter.read_keys()


def _order(d: Diagnostic) -> tuple[str, int, int, str, str]:
    s = d.span
    return (s.file, s.line, s.column, d.code, d.message) if s else ("", 0, 0, d.code, d.message)


@dataclass(slots=True)
class Finding:
    """A finding on one target, before targets of one rule are merged."""

    code: str
    rule: ast.Rule
    tool: str
    message: str
    help: str | None = None
    others: tuple[ast.Rule, ...] = ()
    witness: Iterable[CompiledRule] | None = None
    example: Verdict | None = None  # the sat answer whose witness shows the finding
    extra_notes: tuple[str, ...] = ()
    session: ToolSession | None = field(default=None, repr=False)


class _Linter:
    def __init__(self, policy: CompiledPolicy, timeout_ms: int) -> None:
        self.policy = policy
        self.timeout_ms = timeout_ms
        self.findings: list[Finding] = []
        self.extra: list[Diagnostic] = []  # findings about a rule, not a target (GG312)

    def run(self) -> list[Diagnostic]:
        for tool in self.policy.tools:
            if self.policy.rules_for(tool):
                self._tool(tool)
        self.filters()
        return _combine(self.policy.spec, self.rendered(), self.read_keys())

    def filters(self) -> None:
        """GG312 for `where` filters of this policy's rules that never depend on the call."""
        self.extra += trivial_filters(self.policy, list(self.policy.spec.rules), self.timeout_ms)

    def read_keys(self) -> set[str]:
        """The keys of the inputs the policy's rules read."""
        return {i.key for tool in self.policy.tools for r in self.policy.rules_for(tool)
                for i in r.inputs}

    def rendered(self) -> list[tuple[tuple[str, str, tuple[str, ...]] | None, str, Diagnostic]]:
        """Each finding as a diagnostic, with its `on any` group key (None otherwise)."""
        out: list[tuple[tuple[str, str, tuple[str, ...]] | None, str, Diagnostic]] = []
        for f in self.findings:
            if f.rule.on_any:
                key = (f.code, f.rule.name, tuple(o.name for o in f.others))
                out.append((key, f.tool, self._diagnostic(f, every_tool=True)))
            else:
                out.append((None, f.tool, self._diagnostic(f)))
        out += [(None, "", d) for d in self.extra]
        return out

    # ------------------------------------------------------------------ per tool

    def _tool(self, tool: str) -> None:
        session = ToolSession(self.policy, tool, self.timeout_ms)
        states = {c.index: self._single(session, c) for c in session.classes}
        for c in session.classes:
            for copy in c.rules[1:]:
                self._add(
                    session, "GG304", copy.rule, c.first.rule,
                    f"rule `{copy.rule.name}` is a copy of rule `{c.first.rule.name}`"
                    f" (equal up to its name) on {_calls(tool)}",
                    help="delete one of them",
                    example=states[c.index].fires, witness=[c.first],
                )
        pairs = PairChecks(session, states, self)
        pairs.redundant()
        pairs.shadowed_escalations()
        blocked = pairs.blocked()
        pairs.contradictions(skip=blocked)
        self._repairs(session, states)

    def _single(self, session: ToolSession, c: RuleClass) -> ClassState:
        st = ClassState()
        st.fires = session.check([c.app, c.vio])
        st.passes = session.check([c.app, c.req])
        fires, passes = st.fires.answer, st.passes.answer
        tool = session.tool
        for member in c.rules:
            rule = member.rule
            if Answer.UNKNOWN in (fires, passes):
                which = st.fires if fires is Answer.UNKNOWN else st.passes
                self.unknown(session, rule, (), f"whether it can fire and pass on {_calls(tool)}",
                             which)
            elif fires is Answer.UNSAT and passes is Answer.UNSAT:
                self._add(session, "GG302", rule, None,
                          f"rule `{rule.name}` never applies to {_calls(tool)}",
                          help="no call satisfies its `when` clause within the declared types")
            elif fires is Answer.UNSAT:
                self._add(session, "GG311", rule, None,
                          f"rule `{rule.name}` always passes on {_calls(tool)}: its requirement"
                          " holds for every call it applies to",
                          help="the rule never stops anything; check its condition",
                          example=st.passes, witness=[member])
            elif passes is Answer.UNSAT:
                self._add(session, "GG301", rule, None,
                          f"rule `{rule.name}` can never pass on {_calls(tool)}: every call it"
                          " applies to violates it",
                          help="its requirement contradicts its `when` clause or the declared"
                          " types",
                          example=st.fires, witness=[member])
        return st

    def _repairs(self, session: ToolSession, states: dict[int, ClassState]) -> None:
        tool = session.tool
        if tool == ROUTE:
            return
        dom = self.policy.domain(tool)
        for c in session.classes:
            rule = c.first.rule
            if not rule.repair or not states[c.index].can_fire:
                continue
            pairs = []
            for name in rule.repair:
                arg = self.policy.arg(tool, name)
                pairs.append((arg.const, z3.Const(f"{arg.key}'", arg.const.sort())))
            fixed = z3.substitute(z3.And(dom, z3.Implies(c.first.applies, c.first.require)),
                                  *pairs)
            lit = z3.Bool(f"repair:{rule.name}@{tool}", self.policy.ctx)
            session.define(lit, fixed)
            verdict = session.check([c.app, c.vio, lit])
            names = ", ".join(rule.repair)
            if verdict.answer is Answer.UNKNOWN:
                self.unknown(session, rule, (), f"whether `repair {names}` can succeed", verdict)
            elif verdict.answer is Answer.UNSAT:
                for member in c.rules:
                    self._add(session, "GG307", member.rule, None,
                              f"`repair {names}` of rule `{member.rule.name}` can never produce"
                              f" a compliant call of {tool}",
                              help=f"no value of {names} satisfies the rule for any call it denies;"
                              " repair other arguments or drop the clause",
                              example=states[c.index].fires, witness=[member])

    # ------------------------------------------------------------------ findings

    def _add(self, session: ToolSession, code: str, rule: ast.Rule, other: ast.Rule | None,
             message: str, *, help: str | None = None, example: Verdict | None = None,
             witness: Iterable[CompiledRule] | None = None,
             others: Sequence[ast.Rule] = ()) -> None:
        all_others = tuple(others) if others else ((other,) if other is not None else ())
        self.findings.append(Finding(code=code, rule=rule, tool=session.tool, message=message,
                                     help=help, others=all_others, witness=witness, example=example,
                                     session=session))

    def add(self, session: ToolSession, code: str, rule: ast.Rule, others: Sequence[ast.Rule],
            message: str, *, help: str | None = None, example: Verdict | None = None,
            witness: Iterable[CompiledRule] | None = None) -> None:
        self._add(session, code, rule, None, message, help=help, example=example, witness=witness,
                  others=others)

    def unknown(self, session: ToolSession, rule: ast.Rule, others: Sequence[ast.Rule],
                question: str, verdict: Verdict) -> None:
        reason = verdict.reason or "unknown"
        self._add(session, "GG310", rule, None,
                  f"the solver could not decide {question} for rule `{rule.name}` ({reason})",
                  help="raise --timeout or simplify the rule; this is not a pass",
                  others=others)

    def _diagnostic(self, f: Finding, *, every_tool: bool = False) -> Diagnostic:
        message = f.message
        if every_tool:
            message = message.replace(_calls(f.tool), "calls of every tool")
        notes: list[str] = []
        data: dict[str, object] = {
            "rules": [f.rule.name, *(o.name for o in f.others)],
            "tool": "any" if every_tool else f.tool,
        }
        for o in f.others:
            if o.span is not None:
                notes.append(f"rule `{o.name}` is defined at {o.span.file}:{o.span.line}")
        if f.example is not None and f.example.env is not None and f.witness is not None:
            env = f.session.simplest(f.example) if f.session is not None else f.example.env
            w = read_witness(self.policy, f.tool, env, f.witness)
            notes.insert(0, f"witness: {w.text()}")
            data["witness"] = w.data()
        notes.extend(f.extra_notes)
        return Diagnostic(code=f.code, message=message, span=f.rule.span, help=f.help,
                          notes=tuple(notes), data=tuple(data.items()))

def _combine(spec: ast.Spec, rendered: Sequence[_Rendered], read: set[str]) -> list[Diagnostic]:
    """The per-tool diagnostics merged: `on any` rules are reported only where a finding
    holds on every tool; then the unused facts and tools."""
    out: list[Diagnostic] = []
    groups: dict[tuple[str, str, tuple[str, ...]], list[tuple[str, Diagnostic]]] = {}
    for key, tool, diagnostic in rendered:
        if key is None:
            out.append(diagnostic)
        else:
            groups.setdefault(key, []).append((tool, diagnostic))
    tools = {t.name for t in spec.tools}
    for group in groups.values():
        if {tool for tool, _ in group} >= tools:
            out.append(group[0][1])
    # A rule in two batches has its filters checked in both: report each finding once.
    seen: set[tuple[str, ast.Span | None, str]] = set()
    unique = []
    for d in out:
        if (d.code, d.span, d.message) not in seen:
            seen.add((d.code, d.span, d.message))
            unique.append(d)
    return unique + _unused(spec, read) + same_sides(spec) + regex_notes(spec)


def _unused(spec: ast.Spec, read: set[str]) -> list[Diagnostic]:
    """GG308 for facts no rule reads (``read``: the keys of the inputs rules read) and
    GG309 for tools no rule targets or mentions."""
    out = [
        Diagnostic(code="GG308", message=f"fact `{f.name}` is never used by a rule",
                   span=f.span, help="remove it, or write the rule that needs it",
                   data=(("fact", f.name),))
        for f in spec.facts
        if f"fact:{f.name}" not in read
    ]
    mentioned: set[str] = set()
    for rule in spec.rules:
        mentioned.update(rule.targets)
        for root in (rule.when, rule.require):
            for e in iter_subexprs(root) if root is not None else ():
                mentioned.update(_tools_named(e))
    has_any = any(r.on_any for r in spec.rules)
    out.extend(
        Diagnostic(code="GG309", message=f"tool `{t.name}` has no rule",
                   span=t.span, help=f"every call of {t.name} is allowed; add a rule"
                   " that says when it may be called",
                   data=(("tool", t.name),))
        for t in spec.tools
        if not has_any and t.name not in mentioned
    )
    return out


def _tools_named(e: ast.Expr) -> list[str]:
    match e:
        case ast.Aggregate(pattern=p) | ast.Temporal(pattern=p):
            return [p.tool] if p.tool else []
        case ast.Since(held=h, anchor=a):
            return [t for t in (h.tool, a.tool) if t]
        case ast.Call(func="result", args=(ast.Name(id=name),)):
            return [name]
        case ast.Attribute(value=ast.Name(id=name)):
            return [name]  # `TOOL.arg` (a non-tool name here is never looked up as one)
    return []


def _calls(tool: str) -> str:
    return "routing decisions" if tool == ROUTE else f"calls of {tool}"
