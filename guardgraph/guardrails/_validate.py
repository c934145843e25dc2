"""Strict conversion of untrusted Python values to the guard's exact representation.

Every argument, fact and tool result passes through here before a rule reads it: first
`freeze` (guardrails/_freeze.py) copies it into exact, immutable built-in values (so what
is checked is exactly what runs, issue 11), then the declared type is checked on that copy.
The checks are the fail-closed ones of issue 4: a string that looks like a number is not a
number, NaN/inf and out-of-range integers are rejected, a bool is not a number, nested
junk is rejected with the path where it was found. Strings are NFKC-normalised so that
compatibility look-alikes (fullwidth letters, ligatures) compare equal to what the spec
says, and the normalised string is the one the tool receives. Output representation: int
(ints, integral reals), Fraction (other reals, exact), str, bool, tuple (lists), frozenset
(sets), read-only ``MappingProxyType`` (records).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from types import MappingProxyType

from guardgraph.guardrails._confusables import canonical_tool, skeleton, tool_key, tool_table
from guardgraph.guardrails._freeze import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_INT,
    MAX_ITEMS,
    MAX_NODES,
    MAX_STR,
    BadValue,
    exact_text,
    exact_text_set,
    freeze,
    normalize,
)
from guardgraph.specs import ast, format_type

__all__ = ["MAX_CHARS", "MAX_DEPTH", "MAX_INT", "MAX_ITEMS", "MAX_NODES", "MAX_STR",
           "BadValue", "canonical_tool", "exact_text", "exact_text_set", "freeze",
           "normalize", "skeleton", "tool_key", "tool_table", "validate", "validator", "zero"]


def _real(value: object, path: str) -> int | Fraction:
    """A frozen number (int, finite float, exact Fraction) as an exact rational."""
    t = type(value)
    if t is int:
        if abs(value) > MAX_INT:  # type: ignore[arg-type]
            raise BadValue(path, "real", value, f"beyond ±{MAX_INT}", code="GG422")
        return value  # type: ignore[return-value]
    if t is float:
        exact = Fraction(repr(value))  # the shortest decimal: 0.1 is one tenth
    elif t is Fraction:
        exact = value  # type: ignore[assignment]
    else:
        raise BadValue(path, "real", value)
    if abs(exact.numerator) > MAX_INT or exact.denominator > MAX_INT:
        raise BadValue(path, "real", value, f"magnitude or precision beyond {MAX_INT}",
                       code="GG422")
    # An integral real is kept as an int: equal in value (and hash) to the Fraction, and
    # several times faster to compare, which is most of a check's arithmetic.
    return exact.numerator if exact.denominator == 1 else exact


def validate(value: object, t: ast.TypeExpr, spec: ast.Spec, path: str) -> object:
    """``value`` frozen and checked against ``t``: the guard's representation, or
    `BadValue` (with a GG4xx ``.code``) naming ``path``."""
    return _typed(freeze(value, path), t, spec, path)


def _typed(value: object, t: ast.TypeExpr, spec: ast.Spec, path: str) -> object:
    """A frozen value checked against ``t``; recursion follows the type, whose depth the
    spec fixes, never the value's."""
    match t:
        case ast.OptionalType(inner=i):
            return _typed(value, i, spec, path)
        case ast.PrimType(name=ast.Primitive.INT):
            if type(value) is not int:
                raise BadValue(path, "int", value)
            return value
        case ast.PrimType(name=ast.Primitive.REAL):
            return _real(value, path)
        case ast.PrimType(name=ast.Primitive.BOOL):
            if type(value) is not bool:
                raise BadValue(path, "bool", value)
            return value
        case ast.PrimType(name=ast.Primitive.STR):
            if type(value) is not str:
                raise BadValue(path, "str", value)
            return value
        case ast.PrimType(name=ast.Primitive.JSON):
            return value  # `json`: any frozen value; no rule looks into it (language work)
        case ast.NamedType(name=n):
            enum = spec.enum(n)
            if enum is not None:
                if type(value) is not str or value not in enum.values:
                    raise BadValue(path, f"one of {', '.join(map(repr, enum.values))}", value)
                return value
            rec = spec.record(n)
            if rec is None:
                raise BadValue(path, n, value, "undeclared type")
            if not isinstance(value, MappingProxyType):
                raise BadValue(path, f"record {n}", value)
            names = {f.name for f in rec.fields}
            extra = [k for k in value if k not in names]
            if extra:
                raise BadValue(f"{path}.{extra[0]}", f"a field of {n}", extra[0], "unknown field")
            out: dict[str, object] = {}
            for f in rec.fields:
                if f.name not in value:
                    if isinstance(f.type, ast.OptionalType):
                        out[f.name] = zero(f.type, spec)
                        continue
                    raise BadValue(f"{path}.{f.name}", format_type(f.type), None, "missing")
                out[f.name] = _typed(value[f.name], f.type, spec, f"{path}.{f.name}")
            return MappingProxyType(out)
        case ast.ListType(element=e):
            if type(value) is not tuple:
                raise BadValue(path, format_type(t), value)
            return tuple(_typed(x, e, spec, f"{path}[{i}]") for i, x in enumerate(value))
        case ast.SetType(element=e):
            if type(value) is not tuple and type(value) is not frozenset:
                raise BadValue(path, format_type(t), value)
            return frozenset(_typed(x, e, spec, f"{path}[{i}]") for i, x in enumerate(value))
    raise BadValue(path, format_type(t), value, "unsupported type")  # pragma: no cover


def validator(t: ast.TypeExpr, spec: ast.Spec) -> Callable[[object, str], object]:
    """`validate` for one type, with a shortcut for the common exact cases (an ASCII
    str, a plain int in range, a bool): the same answers, fewer checks per call. Either
    way the result is frozen: the value the verdict carries and the tool receives."""
    inner = t.inner if isinstance(t, ast.OptionalType) else t

    def slow(value: object, path: str) -> object:
        return validate(value, inner, spec, path)

    if isinstance(inner, ast.PrimType):
        name = inner.name
        if name is ast.Primitive.STR:
            def check_str(value: object, path: str) -> object:
                # An exact ASCII str is already NFKC and free of surrogates.
                if type(value) is str and value.isascii() and len(value) <= MAX_STR:
                    return value
                return slow(value, path)
            return check_str
        if name in (ast.Primitive.INT, ast.Primitive.REAL):
            def check_num(value: object, path: str) -> object:
                if type(value) is int and -MAX_INT <= value <= MAX_INT:
                    return value
                return slow(value, path)
            return check_num
        if name is ast.Primitive.BOOL:
            def check_bool(value: object, path: str) -> object:
                return value if type(value) is bool else slow(value, path)
            return check_bool
    return slow


def zero(t: ast.TypeExpr, spec: ast.Spec) -> object:
    """What an absent optional value reads as (docs/language.md: the type's zero)."""
    match t:
        case ast.OptionalType(inner=i):
            return zero(i, spec)
        case ast.PrimType(name=ast.Primitive.INT):
            return 0
        case ast.PrimType(name=ast.Primitive.REAL):
            return Fraction(0)
        case ast.PrimType(name=ast.Primitive.BOOL):
            return False
        case ast.PrimType(name=ast.Primitive.STR):
            return ""
        case ast.PrimType(name=ast.Primitive.JSON):
            return None
        case ast.ListType():
            return ()
        case ast.SetType():
            return frozenset()
        case ast.NamedType(name=n):
            enum = spec.enum(n)
            if enum is not None:
                return enum.values[0]
            rec = spec.record(n)
            if rec is not None:
                return MappingProxyType({f.name: zero(f.type, spec) for f in rec.fields})
    raise ValueError(f"no zero value for {format_type(t)}")  # pragma: no cover
