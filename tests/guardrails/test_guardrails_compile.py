"""The Z3 meaning of every construct: for each, a concrete assignment that satisfies the
compiled term and one that violates it, decided in the policy's own context."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
import z3
from guardrails_helpers import holds, load_spec, policy_of

from guardgraph.errors import GuardgraphError
from guardgraph.guardrails import CompiledPolicy, InputKind, compile_policy

HEADER = """spec t version 1
type Item = {name: str, price: real, qty: int}
enum Color = "red" | "green" | "blue"
tool pay(amount: real, n: int, to: str, note: str?, color: Color, tags: set[str],
         items: list[Item], codes: list[int], item: Item)
tool check(x: int) -> bool
tool lookup(q: str) -> Item
tool fetch(url: str) -> str untrusted
fact trusted: set[str]
fact limit: int
const cap = 5000
const colors = {"red", "green"}
const primes = [2, 3, 5]
"""

ITEM = {"name": "a", "price": Fraction(10), "qty": 5}
BASE: dict[str, object] = {
    "arg:pay.amount": Fraction(1),
    "arg:pay.n": 1,
    "arg:pay.to": "bob",
    "arg:pay.note": "",
    "present:pay.note": False,
    "arg:pay.color": "red",
    "arg:pay.tags": frozenset(),
    "arg:pay.items": (),
    "arg:pay.codes": (),
    "arg:pay.item": ITEM,
    "fact:trusted": frozenset({"bob"}),
    "fact:limit": 10,
    "ctx:agent": "payments",
    "ctx:tool": "pay",
    "ctx:approved": False,
    "ctx:task.labels": frozenset(),
    "ctx:task.kind": "chat",
    "ctx:session.user": "u1",
}


def _rule_policy(require: str, when: str | None = None) -> CompiledPolicy:
    when_clause = f"  when {when}\n" if when else ""
    return policy_of(HEADER + f"rule r:\n  on pay\n{when_clause}  require {require}\n")


def _require_holds(require: str, **values: object) -> bool:
    policy = _rule_policy(require)
    (rule,) = policy.rules_for("pay")
    return holds(policy, rule.require, {**BASE, **_keys(values)})


def _keys(values: dict[str, object]) -> dict[str, object]:
    # Test shorthand: `amount=` means the pay argument; keys with a colon are input keys.
    out: dict[str, object] = {}
    for k, v in values.items():
        key = k.replace("__", ":").replace("_DOT_", ".")
        out[key if ":" in key else f"arg:pay.{key}"] = v
    return out


CASES: list[tuple[str, dict[str, object], dict[str, object]]] = [
    # literals and comparisons
    ("n < 3", {"n": 2}, {"n": 3}),
    ("n <= 3", {"n": 3}, {"n": 4}),
    ("n > 3", {"n": 4}, {"n": 3}),
    ("n >= 3", {"n": 3}, {"n": 2}),
    ("n == 3", {"n": 3}, {"n": 2}),
    ("n != 3", {"n": 2}, {"n": 3}),
    ("n == 1_000", {"n": 1000}, {"n": 100}),
    ("amount == 0.1", {"amount": Fraction(1, 10)}, {"amount": 0.2}),
    ("amount + 0.2 == 0.3", {"amount": 0.1}, {"amount": Fraction(1, 3)}),
    ("to == \"b\\\"ob\"", {"to": 'b"ob'}, {"to": "bob"}),
    ("approved == true", {"ctx:approved": True}, {"ctx:approved": False}),
    ("not false and true", {}, None),
    ("false", None, {}),
    # arithmetic, int/real mixing, division, modulo
    ("n + amount > 2.5", {"n": 2, "amount": Fraction(6, 10)}, {"n": 2, "amount": 0.5}),
    ("n * 2 - 1 == 5", {"n": 3}, {"n": 2}),
    ("-n < 0", {"n": 1}, {"n": -1}),
    ("amount / n >= 2", {"amount": 5, "n": 2}, {"amount": 3, "n": 2}),
    ("n / 2 == 1.5", {"n": 3}, {"n": 2}),
    ("amount / n >= 0", {"amount": 1, "n": 1}, {"amount": 1, "n": 0}),  # x/0: atom false
    ("not (amount / n >= 0)", {"n": 0}, {"n": 1}),
    ("n % 3 == 1", {"n": 4}, {"n": 5}),
    ("n % 3 == 1", {"n": -2}, {"n": -1}),  # SMT-LIB (Euclidean) mod: -2 mod 3 = 1
    ("n % limit == 0", {"n": 20, "fact:limit": 10}, {"n": 20, "fact:limit": 0}),
    ("amount <= cap", {"amount": 5000}, {"amount": 5001}),
    # membership
    ("to in {\"a\", \"b\"}", {"to": "a"}, {"to": "c"}),
    ("to not in {\"a\", \"b\"}", {"to": "c"}, {"to": "b"}),
    ("color in colors", {"color": "green"}, {"color": "blue"}),
    ("to in trusted", {"to": "bob"}, {"to": "eve"}),
    ("to not in trusted", {"to": "eve"}, {"to": "bob"}),
    ('"vip" in tags', {"tags": frozenset({"vip"})}, {"tags": frozenset({"x"})}),
    ("3 in codes", {"codes": (1, 3)}, {"codes": (1, 2)}),
    ("n in primes", {"n": 5}, {"n": 4}),
    ("n in [1, 2]", {"n": 2}, {"n": 3}),
    ("amount in {1, 2.5}", {"amount": 2.5}, {"amount": 2}),
    # connectives
    ("n > 1 and n < 5", {"n": 3}, {"n": 5}),
    ("n < 1 or n > 5", {"n": 6}, {"n": 3}),
    ("not n > 1", {"n": 1}, {"n": 2}),
    ("n > 1 implies n > 5", {"n": 0}, {"n": 3}),
    ("n > 1 implies n > 2 implies n > 5", {"n": 2}, {"n": 3}),
    # strings
    ('startswith(to, "GB")', {"to": "GB12"}, {"to": "DE12"}),
    ('endswith(to, ".internal")', {"to": "a.internal"}, {"to": "a.com"}),
    ('contains(to, "..")', {"to": "a/../b"}, {"to": "a/./b"}),
    ('matches(to, "[A-Z]{2}[0-9]+")', {"to": "GB12"}, {"to": "gb12"}),
    ("len(to) <= 3", {"to": "abc"}, {"to": "abcd"}),
    # lengths of lists and sets
    ("len(codes) == 2", {"codes": (1, 2)}, {"codes": (1,)}),
    ("len(tags) >= 2", {"tags": frozenset({"a", "b"})}, {"tags": frozenset({"a"})}),
    ("len(colors) == 2", {}, None),
    ("len(primes) == 2", None, {}),
    # optional arguments
    ("present(note) implies len(note) > 0",
     {"present:pay.note": False, "note": ""}, {"present:pay.note": True, "note": ""}),
    # records, context
    ("item.price * item.qty <= 100", {"item": ITEM}, {"item": {**ITEM, "qty": 20}}),
    ('item.name == "a"', {"item": ITEM}, {"item": {**ITEM, "name": "b"}}),
    ("args.n == 2", {"n": 2}, {"n": 1}),
    ('"pii" in task.labels implies agent == "payments"',
     {"ctx:task.labels": frozenset({"pii"})},
     {"ctx:task.labels": frozenset({"pii"}), "ctx:agent": "x"}),
    ('task.kind == "chat"', {}, {"ctx:task.kind": "x"}),
    ('session.user == "u1"', {}, {"ctx:session.user": "u2"}),
    ('tool == "pay"', {}, {"ctx:tool": "x"}),
    ("approved", {"ctx:approved": True}, {}),
    # quantifiers over lists and sets
    ("forall i in items: i.price > 0", {"items": (ITEM,)},
     {"items": (ITEM, {**ITEM, "price": Fraction(0)})}),
    ("forall i in items: i.price > 0", {"items": ()}, None),
    ("exists c in codes: c > 10", {"codes": (1, 11)}, {"codes": (1, 2)}),
    ("exists c in codes: c > 10", None, {"codes": ()}),
    ('forall t in tags: startswith(t, "a")', {"tags": frozenset({"ab", "ac"})},
     {"tags": frozenset({"ab", "b"})}),
    ('exists t in tags: t == "x"', {"tags": frozenset({"x"})}, {"tags": frozenset({"y"})}),
    ("forall c in codes: exists d in codes: d >= c", {"codes": (3, 1)}, None),
    ("forall c in codes: forall d in codes: c == d", {"codes": (3, 3)}, {"codes": (3, 1)}),
]


@pytest.mark.parametrize(("require", "sat", "unsat"), CASES)
def test_construct_meaning(
    require: str, sat: dict[str, object] | None, unsat: dict[str, object] | None
) -> None:
    assert sat is not None or unsat is not None
    if sat is not None:
        assert _require_holds(require, **sat) is True
    if unsat is not None:
        assert _require_holds(require, **unsat) is False


REGEXES = [
    (".", "x", ""),
    (r"\d+", "123", "12a"),
    (r"\w+", "a_Z9", "a-b"),
    (r"a\sb", "a b", "ab"),
    ("[^a]", "b", "a"),
    ("ab|cd", "cd", "ac"),
    ("(ab)*", "abab", "aba"),
    ("colou?r", "color", "colouur"),
    ("x{2,}", "xxx", "x"),
    ("x{1,2}", "xx", "xxx"),
    ("x{3}", "xxx", "xx"),
    (r"a\.b", "a.b", "axb"),
    ("[a-c0-2_]+", "a1_", "d"),
    (r"[\d.]+", "1.5", "x"),
    (r"tab\there", "tab\there", "tab here"),
]


@pytest.mark.parametrize(("regex", "good", "bad"), REGEXES)
def test_regex_subset_agrees_with_python(regex: str, good: str, bad: str) -> None:
    assert re.fullmatch(regex, good) and not re.fullmatch(regex, bad)
    escaped = regex.replace("\\", "\\\\").replace("\t", "\\t")
    require = f'matches(to, "{escaped}")'
    assert _require_holds(require, to=good) is True
    assert _require_holds(require, to=bad) is False


MONITOR_CASES = [
    ("count(pay where amount > 100 within 1h) < 3", "mon:count(pay where amount > 100 within 1h)",
     2, 3),
    ("sum(pay.amount within 24h) + amount <= 10", "mon:sum(pay.amount within 24h)", 9, 10),
    ('once(check where x > 1 within 10m)', "mon:once(check where x > 1 within 10m)", True, False),
    ("historically(not fetch)", "mon:historically(not fetch)", True, False),
    ("previously(check)", "mon:previously(check)", True, False),
    ("since(not pay, check)", "mon:since(not pay, check)", True, False),
]


@pytest.mark.parametrize(("require", "key", "good", "bad"), MONITOR_CASES)
def test_monitor_terms_are_inputs(require: str, key: str, good: object, bad: object) -> None:
    policy = _rule_policy(require)
    (rule,) = policy.rules_for("pay")
    inp = policy.inputs[key]
    assert inp.kind is InputKind.MONITOR and inp.node is not None
    assert inp in rule.inputs
    assert holds(policy, rule.require, {**BASE, key: good})
    assert not holds(policy, rule.require, {**BASE, key: bad})


@pytest.mark.parametrize("func", ["min", "max"])
def test_min_max_are_false_when_undefined(func: str) -> None:
    policy = _rule_policy(f"{func}(pay.amount where n > 0) >= 1")
    (rule,) = policy.rules_for("pay")
    key = f"{func}(pay.amount where n > 0)"
    assert policy.inputs[f"def:{key}"].kind is InputKind.DEFINED
    defined = {**BASE, f"mon:{key}": 2, f"def:{key}": True}
    assert holds(policy, rule.require, defined)
    assert not holds(policy, rule.require, {**defined, f"mon:{key}": 0})
    assert not holds(policy, rule.require, {**defined, f"def:{key}": False})


def test_result_of_an_earlier_call() -> None:
    policy = _rule_policy("result(check) and result(lookup).price < 5")
    (rule,) = policy.rules_for("pay")
    values = {
        **BASE,
        "mon:result(check)": True,
        "def:result(check)": True,
        "mon:result(lookup)": {**ITEM, "price": 4},
        "def:result(lookup)": True,
    }
    assert holds(policy, rule.require, values)
    assert not holds(policy, rule.require, {**values, "def:result(check)": False})
    assert not holds(policy, rule.require, {**values, "mon:result(lookup)": ITEM})
    assert policy.inputs["mon:result(lookup)"].type == load_spec(HEADER).tool("lookup").returns  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("require", "key", "good", "bad"),
    [
        ("not tainted(to)", "prov:tainted:pay.to", False, True),
        ("from_user(to)", "prov:from_user:pay.to", True, False),
        ('"fetch" not in source(to)', "prov:source:pay.to", frozenset({"lookup"}),
         frozenset({"fetch"})),
    ],
)
def test_provenance_inputs(require: str, key: str, good: object, bad: object) -> None:
    policy = _rule_policy(require)
    (rule,) = policy.rules_for("pay")
    inp = policy.inputs[key]
    assert inp.kind is InputKind.PROVENANCE and inp.tool == "pay"
    values = {**BASE, "arg:pay.items": (ITEM,)}
    assert holds(policy, rule.require, {**values, key: good})
    assert not holds(policy, rule.require, {**values, key: bad})


def test_when_clause_and_applies() -> None:
    policy = _rule_policy("approved", when="to not in trusted")
    (rule,) = policy.rules_for("pay")
    assert holds(policy, rule.applies, {**BASE, "arg:pay.to": "eve"})
    assert not holds(policy, rule.applies, BASE)
    assert holds(policy, z3.BoolVal(True, policy.ctx) == rule.applies, {**BASE, "arg:pay.to": "x"})
    fires = z3.And(rule.applies, z3.Not(rule.require))
    assert holds(policy, fires, {**BASE, "arg:pay.to": "eve"})
    assert not holds(policy, fires, {**BASE, "arg:pay.to": "eve", "ctx:approved": True})


def test_enum_domain_and_absent_optional() -> None:
    policy = _rule_policy("true")
    dom = policy.domain("pay")
    assert holds(policy, dom, BASE)
    purple = z3.StringVal("purple", policy.ctx)  # to_z3 itself rejects a non-member
    assert not holds(policy, dom, {**BASE, "arg:pay.color": purple})
    assert not holds(policy, dom, {**BASE, "arg:pay.note": "x"})  # absent reads as ""
    assert holds(policy, dom, {**BASE, "arg:pay.note": "x", "present:pay.note": True})
    assert not holds(policy, dom, {**BASE, "ctx:tool": "fetch"})


def test_targets_any_route_and_several_tools() -> None:
    policy = policy_of(
        HEADER
        + 'rule a:\n  on any\n  require agent != "x"\n'
        + 'rule r:\n  on route\n  when "pii" in task.labels\n  require target in {"p", "s"}\n'
        + "rule two:\n  on check, lookup\n  require approved\n"
    )
    assert [r.rule.name for r in policy.rules_for("pay")] == ["a"]
    assert [r.rule.name for r in policy.rules_for("check")] == ["a", "two"]
    (route,) = policy.rules_for("route")
    values = {"ctx:task.labels": frozenset({"pii"}), "ctx:target": "p"}
    assert holds(policy, route.require, values)
    assert not holds(policy, route.require, {**values, "ctx:target": "q"})
    assert str(policy.rules_for("check")[1].indicator) == "rule:two@check"
    assert policy.rules_for("check")[0].indicator.eq(z3.Bool("rule:a@check", policy.ctx))
    with pytest.raises(GuardgraphError, match="unknown tool 'nope'"):
        policy.rules_for("nope")


def test_equal_terms_share_one_input_and_each_policy_owns_its_context() -> None:
    text = (
        HEADER
        + "rule a:\n  on pay\n  require sum(pay.amount within 24h) <= 10\n"
        + "rule b:\n  on pay\n  require sum(pay.amount within 24h) + amount <= 20\n"
    )
    one, two = policy_of(text), policy_of(text)
    a, b = one.rules_for("pay")
    shared = [i for i in a.inputs if i.kind is InputKind.MONITOR]
    assert shared and shared[0] in b.inputs
    assert one.ctx is not two.ctx and a.require.ctx is one.ctx
    assert a.require.ctx is not z3.main_ctx()


@pytest.mark.parametrize(
    ("value", "typ_src"),
    [
        (3, "n"), (Fraction(1, 3), "amount"), ("é\"x", "to"), (frozenset({"a", "b"}), "tags"),
        ((1, 2, 3), "codes"), (ITEM, "item"), ((ITEM,), "items"), ("blue", "color"),
    ],
)
def test_values_round_trip(value: object, typ_src: str) -> None:
    policy = _rule_policy("true")
    inp = policy.arg("pay", typ_src)
    back = policy.from_z3(z3.simplify(policy.to_z3(value, inp.type)), inp.type)
    assert back == value


def test_bad_values_and_misuse_raise_clear_errors() -> None:
    policy = _rule_policy("true")
    with pytest.raises(GuardgraphError, match=r"expected real, got value='12e' \(str\)"):
        policy.to_z3("12e", policy.arg("pay", "amount").type)
    with pytest.raises(GuardgraphError, match="expected Color"):
        policy.to_z3("purple", policy.arg("pay", "color").type)
    with pytest.raises(GuardgraphError, match="has no argument 'nope'"):
        policy.arg("pay", "nope")
    assert policy.to_z3(0.1, policy.arg("pay", "amount").type).eq(
        z3.RealVal("1/10", policy.ctx)
    )


def test_compiling_many_rules_is_fast_enough_to_share_terms() -> None:
    # Not a timing test: checks that equal rules on one tool give identical z3 terms
    # (structural sharing, which lint's redundancy prefilter relies on).
    text = HEADER + "".join(
        f"rule r{i}:\n  on pay\n  require amount <= cap and to in trusted\n" for i in range(20)
    )
    rules = policy_of(text).rules_for("pay")
    assert len({r.require.get_id() for r in rules}) == 1


def test_compile_policy_is_exported() -> None:
    assert compile_policy(load_spec(HEADER)).rules_for("route") == ()


def test_string_literals_keep_their_code_points() -> None:
    # z3.StringVal would read `\u{73}` as an escape; the compiled literal must not.
    policy = _rule_policy('to != "\\\\u{73}end"')
    (rule,) = policy.rules_for("pay")
    assert holds(policy, rule.require, {**BASE, "arg:pay.to": "send"})
    assert not holds(policy, rule.require, {**BASE, "arg:pay.to": "\\u{73}end"})
    assert policy.from_z3(policy.to_z3("\\u{41}", policy.arg("pay", "to").type),
                          policy.arg("pay", "to").type) == "\\u{41}"


def test_conjuncts_are_compiled_as_written_and_make_up_require() -> None:
    policy = _rule_policy("amount <= result(lookup).price and n > 0 and "
                          "(n < 1_000 or to in {\"a\", \"b\"})")
    (rule,) = policy.rules_for("pay")
    from guardgraph.specs import format_expr

    texts = [format_expr(e) for e, _ in rule.conjuncts]
    assert texts == ["amount <= result(lookup).price", "n > 0", 'n < 1_000 or to in {"a", "b"}']
    whole = z3.And(*[t for _, t in rule.conjuncts])
    solver = z3.Solver(ctx=policy.ctx)
    solver.add(whole != rule.require)
    assert solver.check() == z3.unsat


def test_string_literals_and_enum_values_are_nfkc_normalised() -> None:
    # The guard gives rules NFKC argument strings; a literal typed with full-width or
    # compatibility characters must name the same text, in Z3 and in the fast path.
    from guardgraph.guardrails._fastpath import compile_term

    policy = policy_of('spec n version 1\nenum Host = "ｅｘａｍｐｌｅ.com" | "ﬁle.org"\n'
                       "tool get(url: str, host: Host)\n"
                       'rule r:\n  on get\n  require url == "ｈｔｔｐｓ://ex" and host in '
                       '{"example.com", "file.org"}\n')
    (rule,) = policy.rules_for("get")
    env = {"arg:get.url": "https://ex", "arg:get.host": "file.org"}
    assert holds(policy, rule.require, env)
    assert compile_term(rule.require)(env) is True
    assert policy.enum_values(policy.arg("get", "host").type) == ("example.com", "file.org")


def test_every_context_name_of_the_one_table_reaches_the_rules() -> None:
    # specs.CONTEXT_NAMES is the one table; the checker, the translation and the guard
    # must all know every path in it.
    from datetime import UTC, datetime

    from guardgraph.guardrails import Action, Decision, Guard, Policy, Session
    from guardgraph.specs import CONTEXT_NAMES, ROUTE_ONLY

    reads = {("agent",): 'agent == "a"', ("tool",): 'tool == "t"',
             ("approved",): "not approved", ("task", "labels"): '"x" in task.labels',
             ("task", "kind"): 'task.kind == "k"', ("session", "user"): 'session.user == "u"',
             ("target",): 'target == "support"'}
    assert set(reads) == set(CONTEXT_NAMES)
    tool_rule = " and ".join(v for k, v in reads.items() if k not in ROUTE_ONLY)
    route_rule = " and ".join(reads.values()).replace('tool == "t"', 'tool == "route"')
    text = ("spec c version 1\ntool t(n: int)\n"
            f"rule on_tool:\n  on any\n  require {tool_rule}\n"
            f"rule on_route:\n  on route\n  require {route_rule}\n")
    guard = Guard(Policy.from_text(text))
    session = Session(id="s", user="u", now=datetime(2026, 5, 1, tzinfo=UTC),
                      task_labels=frozenset({"x"}), task_kind="k")
    call = Action(tool="t", args={"n": 1}, agent="a", call_id="c1")
    assert guard.evaluate(call, session).decision is Decision.ALLOW
    other = Action(tool="t", args={"n": 1}, agent="b", call_id="c2")
    assert guard.evaluate(other, session).decision is Decision.DENY
    route = Action.route("support", agent="a", call_id="c3")
    assert guard.evaluate(route, session).decision is Decision.ALLOW
