"""Tool names (issue 11): a call names its tool by the NFKC + case-folded form; a name
that only looks like a declared tool (homoglyphs, invisible or combining characters,
digits for letters) is denied as unknown (GG401) with a hint naming the real tool, never
run as it and never run as anything else."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from guardgraph.guardrails import Action, Decision, Guard, Policy, Session

SPEC = """spec tools version 1

tool send_money(amount: int)
tool get_balance()
tool export_data(dest: str)

rule cap:
  on send_money
  require amount <= 100
"""
GUARD = Guard(Policy.from_text(SPEC))
SESSION = Session(id="s")
TOOLS = ("send_money", "get_balance", "export_data")

# Look-alikes of ASCII letters from other scripts (Unicode TR39 confusables).
HOMOGLYPHS = {
    "a": "\u0430\u03b1", "c": "\u0441\u03f2", "e": "\u0435", "o": "\u043e\u03bf\u0030",
    "p": "\u0440\u03c1", "s": "\u0455", "x": "\u0445\u03c7", "y": "\u0443", "i": "\u0456",
    "l": "\u04cf\u0031", "n": "\u03b7", "t": "\u03c4", "d": "\u0501", "g": "\u0261",
    "m": "\u043c",
}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f"]
COMBINING = ["\u0301", "\u0308", "\u0327"]


def args_for(tool: str) -> dict[str, object]:
    return {"send_money": {"amount": 5}, "get_balance": {},
            "export_data": {"dest": "x"}}[tool]


@st.composite
def lookalike(draw: st.DrawFn) -> tuple[str, str]:
    tool = draw(st.sampled_from(TOOLS))
    chars = list(tool)
    spots = [i for i, c in enumerate(chars) if c in HOMOGLYPHS]
    how = draw(st.sampled_from(["homoglyph", "invisible", "combining"]))
    if how == "homoglyph":
        for i in draw(st.lists(st.sampled_from(spots), min_size=1, max_size=3, unique=True)):
            chars[i] = draw(st.sampled_from(HOMOGLYPHS[chars[i]]))
    elif how == "invisible":
        at = draw(st.integers(1, len(chars) - 1))
        chars.insert(at, draw(st.sampled_from(INVISIBLE)))
    else:
        at = draw(st.integers(0, len(chars) - 1))
        chars.insert(at + 1, draw(st.sampled_from(COMBINING)))
    name = "".join(chars)
    if draw(st.booleans()):
        name = name.upper()
    return tool, name


@settings(max_examples=150, deadline=None)
@given(case=lookalike())
def test_lookalike_tool_names_are_unknown_with_a_hint(case: tuple[str, str]) -> None:
    tool, name = case
    if unicodedata.normalize("NFKC", name).casefold() == tool:
        return  # a canonical spelling after all (e.g. a combining mark NFKC composes away)
    v = GUARD.evaluate(Action(tool=name, args=args_for(tool)), SESSION)
    assert v.decision is Decision.DENY
    assert v.code == "GG401", v.message
    assert f"looks like the declared tool {tool!r}" in v.message or \
        f"did you mean {tool!r}" in v.message, v.message
    assert v.subject is None or v.subject.tool != tool


@settings(max_examples=60, deadline=None)
@given(tool=st.sampled_from(TOOLS), data=st.data())
def test_canonical_spellings_are_the_declared_tool(tool: str, data: st.DataObject) -> None:
    # Case and compatibility forms (full-width letters) are the same name after NFKC and
    # case folding: the guard runs the declared tool, under its rules.
    styles = [str.upper, str.title, lambda s: "".join(
        chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in s)]
    name = data.draw(st.sampled_from(styles))(tool)
    v = GUARD.evaluate(Action(tool=name, args=args_for(tool)), SESSION)
    assert v.subject is not None and v.subject.tool == tool
    assert v.decision is Decision.ALLOW


def test_a_lookalike_never_escapes_the_real_tools_rules() -> None:
    # "ѕend_money" (Cyrillic dze) with an amount the cap forbids: denied as unknown, not
    # allowed as some other tool and not checked against nothing.
    v = GUARD.evaluate(Action(tool="\u0455end_money", args={"amount": 10**6}), SESSION)
    assert v.decision is Decision.DENY and v.code == "GG401"
    assert "'send_money'" in v.message and "CYRILLIC" in v.message
