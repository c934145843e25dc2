"""The formatter: canonical layout, minimal parentheses, comments kept, idempotence."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from guardgraph.specs import ast, format_spec, parse
from guardgraph.specs._format import decimal_text, format_expr, quote

SAMPLE = Path(__file__).with_name("sample_banking.spec")


def fmt(text: str) -> str:
    spec, diags = parse(text)
    assert spec is not None, [d.message for d in diags]
    return format_spec(spec)


def roundtrip(text: str) -> str:
    """Format, and check the contract on the way: same tree, fixed point."""
    spec, diags = parse(text)
    assert spec is not None, [d.message for d in diags]
    out = format_spec(spec)
    again, diags = parse(out)
    assert again == spec, out
    assert format_spec(again) == out
    return out


def test_canonical_layout() -> None:
    messy = (
        'spec   bank version 3 include "common.spec" include "more.spec"\n'
        "tool f(a:int,b:str sensitive)->list[str]untrusted(x,y) tool g()\n"
        "fact trusted: set[str]   const cap=5_000 const rate = 0.10\n"
        'type T={a:int} enum C="EUR"|"USD"\n'
        "rule r: on f,g when a>1 require(a<=cap)and not(b in trusted) "
        'else escalate "why \\"now\\"?" repair a\n'
        "rule s: on any require count(any within 24h)<100 else deny\n"
    )
    assert roundtrip(messy) == (
        "spec bank version 3\n"
        "\n"
        'include "common.spec"\n'
        'include "more.spec"\n'
        "\n"
        "tool f(a: int, b: str sensitive) -> list[str] untrusted(x, y)\n"
        "tool g()\n"
        "\n"
        "fact trusted: set[str]\n"
        "\n"
        "const cap = 5_000\n"
        "const rate = 0.10\n"
        "\n"
        "type T = {a: int}\n"
        "\n"
        'enum C = "EUR" | "USD"\n'
        "\n"
        "rule r:\n"
        "  on f, g\n"
        "  when a > 1\n"
        "  require a <= cap and not b in trusted\n"
        '  else escalate "why \\"now\\"?"\n'
        "  repair a\n"
        "\n"
        "rule s:\n"
        "  on any\n"
        "  require count(any within 24h) < 100\n"
    )


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("(a implies b) implies c", "(a implies b) implies c"),
        ("a implies (b implies c)", "a implies b implies c"),
        ("(a < b) == c", "(a < b) == c"),
        ("not (a and b)", "not (a and b)"),
        ("(not a) and b", "not a and b"),
        ("(not a) == b", "(not a) == b"),
        ("- (a + b)", "-(a + b)"),
        ("- - a", "--a"),
        ("(- a).b", "(-a).b"),
        ("(forall x in s: x) and y", "(forall x in s: x) and y"),
        ("y and (forall x in s: x)", "y and forall x in s: x"),
        ("y and (forall x in s: x) and z", "y and (forall x in s: x) and z"),
        ("(forall x in s: x) == y", "(forall x in s: x) == y"),
        ("forall x in (a or b): x", "forall x in (a or b): x"),
        ("not (exists h in hs: h)", "not exists h in hs: h"),
        ("f(forall x in s: x, 1)", "f(forall x in s: x, 1)"),
        ("once(f where (a or b) within 10m)", "once(f where a or b within 10m)"),
        ("sum(not f.x where y within 1_000s)", "sum(not f.x where y within 1_000s)"),
        ('"tab\\there\\u0001"', '"tab\\there\\u0001"'),
    ],
)
def test_minimal_parentheses(source: str, canonical: str) -> None:
    out = roundtrip(f"spec t version 1\nconst x = {source}\n")
    assert out.splitlines()[-1] == f"const x = {canonical}"


def test_comments_are_kept_and_rule_body_comments_move_above() -> None:
    text = (
        "# policy for payments\n"
        "spec t version 1\n"
        "tool f(a: int)  # the tool\n"
        "rule r:\n"
        "  # about the target\n"
        "  on f     # which tool\n"
        "  require a > 1\n"
        "# the end\n"
    )
    # an end-of-line comment stays on its line (issue #10), one on a line of its own
    # inside a rule moves above the rule
    assert roundtrip(text) == (
        "# policy for payments\n"
        "spec t version 1\n"
        "\n"
        "tool f(a: int)  # the tool\n"
        "\n"
        "# about the target\n"
        "rule r:\n"
        "  on f  # which tool\n"
        "  require a > 1\n"
        "\n"
        "# the end\n"
    )


def test_end_of_line_comments_stay_with_their_clause() -> None:
    text = (
        "spec t version 1  # header\n"
        'include "x.spec"  # shared rules\n'
        "const cap = 5000 # the cap\n"
        "rule r:  # about r\n"
        "  on f\n"
        "  when a > 0\n"
        "  require a < cap and # first\n"
        "    a != 3  # second\n"
        "  else deny  # the default, not written\n"
        "  repair a  # nearest value\n"
    )
    out = roundtrip(text)
    assert out.startswith("# header\nspec t version 1\n")
    assert 'include "x.spec"  # shared rules\n' in out
    assert "const cap = 5000  # the cap\n" in out
    assert "rule r:  # about r\n" in out
    assert "  require a < cap and a != 3  # first # second\n" in out
    assert "  repair a  # nearest value  # the default, not written\n" in out
    assert roundtrip(out) == out


def test_long_lines_are_broken() -> None:
    params = ", ".join(f"argument_{k}: str" for k in range(8))
    cond = " and ".join(f'argument_{k} != ""' for k in range(8))
    out = roundtrip(f"spec t version 1\ntool f({params})\nrule r: on f require {cond}\n")
    assert "tool f(\n  argument_0: str,\n" in out
    assert '  require argument_0 != ""\n    and argument_1 != ""\n' in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_sample_is_idempotent() -> None:
    once = roundtrip(SAMPLE.read_text())
    assert roundtrip(once) == once


def test_literals() -> None:
    assert decimal_text(Fraction(1, 10)) == "0.1"
    assert decimal_text(Fraction(5)) == "5.0"
    assert decimal_text(Fraction(-3, 8)) == "-0.375"
    with pytest.raises(ValueError, match="no exact decimal"):
        decimal_text(Fraction(1, 3))
    assert quote('a"\\\n\u2028\U0001f600\U000e0001') == (
        '"a\\"\\\\\\n\\u2028\U0001f600\\udb40\\udc01"'
    )
    assert format_expr(ast.DurationLit(seconds=7200)) == "2h"
    assert format_expr(ast.DurationLit(seconds=90)) == "90s"
    assert format_expr(ast.RealLit(value=Fraction(1, 4), text="0.5")) == "0.25"
    assert format_expr(ast.Attribute(value=ast.IntLit(value=5), attr="x")) == "(5).x"


def test_very_long_chains_format_without_recursion() -> None:
    cond = " and ".join(f'a != "{k}"' for k in range(3000))
    spec, diags = parse(f"spec t version 1\ntool f(a: str)\nrule r: on f require {cond}\n")
    assert spec is not None, diags
    out = format_spec(spec)
    assert out.count("\n    and ") == 2999
    again, _ = parse(out)
    assert again is not None and format_spec(again) == out


def test_earlier_call_values_round_trip() -> None:
    text = ("spec t version 1\n\ntool lookup(id: str)\ntool refund(id: str)\n\nrule r:\n"
            "  on refund\n  require id in lookup.id and id not in refund.id\n")
    assert roundtrip(text) == text
