"""What is checked is exactly what runs (issue 11): the verdict carries a frozen copy of
built-in values, whatever the caller passes and whatever it does afterwards.

Classes of attack, one test each, through the public `Guard` API:
- mutating the caller's objects after an allow changes nothing the guard returned;
- subclasses of built-ins that lie (``__eq__``, ``__hash__``, ``__int__``, ``__str__``,
  ``numerator``) are read by value, so they get the verdict of the value they hold;
- nesting beyond the caps (100000 levels deep, too many items) is a clean GG422 deny;
- strings with lone surrogates are a GG420 deny, so the audit log can store every allow.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardgraph.guardrails import Action, Decision, Guard, Policy, Session, args_sha256

SPEC = """spec values version 1

type Payee = {name: str, iban: str}

tool send_money(recipient: str, amount: real, tags: list[str], payee: Payee?)
tool count_up(n: int, labels: set[str])

rule cap:
  on send_money
  require amount <= 100

rule no_evil:
  on send_money
  require recipient != "evil" and not ("blocked" in tags)

rule small_n:
  on count_up
  require n < 10 and not ("x" in labels)
"""

POLICY = Policy.from_text(SPEC)
SESSION = Session(id="s1")

texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)


def guard() -> Guard:
    return Guard(POLICY)


def plain(value: object) -> object:
    """The frozen value as JSON, to compare with what the caller's objects say later."""
    return json.loads(json.dumps(value, default=lambda v: dict(v) if isinstance(
        v, MappingProxyType) else float(v) if isinstance(v, Fraction) else list(v)))


@settings(max_examples=60, deadline=None)
@given(recipient=texts, amount=st.integers(0, 100), tags=st.lists(texts, max_size=5),
       name=texts)
def test_mutating_caller_objects_after_an_allow_changes_nothing(
        recipient: str, amount: int, tags: list[str], name: str) -> None:
    tags = [t for t in tags if t != "blocked"]
    payee = {"name": name, "iban": "GB00"}
    args = {"recipient": recipient if recipient != "evil" else "good", "amount": amount,
            "tags": tags, "payee": payee}
    g = guard()
    v = g.check_and_commit(Action(tool="send_money", args=args, call_id="c1"), SESSION)
    assert v.decision is Decision.ALLOW, v.message
    subject = v.subject
    assert subject is not None
    before = plain(subject.args)
    digest = subject.args_sha256
    # The attacker rewrites everything it still holds a reference to.
    tags.append("blocked")
    payee["name"] = "evil"
    payee["extra"] = "x"
    args["amount"] = 10**9
    args["recipient"] = "evil"
    assert plain(subject.args) == before
    assert args_sha256(subject.args) == digest == subject.args_sha256
    assert type(subject.args["tags"]) is tuple
    assert isinstance(subject.args["payee"], MappingProxyType)
    with pytest.raises(TypeError):
        subject.args["payee"]["name"] = "evil"  # type: ignore[index]


class LyingStr(str):
    """Equal to everything, hashed like nothing, and printed as something else."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __str__(self) -> str:
        return "innocent"


class LyingInt(int):
    def __int__(self) -> int:
        return 1

    def __index__(self) -> int:
        return 1

    def __lt__(self, other: object) -> bool:
        return True

    def __le__(self, other: object) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 1


class LyingFloat(float):
    def __float__(self) -> float:
        return 1.0

    def __le__(self, other: object) -> bool:
        return True


class LyingFraction(Fraction):
    @property
    def numerator(self) -> int:  # type: ignore[override]
        return 1

    @property
    def denominator(self) -> int:  # type: ignore[override]
        return 1


class LyingDecimal(Decimal):
    def as_integer_ratio(self) -> tuple[int, int]:
        return (1, 1)

    def __le__(self, other: object) -> bool:
        return True


class LyingList(list):  # type: ignore[type-arg]
    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(["harmless"])

    def __len__(self) -> int:
        return 1


class LyingSet(set):  # type: ignore[type-arg]
    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(["fine"])

    def __contains__(self, item: object) -> bool:
        return False


HOSTILE_AMOUNTS = [LyingInt, LyingFloat, lambda n: LyingFraction(n, 1),
                   lambda n: LyingDecimal(n)]


@settings(max_examples=60, deadline=None)
@given(amount=st.integers(-1000, 10**6), make=st.sampled_from(HOSTILE_AMOUNTS),
       recipient=st.sampled_from(["evil", "alice", "bob"]))
def test_hostile_subclasses_get_the_verdict_of_the_value_they_hold(
        amount: int, make: object, recipient: str) -> None:
    args = {"recipient": LyingStr(recipient), "amount": make(amount),  # type: ignore[operator]
            "tags": LyingList(["blocked"] if amount % 2 else ["ok"])}
    honest = {"recipient": recipient, "amount": amount,
              "tags": ["blocked"] if amount % 2 else ["ok"]}
    g = guard()
    lied = g.evaluate(Action(tool="send_money", args=args), SESSION)
    truth = g.evaluate(Action(tool="send_money", args=honest), SESSION)
    assert lied.decision is truth.decision, (lied.message, truth.message)
    assert lied.rules == truth.rules
    assert lied.subject is not None and truth.subject is not None
    assert lied.subject.args_sha256 == truth.subject.args_sha256
    got = lied.subject.args
    assert type(got["recipient"]) is str and got["recipient"] == recipient
    assert type(got["amount"]) is int and got["amount"] == amount
    assert type(got["tags"]) is tuple and all(type(t) is str for t in got["tags"])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 30), labels=st.lists(st.sampled_from(["x", "y", "z"]), max_size=3))
def test_hostile_int_and_set_in_another_tool(n: int, labels: list[str]) -> None:
    g = guard()
    lied = g.evaluate(Action(tool="count_up", args={"n": LyingInt(n),
                                                    "labels": LyingSet(labels)}), SESSION)
    truth = g.evaluate(Action(tool="count_up", args={"n": n, "labels": set(labels)}),
                       SESSION)
    assert lied.decision is truth.decision
    assert lied.subject is not None and lied.subject.args["labels"] == frozenset(labels)


def nested(depth: int) -> list[object]:
    value: list[object] = ["blocked"]
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=20, deadline=None)
@given(depth=st.one_of(st.integers(33, 200), st.just(100_000)))
def test_deep_nesting_is_a_clean_deny(depth: int) -> None:
    v = guard().evaluate(Action(tool="send_money", args={
        "recipient": "alice", "amount": 1, "tags": nested(depth)}), SESSION)
    assert v.decision is Decision.DENY
    assert v.code == "GG422", v.message
    assert "nested more than" in v.message


def test_a_list_that_contains_itself_is_a_clean_deny() -> None:
    loop: list[object] = ["a"]
    loop.append(loop)
    v = guard().evaluate(Action(tool="send_money", args={
        "recipient": "alice", "amount": 1, "tags": loop}), SESSION)
    assert v.decision is Decision.DENY and v.code == "GG422"


@settings(max_examples=10, deadline=None)
@given(extra=st.integers(1, 50))
def test_too_many_items_is_a_clean_deny(extra: int) -> None:
    v = guard().evaluate(Action(tool="send_money", args={
        "recipient": "alice", "amount": 1, "tags": ["t"] * (10_000 + extra)}), SESSION)
    assert v.decision is Decision.DENY and v.code == "GG422"
    assert "more than 10000 items" in v.message


surrogate = st.integers(0xD800, 0xDFFF).map(chr)


@settings(max_examples=60, deadline=None)
@given(head=texts, bad=surrogate, tail=texts,
       where=st.sampled_from(["recipient", "tags", "payee"]))
def test_lone_surrogates_are_denied(head: str, bad: str, tail: str, where: str) -> None:
    text = head + bad + tail
    args: dict[str, object] = {"recipient": "alice", "amount": 1, "tags": []}
    if where == "recipient":
        args["recipient"] = text
    elif where == "tags":
        args["tags"] = ["ok", text]
    else:
        args["payee"] = {"name": text, "iban": "GB00"}
    v = guard().evaluate(Action(tool="send_money", args=args), SESSION)
    assert v.decision is Decision.DENY
    assert v.code == "GG420", v.message
    assert "surrogate" in v.message


@settings(max_examples=30, deadline=None)
@given(bad=surrogate)
def test_lone_surrogates_in_context_values_are_denied(bad: str) -> None:
    v = guard().evaluate(Action(tool="count_up", args={"n": 1, "labels": []},
                                agent="pay" + bad), SESSION)
    assert v.decision is Decision.DENY and v.code == "GG420"


def test_a_bare_string_for_a_set_is_a_type_error_not_characters() -> None:
    g = guard()
    # "xyz" read per character would contain "x" and fire small_n; it must not be read.
    v = g.evaluate(Action(tool="count_up", args={"n": 1, "labels": "xyz"}), SESSION)
    assert v.decision is Decision.DENY and v.code == "GG404"
    s = Session(id="s2", task_labels="pii")  # type: ignore[arg-type]
    v = g.evaluate(Action(tool="count_up", args={"n": 1, "labels": []}), s)
    assert v.decision is Decision.DENY and v.code == "GG404"
    assert "not a collection" in v.message


def test_nfkc_normalised_string_is_what_runs() -> None:
    # Full-width "ｅｖｉｌ" is "evil" after NFKC: the rule sees it, and so does the tool.
    g = guard()
    v = g.evaluate(Action(tool="send_money", args={
        "recipient": "ｅｖｉｌ", "amount": 1, "tags": []}), SESSION)
    assert v.decision is Decision.DENY and "no_evil" in v.rules
    ok = g.evaluate(Action(tool="send_money", args={
        "recipient": "ａｌｉｃｅ", "amount": 1, "tags": []}), SESSION)
    assert ok.decision is Decision.ALLOW
    assert ok.subject is not None and ok.subject.args["recipient"] == "alice"
