"""Declarations from Python tools: functions, pydantic models, LangChain-like objects."""

from __future__ import annotations

import dataclasses
import enum
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Optional, TypedDict

import pytest
from pydantic import BaseModel

from guardgraph.errors import DeclarationError, GuardgraphError
from guardgraph.specs import ast, declarations_to_text, declare_tools, load_text

P = ast.Primitive


def prim(p: ast.Primitive) -> ast.PrimType:
    return ast.PrimType(name=p)


class Currency(enum.StrEnum):
    EUR = "EUR"
    USD = "USD"


class Address(BaseModel):
    street: str
    zip: str | None = None


class Transaction(BaseModel):
    recipient: str
    amount: float
    subject: str
    address: Address


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Meta(TypedDict, total=False):
    key: str


class Node(BaseModel):
    label: str
    children: list[Node] = []


def send_money(
    recipient: str,
    amount: float,
    currency: Currency,
    speed: Literal["fast", "slow"],
    note: Optional[str] = None,  # noqa: UP045 - the typing spelling is what we test
) -> None:
    """Pay someone."""


def recent_transactions(n: int) -> list[Transaction]:
    return []


def geometry(p: Point, m: Meta, hosts: set[str], xs: tuple[int, ...], d: Decimal) -> bool:
    return True


def test_function_parameters_map_to_spec_types() -> None:
    decls = declare_tools([send_money])
    (tool,) = decls.tools
    assert tool.name == "send_money" and tool.returns is None
    assert [(p.name, p.type) for p in tool.params] == [
        ("recipient", prim(P.STR)),
        ("amount", prim(P.REAL)),
        ("currency", ast.NamedType(name="Currency")),
        ("speed", ast.NamedType(name="SendMoneySpeed")),
        ("note", ast.OptionalType(inner=prim(P.STR))),
    ]
    assert decls.enums == (
        ast.EnumDecl(name="Currency", values=("EUR", "USD")),
        ast.EnumDecl(name="SendMoneySpeed", values=("fast", "slow")),
    )


def test_collections_dataclasses_typeddicts_and_returns() -> None:
    (tool,) = declare_tools([geometry]).tools
    types = {p.name: p.type for p in tool.params}
    assert types["hosts"] == ast.SetType(element=prim(P.STR))
    assert types["xs"] == ast.ListType(element=prim(P.INT))
    assert types["d"] == prim(P.REAL)
    assert tool.returns == prim(P.BOOL)
    records = {r.name: r for r in declare_tools([geometry]).records}
    assert [(f.name, f.type) for f in records["Point"].fields] == [
        ("x", prim(P.INT)),
        ("y", ast.OptionalType(inner=prim(P.INT))),
    ]
    assert records["Meta"].fields == (
        ast.Field(name="key", type=ast.OptionalType(inner=prim(P.STR))),
    )


def test_nested_pydantic_models_become_records() -> None:
    decls = declare_tools([recent_transactions], untrusted={"recent_transactions": ["subject"]})
    (tool,) = decls.tools
    assert tool.returns == ast.ListType(element=ast.NamedType(name="Transaction"))
    assert tool.untrusted and tool.untrusted_fields == ("subject",)
    assert [r.name for r in decls.records] == ["Address", "Transaction"]


def test_recursive_model() -> None:
    def tree(root: Node) -> None: ...

    decls = declare_tools([tree])
    (node,) = decls.records
    assert node.fields[1].type == ast.OptionalType(
        inner=ast.ListType(element=ast.NamedType(name="Node"))
    )


def test_pydantic_model_as_a_tool_keeps_its_class_name() -> None:
    class GetWeather(BaseModel):
        city: str
        days: int = 1

    (tool,) = declare_tools([GetWeather]).tools
    assert tool.name == "GetWeather"
    assert [p.type for p in tool.params] == [
        prim(P.STR),
        ast.OptionalType(inner=prim(P.INT)),
    ]


def test_langchain_like_tool_objects_are_duck_typed() -> None:
    class SearchArgs(BaseModel):
        query: Annotated[str, "what to look for"]
        limit: int = 5

    def run(query: str, limit: int = 5) -> str:
        return query

    class FakeTool:  # what langchain_core.tools.StructuredTool looks like from outside
        name = "web_search"
        args_schema = SearchArgs
        func = staticmethod(run)

    (tool,) = declare_tools([FakeTool()], untrusted={"web_search": True}).tools
    assert tool.name == "web_search"
    assert tool.returns == prim(P.STR) and tool.untrusted and tool.untrusted_fields == ()
    assert [p.name for p in tool.params] == ["query", "limit"]


def test_sensitive_parameters() -> None:
    (tool,) = declare_tools([send_money], sensitive={"send_money": ["recipient"]}).tools
    assert [p.name for p in tool.params if p.sensitive] == ["recipient"]


def test_declarations_render_and_load_as_a_spec() -> None:
    decls = declare_tools(
        [send_money, recent_transactions],
        untrusted={"recent_transactions": ["subject"]},
        sensitive={"send_money": ["recipient"]},
    )
    text = declarations_to_text(decls, name="tools", version=2)
    assert text.splitlines() == [
        "spec tools version 2",
        "",
        "type Address = {street: str, zip: str?}",
        "type Transaction = {recipient: str, amount: real, subject: str, address: Address}",
        "",
        'enum Currency = "EUR" | "USD"',
        'enum SendMoneySpeed = "fast" | "slow"',
        "",
        "tool send_money(",
        "  recipient: str sensitive,",
        "  amount: real,",
        "  currency: Currency,",
        "  speed: SendMoneySpeed,",
        "  note: str?,",
        ")",
        "",
        "tool recent_transactions(n: int) -> list[Transaction] untrusted(subject)",
    ]
    body = declarations_to_text(decls)
    assert body == text.split("\n\n", 1)[1] and not body.startswith("spec ")
    loaded = load_text(text + '\nrule r: on send_money require speed == "fast" or amount < 10\n')
    assert loaded.ok, loaded.diagnostics
    assert loaded.spec is not None
    assert loaded.spec.tools == decls.tools


def test_extra_tools_replace_hand_written_declarations() -> None:
    decls = declare_tools([send_money])
    spec_text = 'spec p version 1\nrule r: on send_money require currency != "USD"\n'
    result = load_text(spec_text, extra_tools=decls)
    assert result.ok, result.diagnostics
    wrong = load_text('spec p version 1\nrule r: on send_money require currency != "YEN"\n',
                      extra_tools=decls)
    assert [d.code for d in wrong.diagnostics] == ["GG203"]
    only_tools = load_text("spec p version 1\nrule r: on recent_transactions require n < 9\n",
                           extra_tools=declare_tools([recent_transactions]).tools)
    # without its records the tool's return type is unknown: GG208 names it
    assert [d.code for d in only_tools.diagnostics] == ["GG208"]


@pytest.mark.parametrize(
    ("tools", "kwargs", "message"),
    [
        ([lambda x: x], {}, "'<lambda>' is not a spec identifier"),
        ("send_money", {}, "expected a sequence of tools"),
        ([42], {}, "expected a function, a pydantic model class or a tool object"),
    ],
)
def test_bad_input_raises_declaration_error(
    tools: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeclarationError, match=message):
        declare_tools(tools, **kwargs)


def _f_dict(payload: dict[str, int]) -> None: ...
def _f_union(v: int | str) -> None: ...
def _f_int_literal(level: Literal[1, 2]) -> None: ...
def _f_kwargs(**kw: int) -> None: ...
def _f_bare(x) -> None: ...  # type: ignore[no-untyped-def]
def _f_nested_optional(xs: list[int | None]) -> None: ...
def _f_keyword(type: str) -> None: ...
def _f_tuple(pair: tuple[int, str]) -> None: ...
def _f_bare_list(xs: list) -> None: ...  # type: ignore[type-arg]


class _IntEnum(enum.Enum):
    ONE = 1


def _f_int_enum(v: _IntEnum) -> None: ...


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (_f_union, r"`_f_union\(v\)`: unsupported type int \| str"),
        (_f_int_literal, r"only string literals"),
        (_f_kwargs, r"\*args and \*\*kwargs"),
        (_f_bare, r"`_f_bare\(x\)`: the parameter has no type annotation"),
        (_f_nested_optional, r"only supported for a whole parameter"),
        (_f_tuple, r"tuple\[X, \.\.\.\]"),
        (_f_bare_list, r"needs an element type"),
        (_f_int_enum, r"must have str values"),
    ],
)
def test_unsupported_annotations_name_the_parameter(func: Any, message: str) -> None:
    with pytest.raises(DeclarationError, match=message) as info:
        declare_tools([func])
    assert isinstance(info.value, GuardgraphError)


def test_untrusted_and_sensitive_are_validated() -> None:
    with pytest.raises(DeclarationError, match="not among the tools"):
        declare_tools([send_money], untrusted={"nope": True})
    with pytest.raises(DeclarationError, match="declares no return type"):
        declare_tools([send_money], untrusted={"send_money": True})
    with pytest.raises(DeclarationError, match="not a parameter of `send_money`"):
        declare_tools([send_money], sensitive={"send_money": ["pin"]})
    with pytest.raises(DeclarationError, match=r"got str \(write \['subject'\]\)"):
        declare_tools([recent_transactions], untrusted={"recent_transactions": "subject"})
    with pytest.raises(DeclarationError, match=r"sensitive\['send_money'\]: expected a list of "
                       r"parameter names, got str \(write \['recipient'\]\)"):
        declare_tools([send_money], sensitive={"send_money": "recipient"})
    with pytest.raises(DeclarationError, match="sensitive: expected a mapping"):
        declare_tools([send_money], sensitive=["recipient"])  # type: ignore[arg-type]


def test_same_tool_twice_and_name_clashes() -> None:
    with pytest.raises(DeclarationError, match="given twice"):
        declare_tools([send_money, send_money])

    def make(name: str) -> type[BaseModel]:
        return type("Transaction", (BaseModel,), {"__annotations__": {name: int}})

    other = make("x")

    def uses_other(t: object) -> None: ...

    uses_other.__annotations__ = {"t": other, "return": None}

    with pytest.raises(DeclarationError, match="two different classes are both named Transaction"):
        declare_tools([recent_transactions, uses_other])


def test_langchain_like_with_a_json_schema_is_rejected() -> None:
    class DictTool:
        name = "t"
        args_schema: ClassVar[dict[str, str]] = {"type": "object"}

    with pytest.raises(DeclarationError, match="expected a pydantic model as args_schema"):
        declare_tools([DictTool()])


def test_opaque_returns_declare_no_return_type() -> None:
    def f() -> dict[str, Any]: ...
    def g() -> Any: ...
    def h(): ...  # type: ignore[no-untyped-def]

    assert all(t.returns is None for t in declare_tools([f, g, h]).tools)


def test_keyword_and_opaque_parameters_and_context_names() -> None:
    def publish(version: int, type: str, payload: dict[str, int], extra: Any) -> None: ...

    (tool,) = declare_tools([publish]).tools
    assert [(p.name, p.type) for p in tool.params] == [
        ("version", prim(P.INT)), ("type", prim(P.STR)), ("payload", prim(P.JSON)),
        ("extra", prim(P.JSON))]
    text = declarations_to_text(declare_tools([publish]), name="pub")
    assert load_text(text + "rule r:\n  on publish\n  require version > 1 and args.type != \"x\"\n"
                     ).spec is not None

    def assign(agent: str, ticket: str) -> None: ...

    with pytest.raises(DeclarationError, match="named like the context name `agent`"):
        declare_tools([assign])


def test_langchain_tool_keeps_its_return_type_sync_and_async() -> None:
    from langchain_core.tools import tool

    @tool
    def balance(account: str) -> float:
        """The balance."""
        return 1.0

    @tool
    async def abalance(account: str) -> float:
        """The balance, asynchronously."""
        return 1.0

    returns = [t.returns for t in declare_tools([balance, abalance]).tools]
    assert returns == [prim(P.REAL), prim(P.REAL)]
