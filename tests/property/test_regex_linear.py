"""Regex in specs: linear time, one reading (issue 11).

- Catastrophic-backtracking patterns answer in linear time through the public Guard API:
  a backtracking engine takes exponential time on ``(a+)+`` against ``"a" * n + "b"``.
- The fast path's matcher (RE2, built from the Z3 term) agrees with Z3 on every generated
  pattern of the ``matches`` subset and every generated string.
- A pattern RE2 refuses is an error at load (GG210), never a slow or a silent check.
"""

from __future__ import annotations

import time

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from guardgraph.guardrails import Action, Decision, Guard, Policy, Session, SpecLoadError
from guardgraph.guardrails._regex import fast_matcher, regex_to_z3
from guardgraph.guardrails._z3sorts import string_val
from guardgraph.specs._regex import regex_error

EVIL = ["(a+)+", "(a|aa)+", "(a*)*", "(a|a)*", "([a-z]+)*", "(a+a+)+", "(.*a){12}",
        "(\\w+\\s?)*"]


def spec_for(patterns: list[str]) -> str:
    rules = "\n".join(
        f"rule r{i}:\n  on submit\n  require matches(text, \"{p.replace(chr(92), chr(92) * 2)}\")\n"
        for i, p in enumerate(patterns))
    return f"spec evil version 1\n\ntool submit(text: str)\n\n{rules}"


GUARD = Guard(Policy.from_text(spec_for(EVIL)))


@pytest.mark.parametrize("n", [50_000])
def test_catastrophic_patterns_answer_in_linear_time(n: int) -> None:
    # Python's re needs about 2**n steps for (a+)+ on "a" * n + "b"; RE2 one pass. The
    # "!" at the end is outside every pattern's alphabet, so every rule fires.
    text = "a" * n + "!"
    start = time.perf_counter()
    v = GUARD.evaluate(Action(tool="submit", args={"text": text}), Session(id="s"))
    took = time.perf_counter() - start
    assert v.decision is Decision.DENY
    assert set(v.rules) == {f"r{i}" for i in range(len(EVIL))}
    assert took < 5.0, f"a check took {took:.2f}s"


def test_time_grows_linearly() -> None:
    def cost(n: int) -> float:
        text = "a" * n + "!"
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            GUARD.evaluate(Action(tool="submit", args={"text": text}), Session(id="s"))
            best = min(best, time.perf_counter() - start)
        return best

    small, large = cost(2_000), cost(40_000)
    # 20 times the input: linear is ~20x; allow slack for a shared machine, far below 2**n.
    assert large < max(small, 1e-4) * 200, (small, large)


# ------------------------------------------------------------------ RE2 == Z3

ALPHABET = "ab\n-é"
atoms = st.one_of(
    st.sampled_from(["a", "b", ".", "\\d", "\\w", "\\s", "\\n", "\\-", "é", "[ab]", "[^a]",
                     "[a-c]", "[^\\d]", "[\\w-]", "[^\\s]"]),
)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, inner).map("".join),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}|{t[1]})"),
        st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{0}", "{1,3}", "{2,}",
                                          "{0,0}"])).map(lambda t: f"({t[0]}){t[1]}"),
    )


patterns = st.recursive(atoms, _extend, max_leaves=6)
subjects = st.text(alphabet=ALPHABET + "1 _Z", max_size=8)


@settings(max_examples=200, deadline=None)
@given(pattern=patterns, texts=st.lists(subjects, min_size=1, max_size=6))
def test_fast_matcher_agrees_with_z3(pattern: str, texts: list[str]) -> None:
    assert regex_error(pattern) is None, pattern
    ctx = z3.Context()
    r = regex_to_z3(pattern, ctx)
    fast = fast_matcher(r)
    for text in texts:
        truth = z3.simplify(z3.InRe(string_val(text, ctx), r))
        assert z3.is_true(truth) or z3.is_false(truth)
        assert fast(text) == z3.is_true(truth), (pattern, text)


@settings(max_examples=100, deadline=None)
@given(lo=st.integers(0x80, 0x10FFFF), negated=st.booleans())
def test_classes_agree_beyond_ascii(lo: int, negated: bool) -> None:
    if 0xD800 <= lo <= 0xDFFF:
        lo = 0xE000
    ctx = z3.Context()
    r = regex_to_z3("[^a-z]" if negated else ".", ctx)
    text = chr(lo)
    assert fast_matcher(r)(text) == z3.is_true(z3.simplify(z3.InRe(string_val(text, ctx), r)))


def test_zero_repetition_is_the_empty_string_in_both() -> None:
    ctx = z3.Context()
    r = regex_to_z3("ab{0}c", ctx)
    for text, expected in [("ac", True), ("abc", False), ("abbc", False)]:
        assert fast_matcher(r)(text) is expected
        assert z3.is_true(z3.simplify(z3.InRe(string_val(text, ctx), r))) is expected


@pytest.mark.parametrize("pattern", ["a{1001}", "(a{100}){11}", "((ab){40}){30}"])
def test_patterns_re2_refuses_are_load_errors(pattern: str) -> None:
    with pytest.raises(SpecLoadError) as info:
        Policy.from_text(spec_for([pattern]))
    assert "GG210" in str(info.value)
    assert "RE2" in str(info.value)
