"""The checker never raises: arbitrary (even nonsensical) ASTs give diagnostics, not errors."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardgraph.specs import ast, check_spec
from guardgraph.specs.diagnostics import CODES, Severity

NAMES = st.sampled_from(
    ["amount", "recipient", "items", "t", "x", "args", "task", "session", "target", "agent",
     "tool", "approved", "cap", "trusted", "send_money", "Tx", "labels", "nope"]
)
TOOLS = st.sampled_from(["send_money", "pay", "ping", "nope", "route", "any"])
FUNCS = st.sampled_from(
    ["len", "present", "tainted", "from_user", "source", "result", "matches", "startswith",
     "contains", "endswith", "bogus"]
)

prim = st.builds(ast.PrimType, name=st.sampled_from(list(ast.Primitive)))
types = st.recursive(
    prim | st.builds(ast.NamedType, name=st.sampled_from(["Tx", "Cur", "Nope"])),
    lambda inner: st.builds(ast.ListType, element=inner)
    | st.builds(ast.SetType, element=inner)
    | st.builds(ast.OptionalType, inner=inner),
    max_leaves=3,
)
durations = st.builds(ast.DurationLit, seconds=st.integers(-5, 10**6))
leaves = st.one_of(
    st.builds(ast.IntLit, value=st.integers(-3, 10**4)),
    st.builds(ast.RealLit, value=st.fractions(max_denominator=10).map(Fraction)),
    st.builds(ast.StrLit, value=st.sampled_from(["EUR", "x", "^a", "(?=b)", "[a-z]+", "a{"])),
    st.builds(ast.BoolLit, value=st.booleans()),
    durations,
    st.builds(ast.Name, id=NAMES),
)


def _extend(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    pattern = st.builds(
        ast.EventPattern, tool=st.none() | TOOLS, where=st.none() | inner, negated=st.booleans()
    )
    return st.one_of(
        st.builds(ast.Attribute, value=inner, attr=NAMES),
        st.builds(ast.Unary, op=st.sampled_from(list(ast.UnOp)), operand=inner),
        st.builds(ast.Binary, op=st.sampled_from(list(ast.BinOp)), left=inner, right=inner),
        st.builds(ast.SetLit, items=st.lists(inner, max_size=3).map(tuple)),
        st.builds(ast.ListLit, items=st.lists(inner, max_size=3).map(tuple)),
        st.builds(ast.Call, func=FUNCS, args=st.lists(inner, max_size=3).map(tuple)),
        st.builds(
            ast.Quantifier,
            kind=st.sampled_from(list(ast.QuantifierKind)),
            var=NAMES,
            domain=inner,
            body=inner,
        ),
        st.builds(
            ast.Aggregate,
            func=st.sampled_from(list(ast.AggregateFunc)),
            pattern=pattern,
            field=st.none() | NAMES,
            window=st.none() | durations,
        ),
        st.builds(
            ast.Temporal,
            op=st.sampled_from(list(ast.TemporalOp)),
            pattern=pattern,
            window=st.none() | durations,
        ),
        st.builds(ast.Since, held=pattern, anchor=pattern),
    )


exprs = st.recursive(leaves, _extend, max_leaves=12)
params = st.lists(st.builds(ast.Param, name=NAMES, type=types), max_size=4).map(tuple)
decls = st.one_of(
    st.builds(
        ast.ToolDecl,
        name=TOOLS,
        params=params,
        returns=st.none() | types,
        untrusted=st.booleans(),
        untrusted_fields=st.lists(NAMES, max_size=2).map(tuple),
    ),
    st.builds(
        ast.RecordDecl,
        name=st.sampled_from(["Tx", "Cur"]),
        fields=st.lists(st.builds(ast.Field, name=NAMES, type=types), max_size=3).map(tuple),
    ),
    st.builds(ast.EnumDecl, name=st.sampled_from(["Cur", "Tx"]),
              values=st.lists(st.sampled_from(["EUR", "USD"]), max_size=3).map(tuple)),
    st.builds(ast.FactDecl, name=NAMES, type=types),
    st.builds(ast.ConstDecl, name=NAMES, value=exprs),
    st.builds(
        ast.Rule,
        name=st.sampled_from(["r", "s"]),
        targets=st.lists(TOOLS, max_size=3).map(tuple),
        require=exprs,
        when=st.none() | exprs,
        otherwise=st.sampled_from(list(ast.Decision)),
        repair=st.lists(NAMES, max_size=2).map(tuple),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(decls, max_size=8))
def test_check_spec_never_raises(items: list[ast.Decl]) -> None:
    files = [ast.SpecFile(name="fuzz", version=1, items=tuple(items))]
    spec, diagnostics = check_spec(files, content_hash="h")
    assert all(d.code in CODES for d in diagnostics)
    has_error = any(d.level is Severity.ERROR for d in diagnostics)
    assert (spec is None) == has_error
    assert sum(d.level is Severity.ERROR for d in diagnostics) <= 51
