"""The fast path is Z3's answer: generated specs, generated inputs, every rule.

For each generated spec (a small grammar over two tools: arithmetic, strings, sets,
quantifiers, aggregates in windows, past-time operators, an earlier call's argument values
(`s in t2.s`), facts, optional arguments, enums, literals that NFKC changes) every rule is
compiled to Python and, for generated values of every input it reads, its verdict is
compared with Z3's (the closed formula decided by a solver). Any disagreement fails the
test, and so does a case where the fast path decides and Z3 cannot: there is no expected
failure. The monitor's ``where`` filters are compared the same way.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardgraph.guardrails import compile_policy
from guardgraph.guardrails._compile import CompiledPolicy, Input, InputKind
from guardgraph.guardrails._evaluate import decide
from guardgraph.guardrails._fastpath import Unsupported, compile_rules, compile_term
from guardgraph.guardrails._program import z3_assignment
from guardgraph.specs import ast, load_text

HEADER = """spec gen version 1
enum Color = "red" | "green" | "ｂｌｕｅ"
tool t1(a: int, b: real, s: str, xs: list[int], note: str?, c: Color)
tool t2(n: int, s: str)
fact F: set[str]
fact K: int
"""

ints = st.integers(-20, 20).map(str)
reals = st.sampled_from(["0.5", "2.25", "10.0", "0.1", "3"])
strs = st.sampled_from(['"a"', '"ab"', '"x"', '""', '"b\\\\c"', '"é"', '"ｘ"', '"ﬁ"'])

int_atom = st.one_of(
    st.sampled_from(["a", "len(s)", "len(xs)", "K", "count(t1 within 1h)",
                     "count(t2 where n > 3 within 24h)", "count(any)",
                     "sum(t2.n within 10m)", "max(t2.n within 1h)", "min(t1.a)",
                     "len(t2.s)"]),
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
        "exists x in xs: x == a", 'note == "ok"', "s in t2.s", "s not in t2.s",
        "a in t2.n", "exists x in xs: x in t2.n", 'c == "blue"', 'c in {"red", "green"}',
        "once(t2 where n == n)",
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


text = st.text(alphabet="abcxé\\ ｘ", max_size=4)
reals_v = st.one_of(st.integers(-30, 30), st.fractions(max_denominator=8).filter(
    lambda q: abs(q) < 100))
_P = ast.Primitive


def _value(t: ast.TypeExpr, policy: CompiledPolicy) -> st.SearchStrategy[object]:
    """Values of a DSL type, in the guard's representation (Fraction for reals, tuples
    for lists, frozensets for sets)."""
    if isinstance(t, ast.OptionalType):
        return _value(t.inner, policy)
    if isinstance(t, ast.PrimType):
        return {_P.INT: st.integers(-30, 30), _P.REAL: reals_v, _P.BOOL: st.booleans(),
                _P.STR: text}[t.name]
    if isinstance(t, ast.ListType):
        return st.lists(_value(t.element, policy), max_size=4).map(tuple)
    if isinstance(t, ast.SetType):
        element = st.sampled_from(["a", "ab", "x", "q", ""]) if t.element == ast.PrimType(
            name=_P.STR) else _value(t.element, policy)
        return st.frozensets(element, max_size=4)
    values = policy.enum_values(t)
    assert values is not None, t
    return st.sampled_from(values)


def _env(data: st.DataObject, policy: CompiledPolicy, inputs: list[Input]) -> dict[str, object]:
    """A value for every input, consistent the way the guard makes them: an absent optional
    argument and an undefined history term read as their type's zero value; a size is the
    size of its set."""
    env: dict[str, object] = {}
    by_key = {i.key: i for i in inputs}
    for inp in inputs:
        if inp.kind in (InputKind.SIZE, InputKind.PRESENT, InputKind.DEFINED):
            continue
        env[inp.key] = data.draw(_value(inp.type, policy), label=inp.key)
    for inp in inputs:
        if inp.kind is InputKind.PRESENT:
            given = data.draw(st.booleans(), label=inp.key)
            env[inp.key] = given
            arg = f"arg:{inp.tool}.{inp.path[0]}"
            if not given and arg in env:
                env[arg] = ""  # the only optional argument generated is a str
        elif inp.kind is InputKind.DEFINED:
            defined = data.draw(st.booleans(), label=inp.key)
            env[inp.key] = defined
            value = by_key.get("mon:" + inp.key[4:])
            if not defined and value is not None:
                env[value.key] = _zero(value.type)
    for inp in inputs:
        if inp.kind is InputKind.SIZE:
            base = env.get(inp.path[0])
            assert isinstance(base, frozenset), inp
            env[inp.key] = len(base)
    return env


def _zero(t: ast.TypeExpr) -> object:
    if isinstance(t, ast.SetType):
        return frozenset()
    if isinstance(t, ast.PrimType):
        return {_P.INT: 0, _P.REAL: 0, _P.BOOL: False, _P.STR: ""}[t.name]
    raise AssertionError(t)


def _inputs(policy: CompiledPolicy, rules: list) -> list[Input]:  # type: ignore[type-arg]
    found: dict[str, Input] = {}
    for r in rules:
        for inp in r.inputs:
            found[inp.key] = inp
            if inp.kind is InputKind.SIZE:
                found[inp.path[0]] = policy.inputs[inp.path[0]]
            if inp.kind is InputKind.DEFINED:
                found["mon:" + inp.key[4:]] = policy.inputs["mon:" + inp.key[4:]]
    return list(found.values())


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=specs(), data=st.data())
def test_fast_path_agrees_with_z3(spec: str, data: st.DataObject) -> None:
    loaded = load_text(spec)
    assert loaded.spec is not None, [d.message for d in loaded.diagnostics]
    policy = compile_policy(loaded.spec)
    rules = list(policy.rules_for("t1"))
    fires, _ = compile_rules([(r.applies, r.require) for r in rules], name="t1")
    inputs = _inputs(policy, rules)
    for _ in range(3):
        env = _env(data, policy, inputs)
        fast = fires(env)
        for rule, got in zip(rules, fast, strict=True):
            if got is None:
                continue  # the guard asks Z3 itself for this rule
            reference = decide(rule.fires, z3_assignment(policy, rule.inputs, env))
            assert reference is not None, f"Z3 undecided where the fast path said {got}: {spec}"
            assert bool(got) == reference, (rule.rule.name, env, spec)
    _check_where_filters(policy, data)


def _check_where_filters(policy: CompiledPolicy, data: st.DataObject) -> None:
    spec = policy.spec
    for inp in policy.inputs.values():
        node = inp.node
        patterns = []
        if isinstance(node, ast.Aggregate | ast.Temporal):
            patterns = [node.pattern]
        elif isinstance(node, ast.Since):
            patterns = [node.held, node.anchor]
        for p in patterns:
            if p.where is None or p.tool is None:
                continue
            decl = spec.tool(p.tool)
            assert decl is not None
            env = {f"arg:{p.tool}.{q.name}": data.draw(_value(q.type, policy))
                   for q in decl.params}
            term = policy.where(p)
            try:
                fast = bool(compile_term(term)(env))
            except Unsupported:
                continue
            assert fast == decide(term, z3_assignment(policy, policy.inputs.values(), env))


def test_string_escapes_reach_z3_verbatim() -> None:
    """``z3.StringVal`` reads ``\\u{61}`` as ``a``; a value must reach Z3 as written."""
    loaded = load_text('spec e version 1\ntool t(s: str)\nrule r:\n  on t\n'
                       '  require s != "a"\n')
    assert loaded.spec is not None
    policy = compile_policy(loaded.spec)
    (rule,) = policy.rules_for("t")
    fires, _ = compile_rules([(rule.applies, rule.require)], name="t")
    env = {"arg:t.s": "\\u{61}"}
    assert fires(env) == [0]
    assert decide(rule.fires, z3_assignment(policy, rule.inputs, env)) is False
