"""The type checker: every GG2xx diagnostic, scoping, promotion, every construct in one spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardgraph.specs import ast, check_spec, load_file, load_text, type_of
from guardgraph.specs.diagnostics import Diagnostic

DATA = Path(__file__).parent / "data"

PRELUDE = """spec t version 1
type Tx = {recipient: str, amount: real, memo: str?}
enum Currency = "EUR" | "USD"
tool send_money(recipient: str, amount: real, currency: Currency, note: str?)
tool transfer(recipient: str, amount: int, urgent: bool)
tool pay_batch(items: list[Tx], hosts: set[str])
tool get_balance() -> real
tool ping()
tool verify_identity(method: str)
fact trusted: set[str]
const cap = 5000
"""


def errors(body: str) -> list[Diagnostic]:
    result = load_text(PRELUDE + body, path="t.spec")
    assert not result.ok
    return list(result.errors)


def only(body: str) -> Diagnostic:
    diags = errors(body)
    assert len(diags) == 1, [(d.code, d.message) for d in diags]
    return diags[0]


def ok(body: str) -> ast.Spec:
    result = load_text(PRELUDE + body, path="t.spec")
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    assert result.spec is not None
    return result.spec


def test_full_spec_uses_every_construct_and_checks() -> None:
    result = load_file(DATA / "checker_full.spec")
    assert result.diagnostics == ()
    spec = result.spec
    assert spec is not None
    assert spec.name == "full" and spec.version == 2
    assert len(spec.rules) == 13
    assert spec.tool("send_money") is not None and spec.const("cap") is not None
    assert spec.enum("Currency") is not None and spec.record("Transaction") is not None


@pytest.mark.parametrize(
    ("body", "code", "message", "help"),
    [
        # GG201 unknown name, with did-you-mean from the names in scope
        ("rule r: on send_money require amonut > 0", "GG201", "unknown name `amonut`",
         "did you mean `amount`?"),
        ("rule r: on send_money require capp > 0", "GG201", "`capp`", "`cap`"),
        ("rule r: on send_money require ping", "GG201", "unknown name `ping`", "once(ping)"),
        ("rule r: on send_money require lenn(recipient) > 0", "GG201", "unknown function `lenn`",
         "`len`"),
        # GG202 unknown tool: target, pattern, result(), tool == "..."
        ("rule r: on send_mony require true", "GG202", "unknown tool `send_mony`",
         "`send_money`"),
        ("rule r: on ping require once(verify_identty)", "GG202", "`verify_identty`",
         "`verify_identity`"),
        ("rule r: on ping require result(get_balanse) > 0", "GG202", "`get_balanse`",
         "`get_balance`"),
        ('rule r: on any require tool != "transfr"', "GG202", '"transfr"', '"transfer"'),
        # GG203 type mismatch
        ('rule r: on send_money require amount <= "5"', "GG203", "expected real, got str", None),
        ("rule r: on send_money require amount", "GG203", "expected bool, got real", None),
        ("rule r: on send_money when amount require true", "GG203", "expected bool, got real",
         None),
        ('rule r: on send_money require currency == "YEN"', "GG203",
         '"YEN" is not a value of enum Currency', None),
        ('rule r: on send_money require currency == "EURO"', "GG203", "enum Currency",
         'did you mean "EUR"?'),
        ("rule r: on send_money require recipient in cap", "GG203",
         "needs a set or list on the right", None),
        ("rule r: on send_money require amount in trusted", "GG203",
         "expected str, got real", None),
        ("rule r: on send_money require amount % 2 == 0", "GG203", "expected int, got real",
         None),
        ("rule r: on send_money require sum(send_money.recipient) > 0", "GG203",
         "expected int or real, got str", None),
        ("rule r: on send_money require present(amount)", "GG203", "optional argument", None),
        ("rule r: on send_money require tainted(cap)", "GG203", "not an argument", None),
        ("rule r: on send_money require matches(recipient, recipient)", "GG203",
         "regex literal", None),
        ("rule r: on ping require result(ping)", "GG203", "declares no return type", None),
        ("rule r: on send_money require forall x in amount: x > 0", "GG203",
         "ranges over a list or set", None),
        ('rule r: on send_money require [1, "a"] == [1]', "GG203", "share one type", None),
        ("rule r: on send_money, transfer require amount > 0", "GG203",
         "real in `send_money`, int in `transfer`", None),
        # GG204 arity
        ("rule r: on send_money require len(recipient, recipient) > 0", "GG204",
         "`len` takes 1 argument, got 2", None),
        ('rule r: on send_money require startswith(recipient)', "GG204",
         "`startswith` takes 2 arguments, got 1", None),
        # GG207 unknown field
        ("rule r: on pay_batch require forall t in items: t.amont > 0", "GG207",
         "record Tx has no field `amont`", "`amount`"),
        ('rule r: on send_money require task.kinds == "x"', "GG207", "`task` has no field",
         "`kind`"),
        ("rule r: on send_money require sum(send_money.amt) > 0", "GG207",
         "no argument `amt`", "`amount`"),
        ("rule r: on send_money require args.amout > 0", "GG207", "no argument `amout`",
         "`amount`"),
        ("rule r: on send_money require amount.x > 0", "GG207", "type real has no field", None),
        # GG209 out of scope
        ('rule r: on send_money require target == "x"', "GG209", "`target`", None),
        ("rule r: on send_money require count(send_money where amount > cap) < 3 and "
         "count(transfer where amount > 1) < 2 and count(transfer where urgent and "
         "recipient == recipient) < 1", None, None, None),
        ("rule r: on ping require count(send_money where agent == \"a\") < 1", "GG209",
         "context name `agent`", None),
        ("rule r: on ping require count(send_money where recipient in trusted) < 1", "GG209",
         "fact `trusted`", None),
        ("rule r: on send_money require count(transfer where amount > 0 and "
         'currency == "EUR") < 1', "GG209", "the current action's argument `currency`", None),
        ("rule r: on any require amount > 0", "GG209", "`on any` rule", None),
        ("rule r: on route require amount > 0", "GG209", "`on route` rule", None),
        ("rule r: on send_money, pay_batch require amount > 0", "GG209",
         "argument `amount` is not a parameter of `pay_batch`", None),
        ("rule r: on pay_batch require forall t in items: count(send_money where "
         "amount > t.amount) < 1", "GG209", "quantifier variable `t`", None),
        ('rule r: on send_money require "x" in recipient', "GG203", "needs a set or list",
         "contains(s, part)"),
        ("rule r: on ping require count(send_money where once(ping)) < 1", "GG209",
         "nested inside `where`", None),
        ("rule r: on ping require count(send_money where tainted(recipient)) < 1", "GG209",
         "`tainted(...)` is not in scope inside `where`", None),
        # GG210 bad regex
        ('rule r: on send_money require matches(recipient, "^GB.*")', "GG210", "anchor", None),
        ('rule r: on send_money require matches(recipient, "(?=x)a")', "GG210", "`(?`", None),
        ('rule r: on send_money require matches(recipient, "a(b")', "GG210", "missing )", None),
        ('rule r: on send_money require matches(recipient, "\\\\bx")', "GG210", "escape", None),
        # GG211 bad repair
        ("rule r: on send_money require amount < 5 repair recipient", "GG211",
         "cannot repair `recipient`: it is a str", None),
        ("rule r: on send_money require amount < 5 repair amout", "GG211",
         "not an argument of `send_money`", "`amount`"),
        ('rule r: on send_money require amount < 5 else escalate "x" repair amount', "GG211",
         "only applies to deny rules", None),
        ("rule r: on any require true repair amount", "GG211", "`on any` rule has none", None),
        # GG215 duration outside within
        ("rule r: on send_money require amount < 24h", "GG215", "outside a `within` window",
         None),
    ],
)
def test_rule_diagnostics(
    body: str, code: str | None, message: str | None, help: str | None
) -> None:
    if code is None:
        ok(body)
        return
    diag = only(body)
    assert diag.code == code, diag
    assert message is not None and message in diag.message
    if help is not None:
        assert diag.help is not None and help in diag.help
    assert diag.span is not None and diag.span.file == "t.spec"


def test_type_mismatch_message_names_both_types() -> None:
    diag = only('rule r: on send_money require amount + "x" > 0')
    assert diag.code == "GG203"
    assert "expected real, got str" in diag.message


def test_caret_points_at_the_offending_subexpression() -> None:
    diag = only("rule r: on send_money require amount > 0 and amonut < 9")
    assert diag.span is not None
    assert diag.span.line == PRELUDE.count("\n") + 1
    assert diag.span.column == len("rule r: on send_money require amount > 0 and ") + 1


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("rule r: on ping require true\nrule r: on ping require false", "GG205",
         "rule `r` is defined twice"),
        ("fact cap: int", "GG206", "`cap` is declared twice"),
        ("tool ping()", "GG206", "`ping` is declared twice"),
        ('enum E = "a" | "a"', "GG206", "value of enum E"),
        ("tool f(x: Tx2)", "GG208", "unknown type `Tx2`"),
        ("fact f: str?", "GG208", "optional type"),
        ("type R = {a: Nope}", "GG208", "unknown type `Nope`"),
        ("tool f(x: int, x: str)", "GG212", "`x` is declared twice as a parameter"),
        ("type R = {a: int, a: int}", "GG212", "field of record R"),
        ("tool f() -> list[Tx] untrusted(subject)", "GG213", "`subject` is not a field of Tx"),
        ("tool f() -> str untrusted(subject)", "GG213", "has output str"),
        ("const c = cap", "GG214", "const `c` must be a literal"),
        ("const c = {1, cap}", "GG214", "const `c`"),
        ("const c = 1 + 2", "GG214", "const `c`"),
        ("const d = 24h", "GG215", "outside a `within` window"),
        ("rule r: on route, ping require true", "GG216", "`route` cannot be combined"),
        ("rule r: on send_money, any require true", "GG216", "`any` cannot be combined"),
    ],
)
def test_declaration_diagnostics(body: str, code: str, message: str) -> None:
    diag = only(body)
    assert diag.code == code, diag
    assert message in diag.message


def test_duplicates_point_at_the_first() -> None:
    diag = only("rule r: on ping require true\nrule r: on ping require false")
    assert diag.notes == (f"first defined at t.spec:{PRELUDE.count(chr(10)) + 1}:6",)
    decl = only("fact cap: int")
    assert decl.notes == ("first declared at t.spec:11:7",)


def test_scoping_rules() -> None:
    # route rules see `target`; any rules see context, consts and facts
    ok('rule r: on route when "pii" in task.labels require target in {"a", "b"}')
    ok('rule r: on any require agent != "x" and cap > 0 and "a" not in trusted')
    # quantifier variables shadow arguments; args.x is the argument itself
    ok("rule r: on send_money require forall amount in [1, 2]: amount > args.amount - 10")
    # `where` sees the past call's arguments and consts
    ok("rule r: on ping require count(send_money where amount > cap and currency == \"EUR\") < 2")
    # shared arguments of several targets with one type
    ok("rule r: on send_money, transfer require len(recipient) > 0")
    # facts shadow nothing in where; a fact named like an argument is still the argument
    ok("rule r: on transfer require urgent implies approved")


def test_int_promotes_to_real() -> None:
    spec = ok(
        "rule r: on send_money require amount <= cap and amount + 1 > 0 and amount != 3 "
        "and amount in [1, 2.5]\n"
        "rule s: on transfer require amount * 2 <= 10 and amount / 2 < 3.5 and amount % 3 == 1"
    )
    rule = spec.rule("r")
    assert rule is not None
    expr = ast.Binary(op=ast.BinOp.ADD, left=ast.Name(id="amount"), right=ast.IntLit(value=1))
    assert type_of(expr, spec=spec, rule=rule) == ast.PrimType(name=ast.Primitive.REAL)
    s = spec.rule("s")
    assert s is not None
    assert type_of(expr, spec=spec, rule=s) == ast.PrimType(name=ast.Primitive.INT)
    div = ast.Binary(op=ast.BinOp.DIV, left=ast.Name(id="amount"), right=ast.IntLit(value=2))
    assert type_of(div, spec=spec, rule=s) == ast.PrimType(name=ast.Primitive.REAL)


def test_type_of_reports_collections_records_and_unknowns() -> None:
    spec = ok("")
    labels = ast.Attribute(value=ast.Name(id="task"), attr="labels")
    assert type_of(labels, spec=spec) == ast.SetType(element=ast.PrimType(name=ast.Primitive.STR))
    res = ast.Call(func="result", args=(ast.Name(id="get_balance"),))
    assert type_of(res, spec=spec) == ast.PrimType(name=ast.Primitive.REAL)
    assert type_of(ast.Name(id="nope"), spec=spec) is None
    past = ast.EventPattern(tool="transfer")
    amount = ast.Name(id="amount")
    assert type_of(amount, spec=spec, pattern=past) == ast.PrimType(name=ast.Primitive.INT)
    note = ast.Name(id="note")
    assert type_of(note, spec=spec, pattern=ast.EventPattern(tool="send_money")) == ast.PrimType(
        name=ast.Primitive.STR
    )


def test_errors_are_collected_not_just_the_first() -> None:
    diags = errors(
        "rule a: on send_money require amonut > 0\n"
        "rule b: on nope require true\n"
        'rule c: on send_money require amount == "x"\n'
    )
    assert [d.code for d in diags] == ["GG201", "GG202", "GG203"]


def test_error_cap_gives_gg107() -> None:
    body = "\n".join(f"rule r{i}: on send_money require x{i} > 0" for i in range(80))
    diags = errors(body)
    assert [d.code for d in diags].count("GG201") == 50
    assert diags[-1].code == "GG107"


@pytest.mark.parametrize("n", [3000])
def test_long_generated_chains_check(n: int) -> None:
    alternatives = " or ".join(f"amount == {i}" for i in range(n))
    ok(f"rule r: on transfer require {alternatives}")
    total = " + ".join("amount" for _ in range(n))
    assert only(f'rule r: on transfer require {total} > "x"').code == "GG203"


def test_pathologically_deep_expression_is_gg217() -> None:
    deep = " implies ".join("approved" for _ in range(3000))
    diag = only(f"rule deep: on ping require {deep}")
    assert diag.code == "GG217" and "`deep`" in diag.message


def test_one_mistake_one_diagnostic() -> None:
    # the unknown name makes the comparison's operand unknown, which must stay quiet
    diag = only("rule r: on send_money require ((-nope + 1) * 2 > amount) implies true")
    assert diag.code == "GG201"


def test_unknown_target_does_not_cascade_into_argument_errors() -> None:
    assert only("rule r: on send_money, nope require amount > 0").code == "GG202"


def test_extra_tools_from_python_merge_with_the_spec() -> None:
    extra = ast.ToolDecl(
        name="lookup", params=(ast.Param(name="q", type=ast.PrimType(name=ast.Primitive.STR)),)
    )
    result = load_text(PRELUDE + "rule r: on lookup require len(q) < 10", extra_tools=[extra])
    assert result.ok and result.spec is not None and result.spec.tool("lookup") == extra
    # pasted declaration equal to the Python one: accepted; a different one: GG206
    same = load_text(PRELUDE + "tool lookup(q: str)", extra_tools=[extra])
    assert same.ok
    clash = load_text(PRELUDE + "tool lookup(q: int)", extra_tools=[extra])
    assert [d.code for d in clash.errors] == ["GG206"]
    assert clash.errors[0].notes == ("first declared at declared from Python",)


def test_check_spec_never_raises_on_odd_asts() -> None:
    odd = ast.SpecFile(
        name="odd",
        version=1,
        items=(
            ast.ToolDecl(name="t", params=(), untrusted=True, untrusted_fields=("x",)),
            ast.Rule(name="r", targets=(), require=ast.Name(id="args")),
            ast.Rule(
                name="s",
                targets=("t",),
                require=ast.Aggregate(
                    func=ast.AggregateFunc.SUM, pattern=ast.EventPattern(tool=None)
                ),
            ),
            ast.Rule(
                name="u",
                targets=("t",),
                require=ast.Aggregate(
                    func=ast.AggregateFunc.COUNT,
                    pattern=ast.EventPattern(tool="t"),
                    field="x",
                    window=ast.DurationLit(seconds=0),
                ),
            ),
        ),
    )
    spec, diags = check_spec([odd], content_hash="h")
    assert spec is None
    assert {d.code for d in diags} >= {"GG213", "GG203", "GG204", "GG215"}
    with pytest.raises(ValueError, match="root"):
        check_spec([], content_hash="h")


@pytest.mark.parametrize("special", ["route", "any"])
def test_route_and_any_cannot_be_mixed_with_tools(special: str) -> None:
    rule = ast.Rule(name="r", targets=("ping", special), require=ast.BoolLit(value=True))
    tool = ast.ToolDecl(name="ping", params=())
    spec, diags = check_spec(
        [ast.SpecFile(name="s", version=1, items=(tool, rule))], content_hash="h"
    )
    assert spec is None
    assert [(d.code, d.message) for d in diags] == [
        ("GG216", f"`{special}` cannot be combined with other targets")
    ]


def test_spec_records_merge_and_hash() -> None:
    spec, diags = check_spec(
        [
            ast.SpecFile(name="root", version=4, items=(ast.FactDecl(
                name="f", type=ast.PrimType(name=ast.Primitive.BOOL)),)),
            ast.SpecFile(name="inc", version=9, items=(ast.Rule(
                name="r", targets=("any",), require=ast.Name(id="f")),)),
        ],
        content_hash="abc",
    )
    assert diags == ()
    assert spec is not None
    assert (spec.name, spec.version, spec.content_hash) == ("root", 4, "abc")
    assert [r.name for r in spec.rules] == ["r"] and len(spec.files) == 2
