"""Lint's questions about one tool (``ToolSession``) answered as Z3 answers them.

For generated specs (one tool with int, str, enum, optional and set arguments, and a few
rules over them), every question lint asks about a rule class (can it fire? can it pass?
can every rule pass at once?) must get Z3's answer about the same conjunction with the
tool's domain. A sat answer's witness must satisfy the conjunction under Z3, and so must
its simplest form; an unsat answer's core must be assumptions that are unsat on their
own. Lint as a whole must give the same findings, witnesses included, however many
processes it runs in and however often it runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest
import z3
from guardrails_helpers import load_spec, policy_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_helpers import answer, free_consts, literal, true_in

from guardgraph.guardrails._compile import CompiledPolicy
from guardgraph.guardrails._session import Answer, ToolSession, Verdict
from guardgraph.guardrails.lint import _BATCH, lint
from guardgraph.specs import render_json

TOOL = "pay"
HEAD = f"""spec gen version 1
enum Kind = "a" | "b"
tool {TOOL}(amount: int, fee: int, to: str, tags: set[str], kind: Kind, memo: str?)
"""

# ------------------------------------------------------------------ generated specs

cmp = st.sampled_from(["<", "<=", "==", "!=", ">", ">="])
number = st.sampled_from([-5, 0, 1, 3, 10, 100, 5000])
small = st.integers(0, 4)
word = st.sampled_from(['"bob"', '"acct-"', '"a"', '""', '"vip"'])

int_atom = st.one_of(
    st.tuples(st.sampled_from(["amount", "fee", "amount + fee", "amount - fee", "2 * amount"]),
              cmp, number).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    cmp.map(lambda op: f"fee {op} amount"),
    st.integers(0, 6).map(lambda k: f"amount % 7 == {k}"),
    st.tuples(st.sampled_from(["len(tags)", "len(to)"]), cmp, small).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"),
)
str_atom = st.one_of(
    word.map(lambda w: f"to == {w}"),
    st.tuples(st.sampled_from(["startswith", "endswith", "contains"]), word).map(
        lambda t: f"{t[0]}(to, {t[1]})"),
    st.sampled_from([
        'matches(to, "[a-z]+")', 'matches(to, "acct-[0-9]{2,4}")', 'to in {"bob", "eve"}',
        'kind == "a"', 'kind == "b"', "present(memo)", 'memo != ""', "to == memo",
    ]),
)
set_atom = st.one_of(
    word.map(lambda w: f"{w} in tags"),
    # No quantifiers: Z3 often answers unknown about a negated one over a set of strings,
    # and the reference here must be Z3's own decided answer.
    st.sampled_from(["to in tags", "to not in tags", 'tags == {"a", "vip"}']),
)
# Only integer numbers: a non-integer one in a term over an int argument meets the known
# bug of test_session_keeps_an_int_argument_integral below.
atom = st.one_of(int_atom, str_atom, set_atom)
condition = st.recursive(
    atom,
    lambda inner: st.one_of(
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, st.sampled_from(["and", "or", "implies"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})")),
    max_leaves=3,
)
decision = st.sampled_from(["", '  else escalate "look"\n', '  else warn "note"\n'])


@st.composite
def specs(draw: st.DrawFn) -> str:
    rules = []
    for i in range(draw(st.integers(1, 4))):
        when = draw(st.none() | condition)
        clause = f"  when {when}\n" if when else ""
        rules.append(f"rule r{i}:\n  on {TOOL}\n{clause}  require {draw(condition)}\n"
                     f"{draw(decision)}")
    return HEAD + "".join(rules)


# ------------------------------------------------------------------ checking answers


class Reference:
    """What each literal of a session stands for, and Z3's own answers about them."""

    def __init__(self, policy: CompiledPolicy, session: ToolSession) -> None:
        self.policy = policy
        self.session = session
        self.domain = policy.domain(TOOL)
        self.meaning: dict[int, z3.BoolRef] = {}
        for c in session.classes:
            applies, require = c.first.applies, c.first.require
            self.meaning[c.app.get_id()] = applies
            self.meaning[c.req.get_id()] = require
            self.meaning[c.vio.get_id()] = z3.Not(require)
            self.meaning[c.ok.get_id()] = z3.Implies(applies, require)

    def formulas(self, lits: Sequence[z3.BoolRef]) -> list[z3.BoolRef]:
        return [self.meaning[lit.get_id()] for lit in lits]

    def answer(self, lits: Sequence[z3.BoolRef]) -> str:
        return answer(self.policy.ctx, [self.domain, *self.formulas(lits)])

    def assert_witness(self, lits: Sequence[z3.BoolRef], env: Mapping[str, object]) -> None:
        """``env`` makes every formula of the question true, within the domain."""
        for formula in self.formulas(lits):
            assert true_in(formula, env), (formula, dict(env))
        # Inputs only the domain reads (the context's tool name) may be missing.
        pins = [c == literal(env[name], c.sort())
                for name, c in free_consts([self.domain]).items() if name in env]
        assert answer(self.policy.ctx, [self.domain, *pins]) == "sat", dict(env)

    def assert_fires(self, env: Mapping[str, object]) -> None:
        """``session.fires`` says of every class what Z3 says on ``env``."""
        for c in self.session.classes:
            got = self.session.fires(env, c)
            if got is None:
                continue
            assert got == true_in(c.first.fires, env), (c.first.rule.name, dict(env))

    def assert_verdict(self, lits: Sequence[z3.BoolRef], verdict: Verdict) -> None:
        assert verdict.question == tuple(lits)
        expected = self.answer(lits)
        assert expected != "unknown", f"Z3 could not decide {self.formulas(lits)}"
        assert verdict.answer == expected, (lits, verdict)
        if verdict.answer is Answer.SAT:
            assert verdict.env is not None
            self.assert_witness(lits, verdict.env)
            self.assert_fires(verdict.env)
        else:
            # The core's formulas are among the question's, and unsat on their own. (By
            # formula, not by literal: a core may name another class's literal for the
            # same formula, the known bug of test_core_names_only_the_question_s_literals.)
            asked = {f.get_id() for f in self.formulas(lits)}
            assert {f.get_id() for f in self.formulas(verdict.core)} <= asked, verdict.core
            assert self.answer(verdict.core) == "unsat", verdict.core


def _questions(session: ToolSession) -> list[list[z3.BoolRef]]:
    """The questions lint asks first: per class, can it fire, can it pass; then whether
    every rule passes at once."""
    out: list[list[z3.BoolRef]] = []
    for c in session.classes:
        out += [[c.app, c.vio], [c.app, c.req]]
    out.append([c.ok for c in session.classes])
    return out


_SESSION_SETTINGS = settings(max_examples=40, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])


@_SESSION_SETTINGS
@given(spec=specs(), data=st.data())
def test_session_answers_as_z3_does(spec: str, data: st.DataObject) -> None:
    policy = policy_of(spec)
    session = ToolSession(policy, TOOL, 10_000)
    ref = Reference(policy, session)
    questions = _questions(session)
    # And a few of the mixed questions the pair checks ask (A fires while B passes...).
    lits = [lit for c in session.classes for lit in (c.app, c.req, c.vio, c.ok)]
    questions += data.draw(st.lists(st.lists(st.sampled_from(lits), min_size=1, max_size=4,
                                             unique_by=lambda lit: lit.get_id()),
                                    max_size=3))
    for question in questions:
        ref.assert_verdict(question, session.check(question))


@_SESSION_SETTINGS
@given(spec=specs())
def test_simplest_keeps_the_question_true_and_only_simplifies(spec: str) -> None:
    policy = policy_of(spec)
    session = ToolSession(policy, TOOL, 10_000)
    ref = Reference(policy, session)
    for question in _questions(session):
        verdict = session.check(question)
        if verdict.answer is not Answer.SAT:
            continue
        assert verdict.env is not None
        env = session.simplest(verdict)
        ref.assert_witness(question, env)
        for name, value in env.items():
            before = verdict.env.get(name, value)
            if value == before:
                continue
            usual = session._values.simple(name)
            # Each input moves only to one of its usual values, and to one before the
            # value it had (``0`` before ``1``, the spec's literals next).
            assert value in usual, (name, value)
            if before in usual:
                assert usual.index(value) < usual.index(before), (name, before, value)


def test_the_same_question_twice_gets_the_same_answer() -> None:
    spec = HEAD + (
        "rule cap:\n  on pay\n  require amount <= 5000\n"
        "rule floor:\n  on pay\n  require amount > 6000\n"
        'rule vip:\n  on pay\n  when "vip" in tags\n  require startswith(to, "acct-")\n'
    )
    policy = policy_of(spec)
    session = ToolSession(policy, TOOL, 10_000)
    ref = Reference(policy, session)
    for question in [*_questions(session), *_questions(session)]:
        ref.assert_verdict(question, session.check(question))
    cap, floor, _ = session.classes
    verdict = session.check([cap.ok, floor.ok])
    assert verdict.answer is Answer.UNSAT
    assert {lit.get_id() for lit in verdict.core} == {cap.ok.get_id(), floor.ok.get_id()}


def test_core_names_only_the_question_s_literals() -> None:
    policy = policy_of(HEAD + "rule cap:\n  on pay\n  require amount <= 10\n"
                       "rule floor:\n  on pay\n  when amount <= 10\n  require amount > 20\n")
    session = ToolSession(policy, TOOL, 10_000)
    cap, floor = session.classes
    ref = Reference(policy, session)
    for question in ([floor.app, floor.req], [cap.req, floor.req]):
        verdict = session.check(question)
        assert verdict.answer is Answer.UNSAT
        assert {lit.get_id() for lit in verdict.core} <= {lit.get_id() for lit in question}, (
            question, verdict.core)
        assert ref.answer(verdict.core) == "unsat"


def _simplest_fire(body: str, rule: str = "r") -> Mapping[str, object]:
    policy = policy_of(HEAD + body)
    session = ToolSession(policy, TOOL, 10_000)
    (c,) = [c for c in session.classes if c.first.rule.name == rule]
    verdict = session.check([c.app, c.vio])
    assert verdict.answer is Answer.SAT and verdict.env is not None
    env = session.simplest(verdict)
    Reference(policy, session).assert_witness([c.app, c.vio], env)
    return env


@pytest.mark.parametrize(("body", "key", "expected"), [
    ("rule r:\n  on pay\n  require amount <= 5000\n", "arg:pay.amount", 5001),
    ("rule r:\n  on pay\n  require amount < 5000\n", "arg:pay.amount", 5000),
    ("rule r:\n  on pay\n  require amount >= 0\n", "arg:pay.amount", -1),
    ("rule r:\n  on pay\n  when amount > 100\n  require fee == 0\n", "arg:pay.amount", 101),
    ("rule r:\n  on pay\n  when amount > 100\n  require fee == 0\n", "arg:pay.fee", 1),
    ('rule r:\n  on pay\n  require startswith(to, "acct-")\n', "arg:pay.to", ""),
    ('rule r:\n  on pay\n  when to == "bob"\n  require fee < 3\n', "arg:pay.to", "bob"),
    ('rule r:\n  on pay\n  require kind == "b"\n', "arg:pay.kind", "a"),
    ('rule r:\n  on pay\n  require not ("vip" in tags)\n', "arg:pay.tags", frozenset({"vip"})),
])
def test_simplest_gives_the_example_a_person_reads(body: str, key: str,
                                                   expected: object) -> None:
    assert _simplest_fire(body)[key] == expected


_INT_SPEC = """spec ints version 1
tool pay(amount: int, rate: real)
rule r:
  on pay
  when amount > 1.25 and amount < 1.75
  require rate > 0
"""
# Regression: the search once proposed a term's fractions for Int inputs.


def test_session_keeps_an_int_argument_integral() -> None:
    policy = policy_of(_INT_SPEC)
    session = ToolSession(policy, TOOL, 10_000)
    (c,) = session.classes
    ref = Reference(policy, session)
    for question in ([c.app, c.vio], [c.app, c.req]):
        ref.assert_verdict(question, session.check(question))


def test_lint_reports_a_rule_no_int_can_apply_to() -> None:
    codes = [d.code for d in lint(load_spec(_INT_SPEC))]
    assert "GG302" in codes, codes


# ------------------------------------------------------------------ lint determinism


def _tool_block(i: int) -> str:
    """Tool ``t{i}`` and rules on it with a few findings each (which ones vary by i)."""
    out = [f"tool t{i}(amount: int, to: str, tags: set[str])\n"]
    cap = 100 * (i + 1)
    out.append(f"rule cap{i}:\n  on t{i}\n  require amount <= {cap}\n")
    if i % 2 == 0:  # GG304: implied by cap
        out.append(f"rule loose{i}:\n  on t{i}\n  require amount <= {cap + 50}\n")
    if i % 3 == 0:  # GG301: never passes
        out.append(f"rule never{i}:\n  on t{i}\n  when amount > {cap}\n"
                   f"  require amount < {cap // 2}\n")
    if i % 3 == 1:  # GG306: escalation shadowed by cap
        out.append(f"rule big{i}:\n  on t{i}\n  when amount > {cap * 2}\n  require approved\n"
                   '  else escalate "big"\n')
    if i % 4 == 2:  # GG305-ish: two rules that cannot both pass
        out.append(f'rule only_a{i}:\n  on t{i}\n  when amount < 20\n  require to == "a"\n'
                   f'rule only_b{i}:\n  on t{i}\n  when amount < 30\n  require to == "b"\n')
    out.append(f'rule vip{i}:\n  on t{i}\n  when "vip" in tags\n'
               f'  require startswith(to, "acct-") and len(tags) <= {i + 2}\n')
    return "".join(out)


def _big_spec(tools: int) -> str:
    return ("spec many version 1\n" + "".join(_tool_block(i) for i in range(tools))
            + 'rule named:\n  on any\n  require agent != ""\n'
            + 'rule named_again:\n  on any\n  require agent != ""\n')


def test_lint_is_the_same_in_one_process_or_several_and_run_after_run() -> None:
    tools = _BATCH + 3
    spec = load_spec(_big_spec(tools))
    one = render_json(lint(spec, jobs=1))
    two = render_json(lint(spec, jobs=2))
    assert one == two
    assert render_json(lint(spec, jobs=2)) == two
    assert render_json(lint(spec, jobs=1)) == one
    found = json.loads(one)
    codes = {d["code"] for d in found}
    assert {"GG301", "GG304", "GG305", "GG306"} <= codes, codes
    # Findings come from tools on both sides of a batch boundary.
    tools_seen = {d["data"].get("tool") for d in found}
    assert {"t0", f"t{_BATCH}"} <= tools_seen, tools_seen
    assert "any" in tools_seen  # the copy `named_again`, merged across every batch


def test_lint_in_batches_finds_what_linting_each_tool_alone_finds() -> None:
    # A finding about a tool is a fact about its rules: a spec of that tool alone has it.
    tools = _BATCH + 1
    whole = json.loads(render_json(lint(load_spec(_big_spec(tools)), jobs=2)))
    for i in (0, _BATCH):
        alone = "spec many version 1\n" + _tool_block(i)
        expected = json.loads(render_json(lint(load_spec(alone), jobs=1)))
        got = [d for d in whole if d["data"].get("tool") == f"t{i}"]
        assert [(d["code"], d["message"], d["data"]["rules"]) for d in got] == [
            (d["code"], d["message"], d["data"]["rules"]) for d in expected
            if d["data"].get("tool") == f"t{i}"]
