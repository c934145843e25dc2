"""`TOOL.arg`: the values an argument took in the session's executed calls (issue #10:
"this argument equals one of an earlier call's"), end to end through the public API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guardgraph.guardrails import Action, Decision, Guard, Policy, Session
from guardgraph.guardrails._monitor import VALUES_CAP
from guardgraph.specs import load_text

SPEC = """spec shop version 1
tool lookup_order(order_id: str, note: str?) -> real
tool refund(order_id: str, amount: real)
rule refund_looked_up_orders:
  on refund
  require order_id in lookup_order.order_id
  else deny "refund only an order you looked up"
rule never_refund_twice:
  on refund
  require order_id not in refund.order_id
"""
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _guard() -> tuple[Guard, Session]:
    return Guard(Policy.from_text(SPEC)), Session(id="s", now=NOW)


def test_an_argument_must_equal_one_of_an_earlier_calls() -> None:
    guard, session = _guard()
    refund = Action(tool="refund", args={"order_id": "A1", "amount": 5}, call_id="r1")
    assert guard.evaluate(refund, session).decision is Decision.DENY
    looked = Action(tool="lookup_order", args={"order_id": "A1"}, call_id="l1")
    assert guard.check_and_commit(looked, session).decision is Decision.ALLOW
    assert guard.check_and_commit(refund, session).decision is Decision.ALLOW
    other = guard.evaluate(Action(tool="refund", args={"order_id": "B2", "amount": 5},
                                  call_id="r2"), session)
    assert other.decision is Decision.DENY
    assert 'lookup_order.order_id = {"A1"}' in other.message
    again = guard.evaluate(Action(tool="refund", args={"order_id": "A1", "amount": 1},
                                  call_id="r3"), session)
    assert again.rules == ("never_refund_twice",)


def test_a_denied_call_adds_no_value() -> None:
    guard, session = _guard()
    denied = Action(tool="refund", args={"order_id": "A1", "amount": 5}, call_id="r1")
    assert guard.check_and_commit(denied, session).decision is Decision.DENY
    guard.check_and_commit(Action(tool="lookup_order", args={"order_id": "A1"}, call_id="l1"),
                           session)
    # r1 was denied, so it is not an earlier refund of A1
    retry = Action(tool="refund", args={"order_id": "A1", "amount": 5}, call_id="r2")
    assert guard.evaluate(retry, session).decision is Decision.ALLOW


def test_memory_is_bounded_and_overflow_fails_closed() -> None:
    guard, session = _guard()
    for i in range(VALUES_CAP + 1):
        guard.check_and_commit(Action(tool="lookup_order", args={"order_id": f"o{i}"},
                                      call_id=f"l{i}"), session)
    # past the cap the set is undefined: membership is false, so the rule denies
    verdict = guard.evaluate(Action(tool="refund", args={"order_id": "o1", "amount": 1},
                                    call_id="r"), session)
    assert verdict.decision is Decision.DENY
    assert verdict.rules == ("refund_looked_up_orders",)


def test_the_values_survive_export_and_restore() -> None:
    guard, session = _guard()
    guard.check_and_commit(Action(tool="lookup_order", args={"order_id": "A1"}, call_id="l1"),
                           session)
    blob = guard.export_session("s")
    fresh, _ = _guard()
    fresh.restore_session(blob)
    refund = Action(tool="refund", args={"order_id": "A1", "amount": 5}, call_id="r1")
    assert fresh.check_and_commit(refund, session).decision is Decision.ALLOW
    fresh.check_and_commit(Action(tool="lookup_order", args={"order_id": "B2"}, call_id="l2"),
                           session)
    refund_b = Action(tool="refund", args={"order_id": "B2", "amount": 5}, call_id="r2")
    assert fresh.evaluate(refund_b, session).decision is Decision.ALLOW


@pytest.mark.parametrize(("require", "code", "words"), [
    ("order_id in lookup_order.id", "GG207", "has no argument `id`"),
    ("order_id in lookup_order.tags", "GG203", "only int, real, bool, str and enum"),
    ("once(refund where order_id in lookup_order.order_id)", "GG209", "inside `where`"),
    ("lookup_order.order_id == order_id", "GG203", "cannot compare"),
])
def test_misuse_is_a_clear_type_error(require: str, code: str, words: str) -> None:
    text = ("spec s version 1\ntool lookup_order(order_id: str, tags: list[str])\n"
            f"tool refund(order_id: str)\nrule r:\n  on refund\n  require {require}\n")
    result = load_text(text)
    assert result.spec is None
    assert any(d.code == code and words in d.message for d in result.diagnostics), [
        (d.code, d.message) for d in result.diagnostics]
