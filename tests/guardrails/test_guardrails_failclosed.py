"""Every bypass of issue 4 is a deny with a code that says which, never an allow."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from guardgraph.guardrails import Action, ActionKind, Decision, Guard, Session, SpecLoadError

DATA = Path(__file__).parent / "data"
S = Session(id="s", now=datetime(2026, 5, 1, tzinfo=UTC))
SPEC = """
spec f version 1
enum Currency = "EUR" | "USD"
type Line = {item: str, price: real}
tool send_money(recipient: str, amount: real, currency: Currency, note: str?)
tool order(lines: list[Line], count: int)
fact limit: real
rule cap:
  on send_money
  require amount <= limit
rule blocked:
  on send_money
  require recipient != "mallory"
"""


def guard(**kw: object) -> Guard:
    return Guard.from_text(SPEC, facts={"limit": 100}, **kw)  # type: ignore[arg-type]


def send(**args: object) -> Action:
    base: dict[str, object] = {"recipient": "bob", "amount": 5, "currency": "EUR"}
    base.update(args)
    return Action(tool="send_money", args=base, call_id="c")


def code_of(v: object) -> str | None:
    assert v.decision is Decision.DENY, v  # type: ignore[attr-defined]
    return v.code  # type: ignore[attr-defined]


def test_baseline_allows() -> None:
    assert guard().evaluate(send(), S).allowed
    assert guard().evaluate(send(note="x"), S).allowed


@pytest.mark.parametrize("name", ["transfer", "send_money2", "ѕend_money",  # Cyrillic ѕ
                                  "send\u200b_money", "", "send money"])
def test_unknown_or_lookalike_tool(name: str) -> None:
    v = guard().evaluate(Action(tool=name, args={"recipient": "bob", "amount": 5,
                                              "currency": "EUR"}), S)
    assert code_of(v) == "GG401"
    assert repr(name) in v.message


def test_lookalike_string_argument_still_hits_the_rule() -> None:
    assert guard().evaluate(send(recipient="ｍａｌｌｏｒｙ"), S).rules == ("blocked",)


def test_missing_argument() -> None:
    v = guard().evaluate(Action(tool="send_money", args={"recipient": "bob", "currency": "EUR"}), S)
    assert code_of(v) == "GG402" and "'amount'" in v.message


def test_extra_argument() -> None:
    assert code_of(guard().evaluate(send(memo="hi"), S)) == "GG403"


def test_argument_given_twice_after_normalisation() -> None:
    v = guard().evaluate(send(**{"ａｍｏｕｎｔ": 5}), S)
    assert code_of(v) == "GG403"


@pytest.mark.parametrize("amount", [
    "5000", "5e3", float("nan"), float("inf"), -float("inf"), Decimal("NaN"), 10**400,
    True, False, None, [5], {"v": 5}, b"5", Fraction(1, 10**30), object(),
])
def test_bad_amount(amount: object) -> None:
    v = guard().evaluate(send(amount=amount), S)
    # GG404 wrong type, GG421 no exact reading (NaN, an object), GG422 beyond the caps
    assert code_of(v) in ({"GG402"} if amount is None else {"GG404", "GG421", "GG422"})


@pytest.mark.parametrize("args", [
    {"recipient": 42}, {"recipient": ["bob"]}, {"recipient": {"x": "bob"}},
    {"currency": "GBP"}, {"currency": 1}, {"note": 3},
])
def test_bad_other_arguments(args: dict[str, object]) -> None:
    assert code_of(guard().evaluate(send(**args), S)) == "GG404"


@pytest.mark.parametrize("lines", [
    [{"item": "a"}],  # missing field
    [{"item": "a", "price": 1, "x": 2}],  # extra field
    [{"item": "a", "price": "1"}],  # string number, nested
    [[["deep"]]],  # nested junk
    "a,b",  # not a list
])
def test_nested_junk(lines: object) -> None:
    v = guard().evaluate(Action(tool="order", args={"lines": lines, "count": 1}), S)
    assert code_of(v) == "GG404"


def test_huge_int_rejected() -> None:
    v = guard().evaluate(Action(tool="order", args={"lines": [], "count": 10**400}), S)
    assert code_of(v) in ("GG404", "GG422")


def test_bool_is_not_an_int() -> None:
    v = guard().evaluate(Action(tool="order", args={"lines": [], "count": True}), S)
    assert code_of(v) == "GG404"


def test_fact_provider_raises() -> None:
    def broken(_: Session) -> object:
        raise RuntimeError("db down")

    g = Guard.from_text(SPEC, facts={"limit": broken})
    v = g.evaluate(send(), S)
    assert code_of(v) == "GG405" and "db down" in v.message
    g.close()


def test_fact_provider_times_out() -> None:
    def slow(_: Session) -> object:
        time.sleep(2)
        return 100

    g = Guard.from_text(SPEC, facts={"limit": slow}, fact_timeout_s=0.05)
    assert code_of(g.evaluate(send(), S)) == "GG406"
    g.close()


def test_fact_provider_returns_wrong_type() -> None:
    g = Guard.from_text(SPEC, facts={"limit": lambda _: "100"})
    assert code_of(g.evaluate(send(), S)) == "GG405"
    g.close()


def test_missing_fact() -> None:
    assert code_of(Guard.from_text(SPEC).evaluate(send(), S)) == "GG405"


def test_spec_with_errors_raises_with_its_diagnostics() -> None:
    # Never a deny-all guard (issue 10): the error names the place and carries the findings.
    with pytest.raises(SpecLoadError, match="did not load") as err:
        Guard.from_text("spec broken version 1\nrule r:\n  on nowhere\n  require 1 +\n")
    assert err.value.diagnostics and err.value.diagnostics[0].code.startswith("GG1")


def test_missing_spec_file_raises_naming_it() -> None:
    with pytest.raises(SpecLoadError, match=r"does-not-exist\.spec") as err:
        Guard.from_files(DATA / "does-not-exist.spec")
    assert err.value.path.endswith("does-not-exist.spec")


@pytest.mark.parametrize("exc", [RuntimeError("injected"), SystemExit(3), GeneratorExit(),
                                 type("Custom", (BaseException,), {})("custom")])
def test_anything_a_provider_raises_is_a_deny(exc: BaseException) -> None:
    def broken(_: Session) -> object:
        raise exc

    g = Guard.from_text(SPEC, facts={"limit": broken})
    v = g.evaluate(send(), S)
    assert v.decision is Decision.DENY and v.code in ("GG405", "GG408")
    assert type(exc).__name__ in v.message
    g.close()


def test_keyboard_interrupt_propagates() -> None:
    def stop(_: Session) -> object:
        raise KeyboardInterrupt

    g = Guard.from_text(SPEC, facts={"limit": stop})
    with pytest.raises(KeyboardInterrupt):
        g.evaluate(send(), S)
    g.close()


@pytest.mark.parametrize("exc", [ConnectionError("store unreachable"), SystemExit(1),
                                 MemoryError("full")])
def test_store_failure_is_a_deny(exc: BaseException) -> None:
    class BrokenStore:
        def transact(self, session_id: str, fn: object, codec: object) -> object:
            raise exc

        def restore(self, session_id: str, data: bytes, codec: object) -> None:
            raise exc

        def drop(self, session_id: str) -> None:
            raise exc

    g = Guard.from_text(SPEC, facts={"limit": 100}, store=BrokenStore())
    for v in (g.evaluate(send(), S), g.check_and_commit(send(), S),
              *g.check_many([send(), send(amount=2)], S)):
        assert code_of(v) == "GG408" and type(exc).__name__ in v.message


def test_division_by_zero_fails_the_clause() -> None:
    g = Guard.from_text("""
spec d version 1
tool t(a: real, b: real)
rule ratio:
  on t
  require a / b < 1
""")
    v = g.evaluate(Action(tool="t", args={"a": 1, "b": 0}), S)
    assert code_of(v) == "GG400" and v.rules == ("ratio",)
    assert g.evaluate(Action(tool="t", args={"a": 1, "b": 2}), S).allowed


def test_solver_undecided_is_a_deny(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import guardgraph.guardrails._check as check_module

    g = guard()
    programs = g.policy.runtime().programs
    # The fast path cannot decide these rules, and Z3 answers unknown (a time-out).
    monkeypatch.setitem(programs, "send_money",
                        dataclasses.replace(programs["send_money"], fires=lambda env: [None, None]))
    monkeypatch.setattr(check_module, "decide", lambda *a, **k: None)
    v = g.evaluate(send(), S)
    assert code_of(v) == "GG409" and "cap" in v.message


def test_non_string_tool_name_and_bad_approval() -> None:
    g = guard()
    assert code_of(g.evaluate(Action(tool=5, args={}), S)) == "GG404"  # type: ignore[arg-type]
    ok = Action(tool="send_money", args={"recipient": "b", "amount": 1, "currency": "EUR"})
    assert code_of(g.evaluate(ok, S, approval="yes")) == "GG415"  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["tool_call", "send", 3, None])
def test_action_kinds_are_a_closed_set(kind: object) -> None:
    g = guard()
    action = Action(tool="send_money", kind=kind,  # type: ignore[arg-type]
                    args={"recipient": "b", "amount": 1, "currency": "EUR"})
    v = g.evaluate(action, S)
    if kind == "tool_call":  # the exact value of a member reads as that member
        assert v.allowed and v.subject is not None and v.subject.kind is ActionKind.TOOL_CALL
    else:
        assert code_of(v) in ("GG404", "GG415")
