"""Plan checking with symbolic arguments: Z3 unrolls the monitor over the steps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from guardgraph.guardrails import Action, Decision, Guard, Session, Symbolic

DATA = Path(__file__).parent / "data"
S = Session(id="s", now=datetime(2026, 5, 1, tzinfo=UTC))


def bank() -> Guard:
    return Guard.from_files(DATA / "bank.spec", facts={"trusted_payees": {"alice"}})


def verify() -> Action:
    return Action(tool="verify_identity", agent="payments", args={"method": "otp"})


def pay(amount: object, recipient: object = "alice") -> Action:
    return Action(tool="send_money", agent="payments",
                  args={"recipient": recipient, "amount": amount, "subject": "x"})


def test_verify_then_fixed_payments_is_safe() -> None:
    v = bank().check_plan([verify(), pay(4000), pay(5000), pay(1000)], S)
    assert v.safe, v


def test_paying_before_verifying_is_found() -> None:
    v = bank().check_plan([pay(10), verify()], S)
    assert not v.safe
    (violation,) = v.violations
    assert violation.step == 0 and "verify_first" in violation.rules


def test_symbolic_amounts_can_exceed_the_budget_with_witness() -> None:
    steps = [verify()] + [pay(Symbolic(name=f"a{i}")) for i in range(9)]
    v = bank().check_plan(steps, S)
    assert not v.safe
    first = v.violations[0]
    witness = dict(first.witness)
    assert first.decision is Decision.DENY
    # the witness really violates: replay the concrete plan it describes
    concrete = [verify()] + [pay(witness[f"a{i}"]) for i in range(9)]
    g = bank()
    verdicts = [g.check_and_commit(a, S) for a in concrete]
    assert any(not x.allowed for x in verdicts)


def test_budget_is_unrolled_across_steps() -> None:
    # 4000 + 4000 already spent in the plan: a third payment of x violates iff x > 2000.
    steps = [verify(), pay(4000), pay(4000), pay(Symbolic(name="x"))]
    v = bank().check_plan(steps, S)
    (violation,) = v.violations
    assert violation.step == 3
    x = dict(violation.witness)["x"]
    assert "daily_budget" in violation.rules or "single_transfer_cap" in violation.rules
    assert x > 2000 or x <= 0


def test_plan_starts_from_the_session_state() -> None:
    g = bank()
    g.check_and_commit(Action(tool="verify_identity", agent="payments", call_id="v",
                              args={"method": "otp"}), S)
    g.check_and_commit(Action(tool="send_money", agent="payments", call_id="p",
                              args={"recipient": "alice", "amount": 5000, "subject": "x"}), S)
    assert g.check_plan([pay(5000)], S).safe
    assert not g.check_plan([pay(5000), pay(1)], S).safe


def test_symbolic_recipient_may_be_untrusted() -> None:
    v = bank().check_plan([verify(), pay(10, recipient=Symbolic(name="who"))], S)
    assert not v.safe
    assert v.violations[0].decision in (Decision.ESCALATE, Decision.DENY)


def test_bad_plan_step_fails_closed() -> None:
    v = bank().check_plan([Action(tool="nope", args={})], S)
    assert not v.safe and v.code == "GG401"
