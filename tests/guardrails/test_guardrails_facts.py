"""Facts from the host (issue 11): exact built-in values or a deny.

A provider that raises anything, SystemExit, GeneratorExit and custom BaseException
subclasses included, makes the check a GG405 deny naming the exception; only
KeyboardInterrupt propagates. Values that lie about themselves (Decimal / Fraction
subclasses, str subclasses) are read by value; a bare string for a set fact is a deny,
never a set of characters. Hung providers cost their own check a time-out, not others'.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from fractions import Fraction

import pytest

from guardgraph.guardrails import Action, Decision, Guard, Policy, Session

SPEC = """spec facts version 1

tool send_money(recipient: str, amount: real)

fact trusted: set[str]
fact limit: real

rule trusted_only:
  on send_money
  require recipient in trusted

rule under_limit:
  on send_money
  require amount <= limit
"""
POLICY = Policy.from_text(SPEC)


def pay(recipient: str = "alice", amount: object = 10) -> Action:
    return Action(tool="send_money", args={"recipient": recipient, "amount": amount})


def check(given: dict[str, object], action: Action | None = None, **session: object,
          ) -> object:
    g = Guard(POLICY, facts=given, fact_timeout_s=0.5)
    return g.evaluate(action or pay(), Session(id="s", **session))  # type: ignore[arg-type]


class Custom(BaseException):
    pass


@pytest.mark.parametrize("exc", [ValueError("no"), SystemExit(3), GeneratorExit(),
                                 Custom("boom"), RecursionError(), MemoryError()],
                         ids=lambda e: type(e).__name__)
def test_a_provider_that_raises_anything_denies_with_the_exception_named(
        exc: BaseException) -> None:
    def provider(session: Session) -> object:
        raise exc

    v = check({"trusted": provider, "limit": 100})
    assert v.decision is Decision.DENY  # type: ignore[attr-defined]
    assert v.code == "GG405"  # type: ignore[attr-defined]
    assert type(exc).__name__ in v.message  # type: ignore[attr-defined]
    assert "'trusted'" in v.message  # type: ignore[attr-defined]


def test_keyboard_interrupt_propagates() -> None:
    def provider(session: Session) -> object:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check({"trusted": provider, "limit": 100})


def test_an_exception_whose_message_raises_still_denies() -> None:
    class Nasty(Exception):
        def __str__(self) -> str:
            raise SystemExit("from __str__")

    def provider(session: Session) -> object:
        raise Nasty

    v = check({"trusted": provider, "limit": 100})
    assert v.decision is Decision.DENY and v.code == "GG405"  # type: ignore[attr-defined]
    assert "Nasty" in v.message  # type: ignore[attr-defined]


class LyingDecimal(Decimal):
    def as_integer_ratio(self) -> tuple[int, int]:
        return (10**9, 1)

    def __ge__(self, other: object) -> bool:
        return True


class LyingFraction(Fraction):
    @property
    def numerator(self) -> int:  # type: ignore[override]
        return 10**9


class EqualToAll(str):
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("alice")


@pytest.mark.parametrize("limit", [LyingDecimal("5"), LyingFraction(5, 1)],
                         ids=["Decimal", "Fraction"])
def test_number_subclasses_cannot_lie_about_their_value(limit: object) -> None:
    v = check({"trusted": {"alice"}, "limit": lambda s: limit}, pay(amount=50))
    assert v.decision is Decision.DENY and v.rules == ("under_limit",)  # type: ignore[attr-defined]
    ok = check({"trusted": {"alice"}, "limit": lambda s: limit}, pay(amount=5))
    assert ok.decision is Decision.ALLOW  # type: ignore[attr-defined]


def test_a_str_subclass_in_a_set_fact_is_read_by_value() -> None:
    v = check({"trusted": lambda s: {EqualToAll("bob")}, "limit": 100}, pay("mallory"))
    assert v.decision is Decision.DENY and v.rules == ("trusted_only",)  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["provider", "session"])
def test_a_bare_string_for_a_set_fact_is_a_deny(where: str) -> None:
    # "alice" read per character would be {"a", "l", "i", "c", "e"}; "a" would then pass.
    if where == "provider":
        v = check({"trusted": lambda s: "alice", "limit": 100}, pay("a"))
    else:
        v = check({"limit": 100}, pay("a"), facts={"trusted": "alice"})
    assert v.decision is Decision.DENY and v.code == "GG405"  # type: ignore[attr-defined]


def test_nan_and_objects_from_a_provider_deny() -> None:
    for bad in (float("nan"), object(), Decimal("NaN"), [1, 2]):
        v = check({"trusted": {"alice"}, "limit": lambda s, b=bad: b})
        assert v.decision is Decision.DENY and v.code == "GG405", bad  # type: ignore[attr-defined]


def test_a_provider_set_mutated_after_the_check_changes_nothing() -> None:
    shared = {"alice"}
    g = Guard(POLICY, facts={"trusted": lambda s: shared, "limit": 100})
    assert g.evaluate(pay("alice"), Session(id="s")).decision is Decision.ALLOW
    shared.add("mallory")  # a later value, read at the next check, never a stale alias
    assert g.evaluate(pay("mallory"), Session(id="s")).decision is Decision.ALLOW
    shared.clear()
    assert g.evaluate(pay("alice"), Session(id="s")).decision is Decision.DENY


def test_hung_providers_do_not_block_other_checks() -> None:
    release = threading.Event()
    calls: list[str] = []

    def provider(session: Session) -> object:
        calls.append(session.id)
        if session.id.startswith("hang"):
            release.wait(5)
        return {"alice"}

    g = Guard(POLICY, facts={"trusted": provider, "limit": 100}, fact_timeout_s=0.2)
    try:
        for i in range(6):  # more hung calls than the pool has workers
            v = g.evaluate(pay(), Session(id=f"hang{i}"))
            assert v.decision is Decision.DENY and v.code == "GG406"
        v = g.evaluate(pay(), Session(id="fine"))
        assert v.decision is Decision.ALLOW, v.message
    finally:
        release.set()
