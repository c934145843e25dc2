"""Repairs: the nearest compliant arguments, respecting every rule at once."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from guardgraph.guardrails import Action, Decision, Guard, Session

DATA = Path(__file__).parent / "data"
S = Session(id="s", now=datetime(2026, 5, 1, tzinfo=UTC))


def bank() -> Guard:
    g = Guard.from_files(DATA / "bank.spec", facts={"trusted_payees": {"alice"}})
    g.check_and_commit(Action(tool="verify_identity", agent="payments", call_id="v",
                              args={"method": "otp"}), S)
    return g


def pay(amount: object, recipient: str = "alice") -> Action:
    return Action(tool="send_money", agent="payments",  # the guard gives it an id
                  args={"recipient": recipient, "amount": amount, "subject": "x"})


def test_cap_repairs_to_the_cap() -> None:
    v = bank().evaluate(pay(7200), S)
    assert v.decision is Decision.REPAIR
    assert dict(v.repair or {}) == {"amount": 5000}
    assert v.rules == ("single_transfer_cap",)
    assert "7200 -> 5000" in v.message and "amount <= 5000" in v.message


def test_repair_respects_the_budget_too() -> None:
    g = bank()
    assert g.check_and_commit(pay(4000), S).allowed
    assert g.check_and_commit(pay(3000), S).allowed
    v = g.evaluate(pay(7200), S)  # cap says 5000, the budget leaves 3000
    assert v.decision is Decision.DENY  # daily_budget has no repair clause
    spec = (DATA / "bank.spec").read_text().replace(
        'else deny "daily budget of 10000 exceeded"',
        'else deny "daily budget of 10000 exceeded"\n  repair amount')
    g2 = Guard.from_text(spec, facts={"trusted_payees": {"alice"}})
    g2.check_and_commit(Action(tool="verify_identity", agent="payments", call_id="v",
                               args={"method": "otp"}), S)
    g2.check_and_commit(pay(4000), S)
    g2.check_and_commit(pay(3000), S)
    v2 = g2.evaluate(pay(7200), S)
    assert v2.decision is Decision.REPAIR and dict(v2.repair or {}) == {"amount": 3000}


def test_repair_of_a_fraction_is_exact() -> None:
    v = bank().evaluate(pay(Fraction(50001, 10)), S)
    assert dict(v.repair or {}) == {"amount": 5000}


def test_negative_amount_repairs_upwards_to_a_positive_value() -> None:
    v = bank().evaluate(pay(-3), S)
    assert v.decision is Decision.REPAIR
    new = (v.repair or {})["amount"]
    assert 0 < new <= 5000  # type: ignore[operator]


def test_repair_then_escalation_for_new_payee() -> None:
    v = bank().evaluate(pay(7200, recipient="mallory"), S)
    assert v.decision is Decision.ESCALATE
    assert dict(v.repair or {}) == {"amount": 5000}
    assert "new_payee_needs_approval" in v.rules


def test_no_repair_when_another_firing_rule_has_none() -> None:
    v = bank().evaluate(Action(tool="send_money", agent="support", call_id="p",
                            args={"recipient": "alice", "amount": 7200, "subject": "x"}), S)
    assert v.decision is Decision.DENY and v.repair is None
    assert set(v.rules) == {"single_transfer_cap", "payments_only"}


def test_repaired_call_is_committed_with_repaired_arguments() -> None:
    g = bank()
    assert g.check_and_commit(pay(7200), S).decision is Decision.REPAIR
    assert g.check_and_commit(pay(5000), S).allowed  # 5000 + 5000 = 10000
    assert g.evaluate(pay(1), S).rules == ("daily_budget",)
