"""The checker's view of types: resolved, comparable values with int→real promotion.

The AST's ``TypeExpr`` says what the author wrote; :class:`Ty` says what it means once
record and enum names are resolved. ``UNKNOWN`` stands for "already reported": it is
compatible with everything, so one mistake yields one diagnostic, not a cascade.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from guardgraph.specs import ast

__all__ = [
    "BOOL",
    "INT",
    "REAL",
    "STR",
    "UNKNOWN",
    "Kind",
    "Ty",
    "assignable",
    "comparable",
    "is_numeric",
    "join",
    "list_of",
    "literal_text",
    "resolve",
    "set_of",
    "to_type_expr",
]


class Kind(StrEnum):
    INT = "int"
    REAL = "real"
    BOOL = "bool"
    STR = "str"
    LIST = "list"
    SET = "set"
    RECORD = "record"
    ENUM = "enum"
    JSON = "json"  # opaque: no operator applies to it
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Ty:
    """A resolved type. ``element`` is set for LIST/SET, ``name`` for RECORD/ENUM."""

    kind: Kind
    element: Ty | None = None
    name: str | None = None

    def __str__(self) -> str:
        if self.kind in (Kind.LIST, Kind.SET):
            return f"{self.kind}[{self.element}]"
        if self.kind in (Kind.RECORD, Kind.ENUM):
            return self.name or "?"
        return str(self.kind)

    @property
    def unknown(self) -> bool:
        return self.kind is Kind.UNKNOWN


INT = Ty(Kind.INT)
REAL = Ty(Kind.REAL)
BOOL = Ty(Kind.BOOL)
STR = Ty(Kind.STR)
UNKNOWN = Ty(Kind.UNKNOWN)


def list_of(element: Ty) -> Ty:
    return Ty(Kind.LIST, element=element)


def set_of(element: Ty) -> Ty:
    return Ty(Kind.SET, element=element)


def literal_text(value: str) -> str:
    """A string literal of a spec (or an enum value) as rules compare it: NFKC, the form
    the guard gives every argument string (issue #11), so a literal typed with full-width
    or compatibility characters still equals the argument it names. The checker, the Z3
    translation and (through it) the fast path all normalise literals here, in one place;
    values from outside the spec are normalised by the guard, not here."""
    return unicodedata.normalize("NFKC", value)


def is_numeric(t: Ty) -> bool:
    return t.kind in (Kind.INT, Kind.REAL, Kind.UNKNOWN)


def _stringy(t: Ty) -> bool:
    # Enum values are strings at run time (docs/language.md), so the two mix freely; the
    # checker separately rejects a string literal that is not one of the enum's values.
    return t.kind in (Kind.STR, Kind.ENUM)


def assignable(actual: Ty, expected: Ty) -> bool:
    """Whether a value of type ``actual`` may stand where ``expected`` is required."""
    if actual.unknown or expected.unknown:
        return True
    if Kind.JSON in (actual.kind, expected.kind):
        return False  # a json value is opaque: nothing compares with it, not even json
    if actual.kind is Kind.INT and expected.kind is Kind.REAL:
        return True
    if actual.kind is Kind.ENUM and expected.kind is Kind.ENUM:
        return actual.name == expected.name
    if _stringy(actual) and _stringy(expected):
        return True
    if actual.kind is not expected.kind:
        return False
    if actual.kind in (Kind.LIST, Kind.SET):
        assert actual.element is not None and expected.element is not None
        return assignable(actual.element, expected.element)
    if actual.kind is Kind.RECORD:
        return actual.name == expected.name
    return True


def comparable(a: Ty, b: Ty) -> bool:
    """Whether ``a == b`` is meaningful (either side may be promoted)."""
    return assignable(a, b) or assignable(b, a)


def join(a: Ty, b: Ty) -> Ty | None:
    """The least type holding both (for list/set literals), or None if there is none."""
    if a.unknown:
        return b
    if b.unknown:
        return a
    if a == b:
        return a
    if {a.kind, b.kind} == {Kind.INT, Kind.REAL}:
        return REAL
    if _stringy(a) and _stringy(b):
        return STR
    if a.kind is b.kind and a.kind in (Kind.LIST, Kind.SET):
        assert a.element is not None and b.element is not None
        inner = join(a.element, b.element)
        return None if inner is None else Ty(a.kind, element=inner)
    return None


def to_type_expr(t: Ty) -> ast.TypeExpr | None:
    """The AST spelling of a resolved type; None for UNKNOWN (or a collection of it)."""
    if t.kind in (Kind.INT, Kind.REAL, Kind.BOOL, Kind.STR, Kind.JSON):
        return ast.PrimType(name=ast.Primitive(t.kind.value))
    if t.kind in (Kind.RECORD, Kind.ENUM) and t.name is not None:
        return ast.NamedType(name=t.name)
    if t.kind in (Kind.LIST, Kind.SET) and t.element is not None:
        inner = to_type_expr(t.element)
        if inner is None:
            return None
        return ast.ListType(element=inner) if t.kind is Kind.LIST else ast.SetType(element=inner)
    return None


def resolve(
    texpr: ast.TypeExpr,
    *,
    records: Mapping[str, ast.RecordDecl],
    enums: Mapping[str, ast.EnumDecl],
) -> Ty:
    """Resolve a written type; an unknown name (reported elsewhere) becomes UNKNOWN.

    ``T?`` resolves to ``T``: an absent optional argument reads as the type's zero value.
    """
    match texpr:
        case ast.PrimType(name=prim):
            return Ty(Kind(prim.value))
        case ast.ListType(element=el):
            return list_of(resolve(el, records=records, enums=enums))
        case ast.SetType(element=el):
            return set_of(resolve(el, records=records, enums=enums))
        case ast.OptionalType(inner=inner):
            return resolve(inner, records=records, enums=enums)
        case ast.NamedType(name=name):
            if name in records:
                return Ty(Kind.RECORD, name=name)
            if name in enums:
                return Ty(Kind.ENUM, name=name)
            return UNKNOWN
    return UNKNOWN  # pragma: no cover - the match above is exhaustive
