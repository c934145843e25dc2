"""Properties of the spec front end: format/parse round trips, and a parser that never
raises, on random trees, on text drawn from the grammar, and on mangled real specs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import lark
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from guardgraph.specs import ast, format_spec, parse
from guardgraph.specs._lexer import tokenize
from guardgraph.specs._parser import grammar_text, keywords
from guardgraph.specs._terminals import terminal_patterns

SAMPLE = (Path(__file__).parent.parent / "specs" / "sample_banking.spec").read_text()
KEYWORDS = frozenset(k for k in keywords() if k.isidentifier())
PATTERN_CALLS = frozenset(
    {"count", "sum", "min", "max", "once", "historically", "previously", "since"}
)
PRIMITIVES = frozenset(p.value for p in ast.Primitive)

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda s: s not in KEYWORDS
)
comment_text = st.text(
    st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=20
).map(lambda s: ("#" + s).rstrip())
# "" is a blank-line marker (see guardgraph.specs._parser)
comments = st.lists(comment_text | st.just(""), max_size=3).map(tuple)

# --------------------------------------------------------------------------- trees

durations = st.integers(0, 10**7).map(lambda s: ast.DurationLit(seconds=s))
literals = st.one_of(
    st.integers(0, 10**30).map(lambda v: ast.IntLit(value=v)),
    st.builds(
        lambda n, k: ast.RealLit(value=Fraction(n, 10**k)), st.integers(0, 10**9), st.integers(0, 5)
    ),
    st.text(max_size=8).map(lambda v: ast.StrLit(value=v)),
    st.booleans().map(lambda v: ast.BoolLit(value=v)),
    durations,
    (identifiers | st.just("tool")).map(lambda v: ast.Name(id=v)),
)
call_names = st.sampled_from(
    [
        "startswith",
        "endswith",
        "contains",
        "matches",
        "len",
        "present",
        "tainted",
        "from_user",
        "source",
        "result",
    ]
) | identifiers.filter(lambda s: s not in PATTERN_CALLS)


def _extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    small = st.lists(children, max_size=3).map(tuple)
    patterns = st.builds(
        ast.EventPattern,
        tool=st.none() | identifiers,
        where=st.none() | children,
        negated=st.booleans(),
    )
    tool_patterns = st.builds(
        ast.EventPattern, tool=identifiers, where=st.none() | children, negated=st.booleans()
    )
    windows = st.none() | durations
    return st.one_of(
        st.builds(ast.Unary, op=st.sampled_from(ast.UnOp), operand=children),
        st.builds(ast.Binary, op=st.sampled_from(ast.BinOp), left=children, right=children),
        st.builds(ast.Attribute, value=children, attr=identifiers),
        st.builds(ast.SetLit, items=small),
        st.builds(ast.ListLit, items=small),
        st.builds(ast.Call, func=call_names, args=small),
        st.builds(
            ast.Quantifier,
            kind=st.sampled_from(ast.QuantifierKind),
            var=identifiers,
            domain=children,
            body=children,
        ),
        st.builds(
            ast.Aggregate,
            func=st.just(ast.AggregateFunc.COUNT),
            pattern=patterns,
            window=windows,
        ),
        st.builds(
            ast.Aggregate,
            func=st.sampled_from(
                [ast.AggregateFunc.SUM, ast.AggregateFunc.MIN, ast.AggregateFunc.MAX]
            ),
            pattern=tool_patterns,
            field=identifiers,
            window=windows,
        ),
        st.builds(
            ast.Temporal, op=st.sampled_from(ast.TemporalOp), pattern=patterns, window=windows
        ),
        st.builds(ast.Since, held=patterns, anchor=patterns),
    )


expressions = st.recursive(literals, _extend, max_leaves=10)

types = st.recursive(
    st.sampled_from(ast.Primitive).map(lambda p: ast.PrimType(name=p))
    | identifiers.filter(lambda s: s not in PRIMITIVES).map(lambda s: ast.NamedType(name=s)),
    lambda inner: st.one_of(
        st.builds(ast.ListType, element=inner),
        st.builds(ast.SetType, element=inner),
        st.builds(ast.OptionalType, inner=inner),
    ),
    max_leaves=3,
)
names_tuple = st.lists(identifiers, min_size=1, max_size=3).map(tuple)


@st.composite
def tools(draw: st.DrawFn) -> ast.ToolDecl:
    untrusted = draw(st.booleans())
    return ast.ToolDecl(
        name=draw(identifiers),
        params=tuple(
            draw(
                st.lists(
                    st.builds(ast.Param, name=identifiers, type=types, sensitive=st.booleans()),
                    max_size=4,
                )
            )
        ),
        returns=draw(st.none() | types),
        untrusted=untrusted,
        untrusted_fields=draw(names_tuple) if untrusted and draw(st.booleans()) else (),
        comments=draw(comments),
    )


rules = st.builds(
    ast.Rule,
    name=identifiers,
    targets=st.just(("route",)) | st.just(("any",)) | names_tuple,
    require=expressions,
    when=st.none() | expressions,
    otherwise=st.sampled_from([ast.Decision.DENY, ast.Decision.ESCALATE, ast.Decision.WARN]),
    message=st.none() | st.text(max_size=10),
    repair=st.lists(identifiers, max_size=2).map(tuple),
    comments=comments,
)
items = st.one_of(
    rules,
    tools(),
    st.builds(
        ast.RecordDecl,
        name=identifiers,
        fields=st.lists(st.builds(ast.Field, name=identifiers, type=types), max_size=3).map(tuple),
        comments=comments,
    ),
    st.builds(
        ast.EnumDecl,
        name=identifiers,
        values=st.lists(st.text(max_size=5), min_size=1, max_size=3).map(tuple),
        comments=comments,
    ),
    st.builds(ast.FactDecl, name=identifiers, type=types, comments=comments),
    st.builds(ast.ConstDecl, name=identifiers, value=expressions, comments=comments),
)
spec_files = st.builds(
    ast.SpecFile,
    name=identifiers,
    version=st.integers(0, 10**6),
    includes=st.lists(
        st.builds(ast.Include, path=st.text(max_size=10), comments=comments), max_size=2
    ).map(tuple),
    items=st.lists(items, max_size=5).map(tuple),
    comments=comments,
    trailing_comments=comments,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_files)
def test_random_trees_round_trip(spec: ast.SpecFile) -> None:
    text = format_spec(spec)
    parsed, diags = parse(text)
    assert diags == (), (text, [d.message for d in diags])
    assert parsed == spec, text
    assert format_spec(parsed) == text
    assert _all_comments(parsed) == _all_comments(spec)


def _all_comments(spec: ast.SpecFile) -> list[str]:
    """Every comment in file order, without the blank-line markers."""
    found = [*spec.comments]
    for node in (*spec.includes, *spec.items):
        found += node.comments
    return [c for c in [*found, *spec.trailing_comments] if c.strip()]


@settings(max_examples=300, deadline=None)
@given(expressions)
def test_random_expressions_round_trip(e: ast.Expr) -> None:
    spec = ast.SpecFile(name="t", version=1, items=(ast.ConstDecl(name="x", value=e),))
    text = format_spec(spec)
    parsed, diags = parse(text)
    assert parsed == spec, (text, [d.message for d in diags])


# --------------------------------------------------------------------------- grammar fuzz


def _spaced(s: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return s.map(lambda t: f" {t} ")


def _terminal(name: str) -> st.SearchStrategy[str]:
    pattern = terminal_patterns()[name]
    return st.from_regex(pattern, fullmatch=True).filter(lambda t: len(t) <= 24)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["NAME", "INT", "REAL", "DURATION", "STRING"]).flatmap(
    lambda n: st.tuples(st.just(n), _terminal(n))))
def test_every_token_of_the_grammar_is_one_token_of_the_lexer(drawn: tuple[str, str]) -> None:
    name, text = drawn
    if name == "NAME" and text in keywords():
        return  # a reserved word is its own terminal
    if name == "DURATION" and text.endswith("ms") and int(text[:-2].replace("_", "")) % 1000:
        return  # well-formed, but windows have one-second resolution (GG105)
    lexed = tokenize(text, path="t.spec", keywords=keywords())
    assert not lexed.diagnostics, (text, lexed.diagnostics)
    assert [(t.type, t.value) for t in lexed.tokens] == [(name, text)]


def _grammar_strategy() -> st.SearchStrategy[str]:
    grammar = lark.Lark(grammar_text(), parser="lalr", start="start")
    explicit: dict[str, st.SearchStrategy[str]] = {
        t.name: st.just(f" {t.pattern.value} ")
        for t in grammar.terminals
        if t.pattern.type == "str"
    }
    # The tokens come from the grammar's own terminal patterns (the tokenizer validates
    # with the same ones), so the fuzz exercises the lexer the parser really uses.
    explicit.update(
        NAME=_spaced(_terminal("NAME").filter(lambda w: w not in keywords())),
        INT=_spaced(_terminal("INT")),
        REAL=_spaced(_terminal("REAL")),
        DURATION=_spaced(_terminal("DURATION").filter(
            lambda d: not d.endswith("ms") or int(d[:-2].replace("_", "")) % 1000 == 0)),
        STRING=_spaced(_terminal("STRING")),
        COMMENT=comment_text.map(lambda c: f" {c}\n"),
        WS=st.sampled_from([" ", "\n", "\t"]),
    )
    return from_lark(grammar, start="start", explicit=explicit)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(_grammar_strategy())
def test_grammar_sentences_parse_without_raising(text: str) -> None:
    spec, diags = parse(text)
    assert (spec is None) == bool(diags)
    if spec is not None:
        out = format_spec(spec)
        again, _ = parse(out)
        assert again == spec, out
        assert format_spec(again) == out


# --------------------------------------------------------------------------- mangled text


@st.composite
def mangled(draw: st.DrawFn) -> str:
    text = SAMPLE
    rnd = draw(st.randoms(use_true_random=False))
    for _ in range(draw(st.integers(1, 6))):
        pos = rnd.randint(0, len(text))  # uniform: hypothesis would favour the header
        action = draw(st.sampled_from(["delete", "insert", "flip", "dup"]))
        if action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 15)) :]
        elif action == "insert":
            text = text[:pos] + draw(st.text(max_size=4)) + text[pos:]
        elif action == "dup":
            text = text[:pos] + text[pos : pos + 20] + text[pos:]
        else:
            data = bytearray(text.encode("utf-8"))
            if data:
                k = min(pos, len(data) - 1)
                data[k] ^= 1 << draw(st.integers(0, 7))
            text = data.decode("utf-8", errors="replace")
    return text


@settings(max_examples=300, deadline=None)
@given(mangled())
def test_mangled_specs_never_raise(text: str) -> None:
    spec, diags = parse(text, path="m.spec")
    assert (spec is None) == bool(diags)
    for d in diags:
        assert d.code.startswith("GG1") and d.span is not None and d.span.file == "m.spec"
    if spec is not None:
        assert parse(format_spec(spec))[0] == spec
