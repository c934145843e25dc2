"""Reward from specs: each rule form becomes the documented potential term, the shaping is
potential-based, and rules over arguments alone add nothing."""

from __future__ import annotations

import itertools

import pytest

from guardgraph.agents.reward import Executed, SpecPotential, TermKind, shaping
from guardgraph.specs import load_text

HEAD = ("spec s version 1\ntool pay(amount: int, to: str)\ntool verify(method: str)\n"
        "tool balance() -> int\ntool log(level: int)\n")


def potential(rules: str) -> SpecPotential:
    result = load_text(HEAD + rules)
    assert result.spec is not None, [d.message for d in result.diagnostics]
    return SpecPotential(result.spec)


def call(tool: str, at: float = 0.0, output: object = None, **args: object) -> Executed:
    return Executed(tool=tool, args=args, at=at, output=output)


def test_once_is_a_two_state_automaton() -> None:
    phi = potential("rule v:\n  on pay\n  require once(verify)\n")
    assert [t.kind for t in phi.terms] == [TermKind.ONCE]
    assert phi.value([], 0) == 0.0
    assert phi.value([call("pay", amount=1, to="x")], 1) == 0.0
    assert phi.value([call("verify", method="otp")], 1) == 1.0


def test_once_within_a_window_expires() -> None:
    phi = potential("rule v:\n  on pay\n  require once(verify within 1h)\n")
    history = [call("verify", at=0.0, method="otp")]
    assert phi.value(history, 3599) == 1.0
    assert phi.value(history, 3601) == 0.0


def test_once_with_a_filter_reads_the_past_arguments() -> None:
    phi = potential('rule v:\n  on pay\n  require once(verify where method == "otp")\n')
    assert phi.value([call("verify", method="sms")], 1) == 0.0
    assert phi.value([call("verify", method="otp")], 1) == 1.0


def test_result_is_known_once_the_tool_returned() -> None:
    phi = potential("rule r:\n  on pay\n  require amount <= result(balance)\n")
    assert [t.kind for t in phi.terms] == [TermKind.RESULT]
    assert phi.value([call("balance")], 1) == 0.0  # ran, but no result recorded
    assert phi.value([call("balance", output=10)], 1) == 1.0


def test_historically_breaks_for_good() -> None:
    phi = potential("rule h:\n  on pay\n  require historically(log where level < 3)\n")
    assert [t.kind for t in phi.terms] == [TermKind.HISTORICALLY]
    assert phi.value([], 0) == 1.0
    assert phi.value([call("log", level=1)], 1) == 1.0
    assert phi.value([call("log", level=5), call("log", level=1)], 2) == 0.0


def test_previously_looks_at_the_last_call() -> None:
    phi = potential("rule p:\n  on pay\n  require previously(verify)\n")
    assert phi.value([call("verify", method="x")], 1) == 1.0
    assert phi.value([call("verify", method="x"), call("balance")], 2) == 0.0


def test_since_needs_an_anchor_and_no_break_after_it() -> None:
    phi = potential("rule s:\n  on pay\n  require since(log, verify)\n")
    assert [t.kind for t in phi.terms] == [TermKind.SINCE]
    assert phi.value([call("log", level=1)], 1) == 0.0
    assert phi.value([call("verify", method="x"), call("log", level=1)], 2) == 1.0
    assert phi.value([call("verify", method="x"), call("balance")], 2) == 0.0


def test_sum_budget_becomes_remaining_slack() -> None:
    phi = potential("const cap = 100\nrule b:\n  on pay\n"
                    "  require sum(pay.amount within 24h) + amount <= cap\n")
    (term,) = phi.terms
    assert term.kind is TermKind.BUDGET and term.cap == 100
    assert phi.value([], 0) == 1.0
    assert phi.value([call("pay", amount=25, to="a")], 1) == pytest.approx(0.75)
    assert phi.value([call("pay", amount=150, to="a")], 1) == 0.0  # clipped


def test_count_budget_becomes_remaining_slack() -> None:
    phi = potential("rule c:\n  on pay\n  require count(pay within 1h) < 4\n")
    (term,) = phi.terms
    assert term.kind is TermKind.BUDGET and term.strict
    assert phi.value([call("pay", amount=1, to="a")], 1) == pytest.approx(0.75)
    assert phi.value([call("pay", at=0, amount=1, to="a")], 7200) == 1.0  # out of window


def test_argument_only_rules_give_no_term() -> None:
    phi = potential('rule cap:\n  on pay\n  require amount <= 10 and to != "x"\n')
    assert phi.terms == ()
    assert phi.value([call("pay", amount=1, to="a")], 1) == 0.0


def test_the_same_monitor_on_two_rules_counts_once() -> None:
    phi = potential("rule a:\n  on pay\n  require once(verify)\n"
                    "rule b:\n  on log\n  require once(verify)\n")
    assert len(phi.terms) == 1


def test_shaping_telescopes_to_minus_the_first_potential() -> None:
    # Potential-based shaping (Ng et al. 1999): with γ = 1 the shaped return of any
    # trajectory differs from the task return by -Φ(s0), so no policy gains from it.
    phis = [0.2, 0.7, 0.1, 0.9]
    total = sum(shaping(a, b, gamma=1.0, terminal=i == len(phis) - 2)
                for i, (a, b) in enumerate(itertools.pairwise(phis)))
    assert total == pytest.approx(-phis[0])
