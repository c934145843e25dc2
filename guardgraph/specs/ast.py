"""The typed syntax tree of the spec language: frozen values, nothing else.

Every node is a frozen, slotted, keyword-only dataclass. Source positions (`span`) and
comments are excluded from equality, so ``parse(format(s)) == parse(s)`` compares meaning,
not layout. The language reference is ``docs/language.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "BINARY_PRECEDENCE",
    "Aggregate",
    "AggregateFunc",
    "Attribute",
    "BinOp",
    "Binary",
    "BoolLit",
    "Call",
    "ConstDecl",
    "Decision",
    "Decl",
    "DurationLit",
    "EnumDecl",
    "EventPattern",
    "Expr",
    "FactDecl",
    "Field",
    "Include",
    "IntLit",
    "ListLit",
    "ListType",
    "Name",
    "NamedType",
    "OptionalType",
    "Param",
    "PrimType",
    "Primitive",
    "Quantifier",
    "QuantifierKind",
    "RealLit",
    "RecordDecl",
    "Rule",
    "SetLit",
    "SetType",
    "Since",
    "Span",
    "Spec",
    "SpecFile",
    "StrLit",
    "Temporal",
    "TemporalOp",
    "ToolDecl",
    "TypeExpr",
    "UnOp",
    "Unary",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """A region of one source file; lines and columns are 1-based, ends exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int



# --------------------------------------------------------------------------- types


class Primitive(StrEnum):
    INT = "int"
    REAL = "real"
    BOOL = "bool"
    STR = "str"
    # Any JSON value the spec does not look into (a tool's free-form `options` argument):
    # rules may ask only whether it is present or where it came from.
    JSON = "json"


@dataclass(frozen=True, slots=True, kw_only=True)
class PrimType:
    name: Primitive
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListType:
    element: TypeExpr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetType:
    element: TypeExpr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionalType:
    """``T?``: the argument may be absent; ``present(x)`` tells."""

    inner: TypeExpr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedType:
    """A reference to a declared record (``type``) or ``enum``."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


TypeExpr = PrimType | ListType | SetType | OptionalType | NamedType


# --------------------------------------------------------------------------- expressions


class UnOp(StrEnum):
    NEG = "-"
    NOT = "not"


class BinOp(StrEnum):
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    AND = "and"
    OR = "or"
    IMPLIES = "implies"


# Precedence as data: higher binds tighter. `implies` is right-associative, comparisons
# do not chain, everything else is left-associative. `not` sits between `and` and the
# comparisons (precedence 4); unary minus above `*` (precedence 8).
BINARY_PRECEDENCE: dict[BinOp, int] = {
    BinOp.IMPLIES: 1,
    BinOp.OR: 2,
    BinOp.AND: 3,
    BinOp.EQ: 5,
    BinOp.NE: 5,
    BinOp.LT: 5,
    BinOp.LE: 5,
    BinOp.GT: 5,
    BinOp.GE: 5,
    BinOp.IN: 5,
    BinOp.NOT_IN: 5,
    BinOp.ADD: 6,
    BinOp.SUB: 6,
    BinOp.MUL: 7,
    BinOp.DIV: 7,
    BinOp.MOD: 7,
}
NOT_PRECEDENCE = 4
NEG_PRECEDENCE = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class IntLit:
    value: int
    text: str = field(default="", compare=False)  # source spelling, e.g. 1_000
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RealLit:
    """A decimal literal, kept exact (``0.1`` is one tenth, as in Z3)."""

    value: Fraction
    text: str = field(default="", compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class StrLit:
    value: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class BoolLit:
    value: bool
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationLit:
    """``24h``, ``30m``, ``7d``, ``10s``, ``1w``; only valid as a ``within`` window."""

    seconds: int
    text: str = field(default="", compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Name:
    """A bare identifier: argument, fact, const, context variable, quantifier variable."""

    id: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribute:
    """``value.attr``: record field, ``args.x``, ``task.labels``, ``session.user``."""

    value: Expr
    attr: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary:
    op: UnOp
    operand: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Binary:
    op: BinOp
    left: Expr
    right: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetLit:
    items: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """A built-in function: startswith, endswith, contains, matches, len, present,
    tainted, from_user, source, result. (Aggregates and temporal operators have nodes
    of their own.)"""

    func: str
    args: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


class QuantifierKind(StrEnum):
    FORALL = "forall"
    EXISTS = "exists"


@dataclass(frozen=True, slots=True, kw_only=True)
class Quantifier:
    """``forall x in xs: body`` / ``exists x in xs: body`` over a list or set argument."""

    kind: QuantifierKind
    var: str
    domain: Expr
    body: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPattern:
    """Which past events an aggregate or temporal operator looks at.

    ``tool`` is a tool name, or None for ``any`` event. Inside ``where``, bare names are
    the past call's arguments (plus consts and literals); the current action's arguments
    are out of scope there, which is what keeps the monitor incremental.
    """

    tool: str | None
    where: Expr | None = None
    negated: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


class AggregateFunc(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregate:
    """``count(send_money where amount > 100 within 24h)``,
    ``sum(send_money.amount within 24h)``. ``field`` is None only for ``count``."""

    func: AggregateFunc
    pattern: EventPattern
    field: str | None = None
    window: DurationLit | None = None
    # `field` above shadows dataclasses.field inside this class body.
    span: Span | None = dataclasses.field(default=None, compare=False, repr=False)


class TemporalOp(StrEnum):
    ONCE = "once"
    HISTORICALLY = "historically"
    PREVIOUSLY = "previously"


@dataclass(frozen=True, slots=True, kw_only=True)
class Temporal:
    """Past-time operators over the session's executed calls.

    ``once(p)``: some earlier event matched (within the window, if one is given);
    ``historically(p)``: every earlier event matched (true on an empty history);
    ``previously(p)``: the event just before this action matched (false on empty).
    """

    op: TemporalOp
    pattern: EventPattern
    window: DurationLit | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Since:
    """``since(p, q)``: some earlier event matched q, and every event after the latest
    such one matched p."""

    held: EventPattern
    anchor: EventPattern
    span: Span | None = field(default=None, compare=False, repr=False)


Expr = (
    IntLit
    | RealLit
    | StrLit
    | BoolLit
    | DurationLit
    | Name
    | Attribute
    | Unary
    | Binary
    | SetLit
    | ListLit
    | Call
    | Quantifier
    | Aggregate
    | Temporal
    | Since
)


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    name: str
    type: TypeExpr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordDecl:
    """``type Transaction = {recipient: str, amount: real}``."""

    name: str
    fields: tuple[Field, ...]
    comments: tuple[str, ...] = field(default=(), compare=False)
    # End-of-line comments by clause (`require`, `else`, ...; "" for a declaration)
    end_comments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnumDecl:
    """``enum Currency = "EUR" | "USD"``; values are strings at run time."""

    name: str
    values: tuple[str, ...]
    comments: tuple[str, ...] = field(default=(), compare=False)
    # End-of-line comments by clause (`require`, `else`, ...; "" for a declaration)
    end_comments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    name: str
    type: TypeExpr
    sensitive: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolDecl:
    """``tool read_file(path: str) -> str untrusted``.

    ``untrusted`` with empty ``untrusted_fields`` marks the whole output; with fields,
    only those fields of the (record or list-of-record) output.
    """

    name: str
    params: tuple[Param, ...]
    returns: TypeExpr | None = None
    untrusted: bool = False
    untrusted_fields: tuple[str, ...] = ()
    comments: tuple[str, ...] = field(default=(), compare=False)
    # End-of-line comments by clause (`require`, `else`, ...; "" for a declaration)
    end_comments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class FactDecl:
    """``fact trusted_payees: set[str]``: supplied by the host at run time."""

    name: str
    type: TypeExpr
    comments: tuple[str, ...] = field(default=(), compare=False)
    # End-of-line comments by clause (`require`, `else`, ...; "" for a declaration)
    end_comments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConstDecl:
    """``const cap = 5000``; the value is a literal or a set/list of literals."""

    name: str
    value: Expr
    comments: tuple[str, ...] = field(default=(), compare=False)
    # End-of-line comments by clause (`require`, `else`, ...; "" for a declaration)
    end_comments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    ESCALATE = "escalate"
    WARN = "warn"
    REPAIR = "repair"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule. ``targets`` holds tool names, or exactly ``("route",)`` / ``("any",)``.

    When the rule applies (its target matches and ``when`` holds) and ``require`` does
    not hold, the rule fires with ``otherwise`` (deny unless stated). ``repair`` names
    the arguments the guard may change to satisfy it.
    """

    name: str
    targets: tuple[str, ...]
    require: Expr
    when: Expr | None = None
    otherwise: Decision = Decision.DENY
    message: str | None = None
    repair: tuple[str, ...] = ()
    comments: tuple[str, ...] = field(default=(), compare=False)
    # End-of-line comments by clause (`require`, `else`, ...; "" for a declaration)
    end_comments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def on_route(self) -> bool:
        return self.targets == ("route",)

    @property
    def on_any(self) -> bool:
        return self.targets == ("any",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Include:
    path: str
    comments: tuple[str, ...] = field(default=(), compare=False)
    # End-of-line comments by clause (`require`, `else`, ...; "" for a declaration)
    end_comments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


Decl = RecordDecl | EnumDecl | ToolDecl | FactDecl | ConstDecl | Rule


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecFile:
    """One parsed file, in source order, before includes are resolved."""

    name: str
    version: int
    includes: tuple[Include, ...] = ()
    items: tuple[Decl, ...] = ()
    comments: tuple[str, ...] = field(default=(), compare=False)
    trailing_comments: tuple[str, ...] = field(default=(), compare=False)
    path: str = field(default="<string>", compare=False)
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A loaded, type-checked policy: the root file plus everything it includes.

    ``content_hash`` is the SHA-256 of the root file's and every included file's text, in
    load order; the audit log records it with every verdict.
    """

    name: str
    version: int
    content_hash: str
    files: tuple[SpecFile, ...]
    records: tuple[RecordDecl, ...] = ()
    enums: tuple[EnumDecl, ...] = ()
    tools: tuple[ToolDecl, ...] = ()
    facts: tuple[FactDecl, ...] = ()
    consts: tuple[ConstDecl, ...] = ()
    rules: tuple[Rule, ...] = ()

    def tool(self, name: str) -> ToolDecl | None:
        return next((t for t in self.tools if t.name == name), None)

    def record(self, name: str) -> RecordDecl | None:
        return next((r for r in self.records if r.name == name), None)

    def enum(self, name: str) -> EnumDecl | None:
        return next((e for e in self.enums if e.name == name), None)

    def fact(self, name: str) -> FactDecl | None:
        return next((f for f in self.facts if f.name == name), None)

    def const(self, name: str) -> ConstDecl | None:
        return next((c for c in self.consts if c.name == name), None)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)
