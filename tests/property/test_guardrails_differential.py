"""The fast path is Z3's answer: generated specs, histories and actions, every rule.

For each generated spec (a small grammar over two tools: arithmetic, strings, sets,
quantifiers, aggregates in windows, past-time operators, facts, optional arguments) the
guard replays a generated history and then, for a generated action, compares per rule
whether the rule fires according to the compiled Python and according to Z3 (the closed
formula decided by a solver). The monitor's ``where`` filters are compared the same way
on every history event. The verdict must also be a deny whenever Z3 cannot decide.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardgraph.guardrails import Action, Guard, Session
from guardgraph.guardrails._check import Checker, read_context
from guardgraph.guardrails._evaluate import decide
from guardgraph.guardrails._fastpath import Unsupported, compile_term
from guardgraph.guardrails._program import z3_assignment
from guardgraph.guardrails._session_state import Codec, write_blob
from guardgraph.specs import ast

HEADER = """spec gen version 1
tool t1(a: int, b: real, s: str, xs: list[int], note: str?)
tool t2(n: int, s: str)
fact F: set[str]
fact K: int
"""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = datetime(2026, 5, 1, tzinfo=UTC)

ints = st.integers(-20, 20).map(str)
reals = st.sampled_from(["0.5", "2.25", "10.0", "0.1", "3"])
strs = st.sampled_from(['"a"', '"ab"', '"x"', '""', '"b\\\\c"', '"é"'])

int_atom = st.one_of(
    st.sampled_from(["a", "len(s)", "len(xs)", "K", "count(t1 within 1h)",
                     "count(t2 where n > 3 within 24h)", "count(any)",
                     "sum(t2.n within 10m)", "max(t2.n within 1h)", "min(t1.a)"]),
    ints,
)
real_atom = st.one_of(st.sampled_from(["b", "sum(t1.b within 24h)", "max(t1.b)"]), reals)


def _arith(atom: st.SearchStrategy[str], *, integer: bool) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        ops = ["+", "-", "*"] + (["%"] if integer else ["/"])
        return st.tuples(inner, st.sampled_from(ops), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})")
    return st.recursive(atom, extend, max_leaves=4)


int_expr = _arith(int_atom, integer=True)
real_expr = _arith(st.one_of(real_atom, int_atom), integer=False)
cmp = st.sampled_from(["<", "<=", "==", "!=", ">", ">="])

bool_atom = st.one_of(
    st.tuples(int_expr, cmp, int_expr).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(real_expr, cmp, real_expr).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(st.sampled_from(["startswith", "endswith", "contains"]), strs).map(
        lambda t: f"{t[0]}(s, {t[1]})"),
    strs.map(lambda x: f"s == {x}"),
    st.sampled_from([
        's in {"a", "ab", "x"}', "s in F", "s not in F", 'matches(s, "[a-c]+x?")',
        "once(t2 where n > 3)", "once(t2 within 30m)", "historically(t1)",
        "previously(t2 where s == \"a\")", "since(not t2, t1)", "present(note)",
        "forall x in xs: x > K", "exists x in xs: x % 2 == 0", "len(F) > 1",
        "exists x in xs: x == a", 'note == "ok"',
    ]),
)
bool_expr = st.recursive(
    bool_atom,
    lambda inner: st.one_of(
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, st.sampled_from(["and", "or", "implies"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})")),
    max_leaves=4,
)


@st.composite
def specs(draw: st.DrawFn) -> str:
    n = draw(st.integers(1, 4))
    rules = []
    for i in range(n):
        when = draw(st.none() | bool_expr)
        require = draw(bool_expr)
        clause = f"  when {when}\n" if when else ""
        rules.append(f"rule r{i}:\n  on t1\n{clause}  require {require}\n")
    return HEADER + "".join(rules)


text = st.text(alphabet="abcxé\\ ", max_size=4)
real_values = st.one_of(st.integers(-30, 30), st.fractions(max_denominator=8).filter(
    lambda q: abs(q) < 100), st.sampled_from([0.1, 2.5, -1.75]))
t1_args = st.fixed_dictionaries(
    {"a": st.integers(-30, 30), "b": real_values, "s": text,
     "xs": st.lists(st.integers(-5, 10), max_size=4)},
    optional={"note": st.sampled_from(["ok", "no", ""])})
t2_args = st.fixed_dictionaries({"n": st.integers(-5, 10), "s": text})
events = st.lists(st.tuples(st.sampled_from(["t1", "t2"]), st.integers(0, 200)), max_size=8)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=specs(), history=events, data=st.data(),
       facts=st.fixed_dictionaries({"F": st.frozensets(st.sampled_from(["a", "ab", "q"])),
                                    "K": st.integers(-3, 5)}))
def test_fast_path_agrees_with_z3(spec: str, history: list[tuple[str, int]],
                                  data: st.DataObject, facts: dict[str, object]) -> None:
    guard = Guard.from_text(spec, facts=facts)
    runtime = guard.policy.runtime()
    policy = runtime.compiled
    checker = Checker(runtime, solver_timeout_ms=2000)
    codec = Codec(runtime)
    # The history is what ran, whatever the rules say: it is folded straight into a state.
    state = codec.new()
    session_id = "diff"
    minute = 0
    for i, (tool, gap) in enumerate(history):
        minute += gap
        args = data.draw(t1_args if tool == "t1" else t2_args)
        _check_where_filters(guard, tool, args)
        done = checker.prepare(Action(tool=tool, args=args, call_id=f"h{i}"))
        now_us = (T0 + timedelta(minutes=minute) - EPOCH) // timedelta(microseconds=1)
        codec.apply(state, ("call", tool, dict(done.args), now_us, f"h{i}", "-"))
    guard.restore_session(write_blob(session_id, guard.policy.sha256, codec.encode(state)))
    action = Action(tool="t1", args=data.draw(t1_args), call_id="now")
    session = Session(id=session_id, now=T0 + timedelta(minutes=minute + data.draw(
        st.integers(0, 120))))
    prog = runtime.programs["t1"]
    prepared = checker.prepare(action)
    facts_env = {f"fact:{name}": v for name, v in (
        ("F", frozenset(facts["F"])), ("K", facts["K"]))  # type: ignore[call-overload]
        if any(key == f"fact:{name}" for key, _, _ in prog.facts)}
    now = (session.now - EPOCH) // timedelta(microseconds=1)  # type: ignore[operator]
    env = checker._env(prog, prepared, prepared.args, "now", read_context(session, None),
                       facts_env, state, now, None)
    fast = prog.fires(env)
    for rule, got in zip(prog.rules, fast, strict=True):
        reference = decide(rule.fires, z3_assignment(policy, rule.inputs, env))
        if got is not None:
            assert reference is not None, f"Z3 undecided where fast path said {got}: {rule}"
            assert bool(got) == reference, (rule.rule.name, env, spec)
    verdict = guard.evaluate(action, session)
    fired = {r.rule.name for r, f in zip(prog.rules, fast, strict=True)
             if f or (f is None and decide(r.fires, z3_assignment(
                 policy, r.inputs, env)) is not False)}
    assert verdict.allowed == (not fired), (verdict, fired)


def _check_where_filters(guard: Guard, tool: str, args: dict[str, object]) -> None:
    policy = guard.policy.runtime().compiled
    spec = policy.spec
    decl = spec.tool(tool)
    assert decl is not None
    for inp in policy.inputs.values():
        node = inp.node
        patterns = []
        if isinstance(node, ast.Aggregate | ast.Temporal):
            patterns = [node.pattern]
        elif isinstance(node, ast.Since):
            patterns = [node.held, node.anchor]
        for p in patterns:
            if p.where is None or p.tool != tool:
                continue
            term = policy.where(p)
            env = {f"arg:{tool}.{k}": _exact(v) for k, v in args.items()}
            try:
                fast = bool(compile_term(term)(env))
            except Unsupported:
                continue
            assert fast == decide(term, z3_assignment(policy, policy.inputs.values(), env))


def _exact(v: object) -> object:
    if isinstance(v, float):
        return Fraction(repr(v))
    if isinstance(v, list):
        return tuple(v)
    return v


def test_string_escapes_reach_z3_verbatim() -> None:
    """``z3.StringVal`` reads ``\\u{61}`` as ``a``; a value must reach Z3 as written."""

    guard = Guard.from_text('spec e version 1\ntool t(s: str)\nrule r:\n  on t\n'
                            '  require s != "a"\n')
    runtime = guard.policy.runtime()
    (rule,) = runtime.compiled.rules_for("t")
    env = {"arg:t.s": "\\u{61}"}
    fast = runtime.programs["t"].fires(env)[0]
    reference = decide(rule.fires, z3_assignment(runtime.compiled, rule.inputs, env))
    assert fast == reference  # any disagreement fails: no expected-failure escape hatch
