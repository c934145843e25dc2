"""Strict conversion of untrusted Python values to the guard's exact representation.

Every argument, fact and tool result passes through here before a rule reads it. The
checks are the fail-closed ones of issue 4: a string that looks like a number is not a
number, NaN/inf and out-of-range integers are rejected, a bool is not a number, nested
junk is rejected with the path where it was found. Strings are NFKC-normalised so that
compatibility look-alikes (fullwidth letters, ligatures) compare equal to what the spec
says. Output representation: int, Fraction or int (reals, exact), str, bool, tuple (lists),
frozenset (sets), dict (records).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction

from guardgraph.specs import ast, format_type

__all__ = ["MAX_INT", "MAX_ITEMS", "MAX_STR", "BadValue", "normalize", "validate", "validator",
           "zero"]

# Bounds keep both evaluators fast and exact: a 400-digit integer is never a legitimate
# amount, and Z3 on megabyte strings would stall a check.
MAX_INT = 2**63 - 1
MAX_STR = 100_000
MAX_ITEMS = 10_000


class BadValue(Exception):
    """A value that does not have its declared type; ``path`` says where inside it."""

    def __init__(self, path: str, expected: str, value: object, why: str = "") -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        detail = f" ({why})" if why else ""
        super().__init__(f"{path}: expected {expected}, got {shown} "
                         f"({type(value).__name__}){detail}")
        self.path = path


def normalize(text: str) -> str:
    """NFKC: the form every string is compared in."""
    if text.isascii():  # every ASCII string is already in NFKC; skip the table walk
        return text
    return unicodedata.normalize("NFKC", text)


def _real(value: object, path: str) -> int | Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction | Decimal):
        raise BadValue(path, "real", value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise BadValue(path, "real", value, "not a finite number")
        exact = Fraction(repr(value))  # the shortest decimal: 0.1 is one tenth
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise BadValue(path, "real", value, "not a finite number")
        exact = Fraction(value)
    else:
        exact = Fraction(value)
    if abs(exact.numerator) > MAX_INT or exact.denominator > MAX_INT:
        raise BadValue(path, "real", value, f"magnitude or precision beyond {MAX_INT}")
    # An integral real is kept as an int: equal in value (and hash) to the Fraction, and
    # several times faster to compare, which is most of a check's arithmetic.
    return exact.numerator if exact.denominator == 1 else exact


def validate(value: object, t: ast.TypeExpr, spec: ast.Spec, path: str) -> object:
    """``value`` in the guard's representation, or `BadValue` naming ``path``."""
    match t:
        case ast.OptionalType(inner=i):
            return validate(value, i, spec, path)
        case ast.PrimType(name=ast.Primitive.INT):
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadValue(path, "int", value)
            if abs(value) > MAX_INT:
                raise BadValue(path, "int", value, f"beyond ±{MAX_INT}")
            return value
        case ast.PrimType(name=ast.Primitive.REAL):
            return _real(value, path)
        case ast.PrimType(name=ast.Primitive.BOOL):
            if not isinstance(value, bool):
                raise BadValue(path, "bool", value)
            return value
        case ast.PrimType(name=ast.Primitive.STR):
            if not isinstance(value, str):
                raise BadValue(path, "str", value)
            if len(value) > MAX_STR:
                raise BadValue(path, "str", value, f"longer than {MAX_STR} characters")
            return normalize(value)
        case ast.NamedType(name=n):
            enum = spec.enum(n)
            if enum is not None:
                if not isinstance(value, str) or normalize(value) not in enum.values:
                    raise BadValue(path, f"one of {', '.join(map(repr, enum.values))}", value)
                return normalize(value)
            rec = spec.record(n)
            if rec is None:
                raise BadValue(path, n, value, "undeclared type")
            if not isinstance(value, Mapping):
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
                out[f.name] = validate(value[f.name], f.type, spec, f"{path}.{f.name}")
            return out
        case ast.ListType(element=e):
            if not isinstance(value, list | tuple):
                raise BadValue(path, format_type(t), value)
            if len(value) > MAX_ITEMS:
                raise BadValue(path, format_type(t), value, f"more than {MAX_ITEMS} items")
            return tuple(validate(x, e, spec, f"{path}[{i}]") for i, x in enumerate(value))
        case ast.SetType(element=e):
            if not isinstance(value, list | tuple | set | frozenset):
                raise BadValue(path, format_type(t), value)
            if len(value) > MAX_ITEMS:
                raise BadValue(path, format_type(t), value, f"more than {MAX_ITEMS} items")
            return frozenset(validate(x, e, spec, f"{path}[{i}]") for i, x in enumerate(value))
    raise BadValue(path, format_type(t), value, "unsupported type")  # pragma: no cover


def validator(t: ast.TypeExpr, spec: ast.Spec) -> Callable[[object, str], object]:
    """`validate` for one type, with a shortcut for the common exact cases (an ASCII
    str, a plain int in range, a bool): the same answers, fewer checks per call."""
    inner = t.inner if isinstance(t, ast.OptionalType) else t

    def slow(value: object, path: str) -> object:
        return validate(value, inner, spec, path)

    if isinstance(inner, ast.PrimType):
        name = inner.name
        if name is ast.Primitive.STR:
            def check_str(value: object, path: str) -> object:
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
                return {f.name: zero(f.type, spec) for f in rec.fields}
    raise ValueError(f"no zero value for {format_type(t)}")  # pragma: no cover
