"""The parser: every construct into its AST, precedence, spans, and every GG1xx error."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from guardgraph.specs import ast, parse
from guardgraph.specs.ast import Binary, BinOp, IntLit, Name, StrLit, Unary, UnOp

HEADER = "spec t version 1\n"
SAMPLE = Path(__file__).with_name("sample_banking.spec")


def expr(text: str) -> ast.Expr:
    spec, diags = parse(f"{HEADER}const x = {text}\n")
    assert spec is not None, [d.message for d in diags]
    item = spec.items[0]
    assert isinstance(item, ast.ConstDecl)
    return item.value


def one(text: str) -> ast.Decl:
    spec, diags = parse(HEADER + text)
    assert spec is not None, [d.message for d in diags]
    assert len(spec.items) == 1
    return spec.items[0]


def errors(text: str) -> list[tuple[str, int, int, str]]:
    spec, diags = parse(text, path="e.spec")
    assert spec is None
    return [(d.code, d.span.line, d.span.column, d.message) for d in diags if d.span]


def n(name: str) -> Name:
    return Name(id=name)


def b(op: BinOp, left: ast.Expr, right: ast.Expr) -> Binary:
    return Binary(op=op, left=left, right=right)


def i(value: int) -> IntLit:
    return IntLit(value=value)


# ------------------------------------------------------------------------ the sample


def test_sample_spec_parses_into_the_whole_language() -> None:
    spec, diags = parse(SAMPLE.read_text(), path="banking.spec")
    assert diags == ()
    assert spec is not None
    assert (spec.name, spec.version, spec.path) == ("banking", 3, "banking.spec")
    assert spec.includes == (ast.Include(path="common.spec"),)
    kinds = [type(x).__name__ for x in spec.items]
    assert kinds.count("Rule") == 8 and kinds.count("ToolDecl") == 5
    send = next(x for x in spec.items if isinstance(x, ast.ToolDecl) and x.name == "send_money")
    assert send.params[0] == ast.Param(
        name="recipient", type=ast.PrimType(name=ast.Primitive.STR), sensitive=True
    )
    assert send.params[-1].type == ast.OptionalType(inner=ast.NamedType(name="Currency"))
    tx = next(x for x in spec.items if isinstance(x, ast.ToolDecl) and x.name.startswith("rec"))
    assert tx.returns == ast.ListType(element=ast.NamedType(name="Transaction"))
    assert (tx.untrusted, tx.untrusted_fields) == (True, ("subject",))
    cap = next(x for x in spec.items if isinstance(x, ast.Rule) and x.name.startswith("single"))
    assert cap.repair == ("amount",)
    assert cap.message == "single transfers are capped at 5000"
    assert cap.otherwise is ast.Decision.DENY


# ------------------------------------------------------------------------ declarations


def test_declarations() -> None:
    assert one("type T = {a: int, b: set[str],}") == ast.RecordDecl(
        name="T",
        fields=(
            ast.Field(name="a", type=ast.PrimType(name=ast.Primitive.INT)),
            ast.Field(name="b", type=ast.SetType(element=ast.PrimType(name=ast.Primitive.STR))),
        ),
    )
    assert one('enum C = "EUR" | "USD"') == ast.EnumDecl(name="C", values=("EUR", "USD"))
    assert one("fact f: list[real]?") == ast.FactDecl(
        name="f",
        type=ast.OptionalType(inner=ast.ListType(element=ast.PrimType(name=ast.Primitive.REAL))),
    )
    assert one("tool g() -> str untrusted") == ast.ToolDecl(
        name="g", params=(), returns=ast.PrimType(name=ast.Primitive.STR), untrusted=True
    )
    assert one("tool h(x: bool)") == ast.ToolDecl(
        name="h", params=(ast.Param(name="x", type=ast.PrimType(name=ast.Primitive.BOOL)),)
    )
    assert one('const hosts = {"a", "b"}') == ast.ConstDecl(
        name="hosts", value=ast.SetLit(items=(StrLit(value="a"), StrLit(value="b")))
    )


def test_rule_targets_and_clauses() -> None:
    rule = one('rule r:\n on a, b\n when x\n require y\n else warn "m"\n repair p, q')
    assert rule == ast.Rule(
        name="r",
        targets=("a", "b"),
        when=n("x"),
        require=n("y"),
        otherwise=ast.Decision.WARN,
        message="m",
        repair=("p", "q"),
    )
    route = one('rule r: on route require target == "x"')
    assert isinstance(route, ast.Rule) and route.on_route
    anyr = one('rule r: on any require tool != "x" else escalate')
    assert isinstance(anyr, ast.Rule) and anyr.on_any
    assert anyr.require == b(BinOp.NE, n("tool"), StrLit(value="x"))
    assert (anyr.otherwise, anyr.message) == (ast.Decision.ESCALATE, None)


# ------------------------------------------------------------------------ expressions


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("1_000", i(1000)),
        ("12.5", ast.RealLit(value=Fraction(25, 2))),
        ("0.1", ast.RealLit(value=Fraction(1, 10))),
        ('"a\\"b\\\\c\\n\\t\\u00e9"', StrLit(value='a"b\\c\n\té')),
        ('"\\ud83d\\ude00"', StrLit(value="\U0001f600")),
        ("true", ast.BoolLit(value=True)),
        ("false", ast.BoolLit(value=False)),
        ("24h", ast.DurationLit(seconds=86400)),
        ("2000ms", ast.DurationLit(seconds=2)),
        ("1w", ast.DurationLit(seconds=604800)),
        ("task.labels", ast.Attribute(value=n("task"), attr="labels")),
        ("args.a.b", ast.Attribute(value=ast.Attribute(value=n("args"), attr="a"), attr="b")),
        ("[1, 2]", ast.ListLit(items=(i(1), i(2)))),
        ("{}", ast.SetLit(items=())),
        ("-x", Unary(op=UnOp.NEG, operand=n("x"))),
        ("not x", Unary(op=UnOp.NOT, operand=n("x"))),
        ("x not in s", b(BinOp.NOT_IN, n("x"), n("s"))),
        ("x in s", b(BinOp.IN, n("x"), n("s"))),
        ('startswith(s, "a")', ast.Call(func="startswith", args=(n("s"), StrLit(value="a")))),
        ("len(x)", ast.Call(func="len", args=(n("x"),))),
        ("result(get_balance)", ast.Call(func="result", args=(n("get_balance"),))),
        (
            "forall t in items: t > 0",
            ast.Quantifier(
                kind=ast.QuantifierKind.FORALL,
                var="t",
                domain=n("items"),
                body=b(BinOp.GT, n("t"), i(0)),
            ),
        ),
        (
            "count(send_money where amount > 1000 within 1h)",
            ast.Aggregate(
                func=ast.AggregateFunc.COUNT,
                pattern=ast.EventPattern(
                    tool="send_money", where=b(BinOp.GT, n("amount"), i(1000))
                ),
                window=ast.DurationLit(seconds=3600),
            ),
        ),
        (
            'max(not pay.amount where c == "EUR")',
            ast.Aggregate(
                func=ast.AggregateFunc.MAX,
                pattern=ast.EventPattern(
                    tool="pay", negated=True, where=b(BinOp.EQ, n("c"), StrLit(value="EUR"))
                ),
                field="amount",
            ),
        ),
        (
            "count(not any within 10s)",
            ast.Aggregate(
                func=ast.AggregateFunc.COUNT,
                pattern=ast.EventPattern(tool=None, negated=True),
                window=ast.DurationLit(seconds=10),
            ),
        ),
        (
            "historically(not delete_branch)",
            ast.Temporal(
                op=ast.TemporalOp.HISTORICALLY,
                pattern=ast.EventPattern(tool="delete_branch", negated=True),
            ),
        ),
        (
            "since(not push, run_tests where ok)",
            ast.Since(
                held=ast.EventPattern(tool="push", negated=True),
                anchor=ast.EventPattern(tool="run_tests", where=n("ok")),
            ),
        ),
    ],
)
def test_expression(text: str, tree: ast.Expr) -> None:
    assert expr(text) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a + b * c", b(BinOp.ADD, n("a"), b(BinOp.MUL, n("b"), n("c")))),
        ("a - b - c", b(BinOp.SUB, b(BinOp.SUB, n("a"), n("b")), n("c"))),
        ("(a + b) % c", b(BinOp.MOD, b(BinOp.ADD, n("a"), n("b")), n("c"))),
        ("-a * b", b(BinOp.MUL, Unary(op=UnOp.NEG, operand=n("a")), n("b"))),
        ("a implies b implies c", b(BinOp.IMPLIES, n("a"), b(BinOp.IMPLIES, n("b"), n("c")))),
        ("a or b and c", b(BinOp.OR, n("a"), b(BinOp.AND, n("b"), n("c")))),
        ("not a and b", b(BinOp.AND, Unary(op=UnOp.NOT, operand=n("a")), n("b"))),
        ("not a == b", Unary(op=UnOp.NOT, operand=b(BinOp.EQ, n("a"), n("b")))),
        ("a + 1 < b", b(BinOp.LT, b(BinOp.ADD, n("a"), i(1)), n("b"))),
        ("-x.y", Unary(op=UnOp.NEG, operand=ast.Attribute(value=n("x"), attr="y"))),
        (
            "a and forall x in s: x or y",
            b(
                BinOp.AND,
                n("a"),
                ast.Quantifier(
                    kind=ast.QuantifierKind.FORALL,
                    var="x",
                    domain=n("s"),
                    body=b(BinOp.OR, n("x"), n("y")),
                ),
            ),
        ),
        (
            "not exists h in hs: h implies z",
            Unary(
                op=UnOp.NOT,
                operand=ast.Quantifier(
                    kind=ast.QuantifierKind.EXISTS,
                    var="h",
                    domain=n("hs"),
                    body=b(BinOp.IMPLIES, n("h"), n("z")),
                ),
            ),
        ),
    ],
)
def test_precedence(text: str, tree: ast.Expr) -> None:
    assert expr(text) == tree


def test_precedence_matches_the_ast_table() -> None:
    # Every pair of binary operators: the tighter one ends up below the looser one.
    ops = [op for op in BinOp if op not in (BinOp.IMPLIES,)]
    for outer in ops:
        for inner in ops:
            po, pi = ast.BINARY_PRECEDENCE[outer], ast.BINARY_PRECEDENCE[inner]
            if po == pi == 5:
                continue  # comparisons do not chain
            tree = expr(f"a {outer.value} b {inner.value} c")
            assert isinstance(tree, Binary)
            if pi > po:
                assert tree.op is outer and isinstance(tree.right, Binary)
            else:
                assert tree.op is inner and isinstance(tree.left, Binary)


# ------------------------------------------------------------------------ spans


def test_spans_are_one_based_with_exclusive_ends() -> None:
    spec, _ = parse(f'{HEADER}rule r:\n  on f\n  require amount <= "5000"\n', path="b.spec")
    assert spec is not None
    rule = spec.items[0]
    assert isinstance(rule, ast.Rule)
    assert rule.span == ast.Span(file="b.spec", line=2, column=1, end_line=4, end_column=27)
    cmp = rule.require
    assert isinstance(cmp, Binary)
    assert cmp.span == ast.Span(file="b.spec", line=4, column=11, end_line=4, end_column=27)
    assert cmp.right.span == ast.Span(file="b.spec", line=4, column=21, end_line=4, end_column=27)
    assert cmp.left.span == ast.Span(file="b.spec", line=4, column=11, end_line=4, end_column=17)


def test_every_node_has_a_span() -> None:
    spec, _ = parse(SAMPLE.read_text(), path="banking.spec")
    assert spec is not None
    seen = 0
    stack: list[object] = [*spec.items, *spec.includes]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
            continue
        if not hasattr(node, "__dataclass_fields__"):
            continue
        assert isinstance(node.span, ast.Span), node  # type: ignore[attr-defined]
        assert node.span.file == "banking.spec"  # type: ignore[attr-defined]
        seen += 1
        for name in node.__dataclass_fields__:  # type: ignore[attr-defined]
            if name != "span":
                stack.append(getattr(node, name))
    assert seen > 100


# ------------------------------------------------------------------------ comments


def test_comments_attach_to_items() -> None:
    text = (
        "# file comment\n"
        "spec t version 1  # on the header\n"
        "# about f\n"
        "tool f(a: int)  # trailing on f\n"
        "\n"
        "# about r\n"
        "rule r:\n"
        "  on f  # inside r\n"
        "  require a > 1\n"
        "# at the end\n"
    )
    spec, diags = parse(text)
    assert spec is not None, diags
    assert spec.comments == ("# file comment", "# on the header")
    assert spec.items[0].comments == ("# about f",)
    assert spec.items[0].end_comments == (("", "# trailing on f"),)
    # "" marks the blank line: r opens a new group
    assert spec.items[1].comments == ("", "# about r")
    assert spec.items[1].end_comments == (("on", "# inside r"),)
    assert spec.trailing_comments == ("# at the end",)


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "",
            ("GG104", 1, 1, "missing header: expected `spec NAME version N`, found an empty file"),
        ),
        ("rule r: on f require x", ("GG104", 1, 1, "found keyword `rule`")),
        ("spec t version three", ("GG104", 1, 16, "malformed header: expected an integer")),
        (HEADER + "rule r:\n  on f\n  require a < b < c\n", ("GG101", 4, 17, "unexpected `<`")),
        (HEADER + "const when = 1", ("GG101", 2, 7, "unexpected keyword `when`")),
        (
            HEADER + "rule r: on f when x",
            ("GG101", 2, 19, "unexpected end of the rule; expected `require`"),
        ),
        (HEADER + "const a = (1 +)", ("GG101", 2, 15, "unexpected `)`; expected an expression")),
        (HEADER + "const a = len(x where y)", ("GG101", 2, 17, "`where` is only allowed")),
        (HEADER + "const a = sum(f)", ("GG101", 2, 15, "`sum` aggregates a field")),
        (HEADER + "const a = count(f, g)", ("GG101", 2, 11, "takes one event pattern, got 2")),
        (HEADER + "const a = since(f within 1h, g)", ("GG101", 2, 19, "takes no `within`")),
        (HEADER + "const a = count(f within 3)", ("GG101", 2, 26, "expected a duration")),
        (HEADER + "fact f: map[str]", ("GG101", 2, 9, "unknown generic type `map[...]`")),
        (HEADER + 'rule r: on f require x\ninclude "a"', ("GG101", 3, 1, "`include` lines")),
        (HEADER + "spec u version 2", ("GG101", 2, 1, "the header must come first")),
        (HEADER + "const a = 1 @ 2", ("GG102", 2, 13, "unexpected character `@`")),
        (HEADER + 'const a = "abc\n', ("GG103", 2, 11, "unterminated string")),
        (HEADER + 'const a = "abc\\"\n', ("GG103", 2, 11, "unterminated string")),
        (HEADER + "const a = 12.", ("GG105", 2, 11, "malformed number or duration `12.`")),
        (HEADER + "const a = 0x1f", ("GG105", 2, 11, "malformed number or duration `0x1f`")),
        (HEADER + "const a = 1__0", ("GG105", 2, 11, "malformed number")),
        (HEADER + "const a = 500ms", ("GG105", 2, 11, "not a whole number of seconds")),
        (HEADER + 'const a = "x\\qy"', ("GG106", 2, 13, "invalid escape `\\q`")),
        (HEADER + 'const a = "\\u12"', ("GG106", 2, 12, "invalid escape `\\u`")),
    ],
)
def test_syntax_errors(text: str, expected: tuple[str, int, int, str]) -> None:
    found = errors(text)
    code, line, column, message = expected
    assert any((c, ln, col) == (code, line, column) and message in m for c, ln, col, m in found), (
        found
    )


def test_error_has_label_and_help() -> None:
    _, diags = parse(HEADER + "rule r: on f require a < b < c")
    d = diags[0]
    assert dict(d.data)["label"].startswith("expected")
    assert d.help == "comparisons do not chain: write `a < b and b < c`"


def test_recovery_reports_errors_of_independent_items() -> None:
    text = (
        HEADER
        + "rule a:\n  on f\n  require x <\n"
        + "tool g(x int)\n"
        + "rule b: on f require y\n"
        + "const c = 1 +\n"
        + 'const d = "ok"\n'
    )
    found = errors(text)
    assert [(c, ln, col) for c, ln, col, _ in found] == [
        ("GG101", 4, 13),  # rule a ends after `x <`
        ("GG101", 5, 10),  # `int` where `:` belongs
        ("GG101", 7, 13),  # const c ends after `1 +`
    ]


def test_error_cap() -> None:
    text = HEADER + "".join(f"const c{k} = )\n" for k in range(30))
    _, diags = parse(text)
    assert len(diags) == 21
    assert diags[-1].code == "GG107"
    assert "too many errors (30)" in diags[-1].message


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02",
        "spec",
        'spec t version 1\nconst a = "' + "\\" * 7,
        "spec t version 1\n" + "(" * 500,
        "spec t version 1\nconst a = " + "9" * 5000,
        "spec t version 1\nconst a = " + "9" * 900 + "." + "9" * 900,
        "spec t version 1\nrule\nrule\ntool\ntool tool",
        "spec t version 1\r\nconst a = 1\r\n",
    ],
)
def test_never_raises(text: str) -> None:
    spec, diags = parse(text)
    assert (spec is None) == bool(diags)


def test_byte_order_mark_is_skipped() -> None:
    spec, diags = parse("\ufeffspec t version 1\nconst a = @")
    assert spec is None
    assert [(d.code, d.span.line, d.span.column) for d in diags if d.span] == [("GG102", 2, 11)]
    spec, diags = parse("\ufeffspec t version 1\n")
    assert diags == () and spec is not None


def test_crlf_and_long_numbers_are_fine() -> None:
    spec, diags = parse("spec t version 1\r\nconst a = " + "9" * 900 + "\r\n")
    assert diags == () and spec is not None
    item = spec.items[0]
    assert isinstance(item, ast.ConstDecl) and item.value == i(int("9" * 900))
