"""The value layer the guard reads actions through (guardrails/_validate.py, the contract
in docs/internal/session-contracts.md): freeze, exact_text(_set), canonical_tool, and
the per-type validators built on them."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

import numpy as np
import pytest

from guardgraph.guardrails import Policy
from guardgraph.guardrails._validate import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_NODES,
    BadValue,
    canonical_tool,
    exact_text,
    exact_text_set,
    freeze,
    tool_table,
    validator,
)


def code_of(value: object, where: str = "v") -> str:
    with pytest.raises(BadValue) as info:
        freeze(value, where)
    return info.value.code


def test_plain_values_are_kept_and_containers_frozen() -> None:
    got = freeze({"a": [1, 2.5, None, True], "b": {"x"}, "c": {"d": ("e",)}}, "args")
    assert got == {"a": (1, 2.5, None, True), "b": frozenset({"x"}), "c": {"d": ("e",)}}
    assert isinstance(got, MappingProxyType) and isinstance(got["c"], MappingProxyType)
    assert type(got["a"]) is tuple and type(got["b"]) is frozenset


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 7


@pytest.mark.parametrize(("given", "expected", "kind"), [
    (np.float32(0.5), 0.5, float), (np.float64(0.1), 0.1, float), (np.int64(-3), -3, int),
    (np.uint8(200), 200, int), (np.bool_(True), True, bool), (np.str_("hé"), "hé", str),
    (Decimal("0.1"), Fraction(1, 10), Fraction), (Decimal("12.000"), 12, int),
    (Fraction(6, 4), Fraction(3, 2), Fraction), (Colour.RED, "red", str), (Size.BIG, 7, int),
])
def test_foreign_scalars_are_converted_by_value_where_exact(
        given: object, expected: object, kind: type) -> None:
    got = freeze(given, "v")
    assert got == expected and type(got) is kind


@pytest.mark.parametrize(("given", "code"), [
    (float("nan"), "GG421"), (float("-inf"), "GG421"), (Decimal("Infinity"), "GG421"),
    (Decimal("1e100"), "GG422"), (Decimal("0." + "1" * 60), "GG422"), (2**70, "GG422"),
    (np.complex128(1j), "GG421"), (np.float64("nan"), "GG421"), (object(), "GG421"),
    (b"bytes", "GG421"), (range(3), "GG421"), ("a\ud800", "GG420"),
])
def test_values_with_no_exact_reading_are_refused_with_a_code(given: object, code: str) -> None:
    assert code_of(given) == code


def test_longdouble_only_when_a_float_holds_it() -> None:
    assert freeze(np.longdouble(0.5), "v") == 0.5
    inexact = np.longdouble(1) / np.longdouble(3)
    if float(inexact) != inexact:  # platforms whose long double is wider than a double
        assert code_of(inexact) == "GG421"


def test_caps_deny_with_a_reason() -> None:
    deep: object = "x"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(BadValue, match="nested more than"):
        freeze(deep, "v")
    wide = [[0] * 5_000 for _ in range(MAX_NODES // 5_000 + 1)]
    with pytest.raises(BadValue, match="values in all"):
        freeze(wide, "v")
    long = ["x" * 100_000] * (MAX_CHARS // 100_000 + 1)
    with pytest.raises(BadValue, match="characters in all") as info:
        freeze(long, "v")
    assert info.value.code == "GG422"


def test_error_paths_name_where_the_bad_value_sits() -> None:
    with pytest.raises(BadValue) as info:
        freeze({"payee": {"names": ["ok", float("nan")]}}, "send_money")
    assert info.value.path == "send_money.payee.names[1]"


class Hostile(Mapping[str, object]):
    def __getitem__(self, key: str) -> object:
        raise SystemExit("from __getitem__")

    def __iter__(self) -> Iterator[str]:
        raise GeneratorExit

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        raise SystemExit("from __repr__")


def test_a_mapping_that_raises_anything_is_a_bad_value() -> None:
    with pytest.raises(BadValue) as info:
        freeze(Hostile(), "args")
    assert info.value.code == "GG421" and "GeneratorExit" in str(info.value)


def test_keys_must_be_distinct_strings() -> None:
    with pytest.raises(BadValue, match="a str key"):
        freeze({1: "x"}, "v")
    with pytest.raises(BadValue, match="equal after NFKC"):
        freeze({"ﬁ": 1, "fi": 2}, "v")


def test_exact_text_and_call_ids() -> None:
    assert exact_text("ｐａｙｍｅｎｔｓ", "agent") == "payments"
    # A call id keeps its code points: "c①" and "c1" are two calls.
    assert exact_text("c①", "call_id", nfkc=False) == "c①"
    with pytest.raises(BadValue) as info:
        exact_text(None, "agent")
    assert info.value.code == "GG404"
    with pytest.raises(BadValue) as info:
        exact_text("x\udfff", "session.user")
    assert info.value.code == "GG420" and "index 1" in str(info.value)


def test_exact_text_set_refuses_a_bare_string() -> None:
    assert exact_text_set(("pii", "ｐｉｉ"), "task.labels") == frozenset({"pii"})
    for bad in ("pii", b"pii", {"pii": 1}, 3):
        with pytest.raises(BadValue):
            exact_text_set(bad, "task.labels")
    with pytest.raises(BadValue):
        exact_text_set(["ok", 3], "task.labels")


def test_canonical_tool() -> None:
    table = tool_table(["send_money", "get_balance"])
    assert canonical_tool("GET_BALANCE", table) == ("get_balance", None)
    assert canonical_tool("ｇｅｔ_ｂａｌａｎｃｅ", table) == ("get_balance", None)
    for name in ("get_ba\u200blance", "gеt_balance", "get_balancе", "g\u0435t_b\u0430lance",
                 "get_ba1ance", "get_bálance"):
        found, hint = canonical_tool(name, table)
        assert found is None and hint is not None and "'get_balance'" in hint, name
    assert canonical_tool("delete_everything", table) == (None, None)
    assert canonical_tool(7, table)[0] is None
    assert canonical_tool("a\ud800", table)[0] is None


SPEC = Policy.from_text("""spec v version 1
type Payee = {name: str, iban: str}
tool pay(p: Payee, n: int, ok: bool, xs: set[str], r: real)
""").spec


def test_validators_return_frozen_values() -> None:
    decl = SPEC.tool("pay")
    assert decl is not None
    checks = {p.name: validator(p.type, SPEC) for p in decl.params}
    payee = checks["p"]({"name": "A", "iban": "B"}, "pay.p")
    assert isinstance(payee, MappingProxyType) and payee == {"name": "A", "iban": "B"}
    assert checks["xs"](["a", "b", "a"], "pay.xs") == frozenset({"a", "b"})
    assert checks["r"](0.1, "pay.r") == Fraction(1, 10)
    assert checks["r"](Decimal("2.50"), "pay.r") == Fraction(5, 2)
    for name, bad, code in [("n", True, "GG404"), ("n", 1.0, "GG404"), ("ok", 1, "GG404"),
                            ("xs", "abc", "GG404"), ("p", {"name": "A"}, "GG404"),
                            ("r", float("inf"), "GG421"), ("n", 2**64, "GG422")]:
        with pytest.raises(BadValue) as info:
            checks[name](bad, f"pay.{name}")
        assert info.value.code == code, (name, bad)
