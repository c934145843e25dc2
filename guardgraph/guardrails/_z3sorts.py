"""The Z3 sorts of a spec's types, and conversion of Python values to and from Z3.

One :class:`Sorts` per compiled policy, bound to that policy's ``z3.Context``: ``int`` is
Int, ``real`` Real (exact), ``bool`` Bool, ``str`` and enums String, ``set[T]`` an array
from T to Bool, ``list[T]`` Seq(T), each record a Z3 datatype ``mk_<Record>`` whose
accessors are the field names, and ``T?`` the sort of ``T``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import z3

from guardgraph.guardrails._errors import CompileError
from guardgraph.specs import ast, format_type, literal_text

__all__ = ["AllExcept", "RecordInfo", "Sorts", "python_value", "string_val"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AllExcept:
    """A set that a model left co-finite: every value except ``excluded``.

    Z3 models may describe a set as "everything but these"; a witness shows it as such
    rather than pretending it is finite.
    """

    excluded: frozenset[object]

    def __contains__(self, item: object) -> bool:
        return item not in self.excluded


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordInfo:
    name: str
    sort: z3.DatatypeSortRef
    ctor: z3.FuncDeclRef
    fields: tuple[tuple[str, ast.TypeExpr], ...]
    accessors: Mapping[str, z3.FuncDeclRef]


def string_val(value: str, ctx: z3.Context) -> z3.SeqRef:
    """A Z3 string literal with exactly these code points (``z3.StringVal`` would read
    escapes such as ``\\u{41}`` inside the text, so Z3 and Python would disagree)."""
    points = [ord(ch) for ch in value]
    buf = (ctypes.c_uint * len(points))(*points)
    return z3.SeqRef(z3.Z3_mk_u32string(ctx.ref(), len(points), buf), ctx)


class Sorts:
    """Sorts, zero values and value conversion for one spec in one context."""

    def __init__(self, spec: ast.Spec, ctx: z3.Context) -> None:
        self.ctx = ctx
        self._enums = {e.name: tuple(dict.fromkeys(literal_text(v) for v in e.values))
                       for e in spec.enums}
        self._records: dict[str, RecordInfo] = {}
        self._cache: dict[ast.TypeExpr, z3.SortRef] = {}
        decls = {r.name: r for r in spec.records}
        for name in _record_order(decls):
            self._declare(decls[name])

    # ------------------------------------------------------------------ sorts

    def _declare(self, rec: ast.RecordDecl) -> None:
        dt = z3.Datatype(rec.name, ctx=self.ctx)
        dt.declare(f"mk_{rec.name}", *[(f.name, self.sort(f.type)) for f in rec.fields])
        sort = dt.create()
        ctor = sort.constructor(0)
        accessors = {f.name: sort.accessor(0, i) for i, f in enumerate(rec.fields)}
        self._records[rec.name] = RecordInfo(
            name=rec.name,
            sort=sort,
            ctor=ctor,
            fields=tuple((f.name, f.type) for f in rec.fields),
            accessors=accessors,
        )

    def sort(self, t: ast.TypeExpr) -> z3.SortRef:
        cached = self._cache.get(t)
        if cached is not None:
            return cached
        ctx = self.ctx
        result: z3.SortRef
        match t:
            case ast.PrimType(name=ast.Primitive.INT):
                result = z3.IntSort(ctx)
            case ast.PrimType(name=ast.Primitive.REAL):
                result = z3.RealSort(ctx)
            case ast.PrimType(name=ast.Primitive.BOOL):
                result = z3.BoolSort(ctx)
            case ast.PrimType(name=ast.Primitive.STR):
                result = z3.StringSort(ctx)
            case ast.PrimType(name=ast.Primitive.JSON):
                # No rule reads a json value (the checker refuses every operator on it),
                # so one uninterpreted sort with a single value stands for all of them.
                result = z3.DeclareSort("json", ctx)
            case ast.ListType(element=e):
                result = z3.SeqSort(self.sort(e))
            case ast.SetType(element=e):
                # z3.SetSort would mix in the global context's Bool sort.
                result = z3.ArraySort(self.sort(e), z3.BoolSort(ctx))
            case ast.OptionalType(inner=i):
                result = self.sort(i)
            case ast.NamedType(name=n) if n in self._enums:
                result = z3.StringSort(ctx)
            case ast.NamedType(name=n) if n in self._records:
                result = self._records[n].sort
            case _:
                raise CompileError(f"unknown type {format_type(t)!r}")
        self._cache[t] = result
        return result

    def record(self, name: str) -> RecordInfo:
        return self._records[name]

    def record_of_sort(self, sort: z3.SortRef) -> RecordInfo | None:
        for info in self._records.values():
            if info.sort.eq(sort):
                return info
        return None

    def enum_values(self, t: ast.TypeExpr) -> tuple[str, ...] | None:
        """The values of an enum type (also through ``?``), else None."""
        if isinstance(t, ast.OptionalType):
            t = t.inner
        if isinstance(t, ast.NamedType):
            return self._enums.get(t.name)
        return None

    # ------------------------------------------------------------------ values

    def zero(self, t: ast.TypeExpr) -> z3.ExprRef:
        """The value an absent optional argument reads as (an enum's first value)."""
        ctx = self.ctx
        match t:
            case ast.OptionalType(inner=i):
                return self.zero(i)
            case ast.PrimType(name=ast.Primitive.INT):
                return z3.IntVal(0, ctx)
            case ast.PrimType(name=ast.Primitive.REAL):
                return z3.RealVal(0, ctx)
            case ast.PrimType(name=ast.Primitive.BOOL):
                return z3.BoolVal(False, ctx)
            case ast.PrimType(name=ast.Primitive.STR):
                return string_val("", ctx)
            case ast.PrimType(name=ast.Primitive.JSON):
                return z3.Const("json!value", self.sort(t))
            case ast.ListType(element=e):
                return z3.Empty(z3.SeqSort(self.sort(e)))
            case ast.SetType(element=e):
                return z3.K(self.sort(e), z3.BoolVal(False, ctx))
            case ast.NamedType(name=n) if n in self._enums:
                return string_val(self._enums[n][0], ctx)
            case ast.NamedType(name=n):
                info = self._records[n]
                return info.ctor(*[self.zero(ft) for _, ft in info.fields])
        raise CompileError(f"unknown type {format_type(t)!r}")  # pragma: no cover

    def to_z3(self, value: object, t: ast.TypeExpr, *, where: str = "value") -> z3.ExprRef:
        """A Python value as a Z3 literal of type ``t``; a mismatch raises CompileError."""
        ctx = self.ctx

        def bad() -> CompileError:
            return CompileError(
                f"expected {format_type(t)}, got {where}={value!r} ({type(value).__name__})"
            )

        match t:
            case ast.OptionalType(inner=i):
                return self.zero(i) if value is None else self.to_z3(value, i, where=where)
            case ast.PrimType(name=ast.Primitive.INT):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise bad()
                return z3.IntVal(value, ctx)
            case ast.PrimType(name=ast.Primitive.REAL):
                exact = _exact(value)
                if exact is None:
                    raise bad()
                return z3.RealVal(str(exact), ctx)
            case ast.PrimType(name=ast.Primitive.BOOL):
                if not isinstance(value, bool):
                    raise bad()
                return z3.BoolVal(value, ctx)
            case ast.PrimType(name=ast.Primitive.STR):
                if not isinstance(value, str):
                    raise bad()
                return string_val(value, ctx)
            case ast.PrimType(name=ast.Primitive.JSON):
                return self.zero(t)  # opaque: every json value reads the same to Z3
            case ast.NamedType(name=n) if n in self._enums:
                if not isinstance(value, str) or value not in self._enums[n]:
                    raise bad()
                return string_val(value, ctx)
            case ast.NamedType(name=n) if n in self._records:
                info = self._records[n]
                if not isinstance(value, Mapping) or set(value) != {f for f, _ in info.fields}:
                    raise bad()
                return info.ctor(
                    *[self.to_z3(value[f], ft, where=f"{where}.{f}") for f, ft in info.fields]
                )
            case ast.SetType(element=e):
                if not isinstance(value, set | frozenset | list | tuple):
                    raise bad()
                acc: z3.ExprRef = z3.K(self.sort(e), z3.BoolVal(False, ctx))
                for item in value:
                    acc = z3.Store(acc, self.to_z3(item, e, where=where), z3.BoolVal(True, ctx))
                return acc
            case ast.ListType(element=e):
                if not isinstance(value, list | tuple):
                    raise bad()
                units = [z3.Unit(self.to_z3(item, e, where=where)) for item in value]
                if not units:
                    return z3.Empty(z3.SeqSort(self.sort(e)))
                return units[0] if len(units) == 1 else z3.Concat(*units)
        raise bad()

    def from_z3(self, value: z3.ExprRef, t: ast.TypeExpr) -> object:
        """A model value as Python: reals as Fraction (int when integral), sets as
        frozenset (or :class:`AllExcept`), lists as tuples, records as dicts."""
        match t:
            case ast.OptionalType(inner=i):
                return self.from_z3(value, i)
            case ast.PrimType(name=ast.Primitive.INT):
                if not z3.is_int_value(value):
                    raise CompileError(f"not an int value: {value}")
                return value.as_long()
            case ast.PrimType(name=ast.Primitive.REAL):
                return _real(value)
            case ast.PrimType(name=ast.Primitive.BOOL):
                if z3.is_true(value):
                    return True
                if z3.is_false(value):
                    return False
                raise CompileError(f"not a bool value: {value}")
            case ast.PrimType(name=ast.Primitive.STR):
                return _string(value)
            case ast.PrimType(name=ast.Primitive.JSON):
                return None  # no rule constrains it, so a witness may leave it null
            case ast.NamedType(name=n) if n in self._enums:
                return _string(value)
            case ast.NamedType(name=n):
                info = self._records[n]
                kids = value.children()
                pairs = zip(info.fields, kids, strict=True)
                return {f: self.from_z3(k, ft) for (f, ft), k in pairs}
            case ast.SetType():
                # Sets are read by sort alone: their elements need no DSL type.
                return _array_set(value)
            case ast.ListType(element=e):
                return tuple(self.from_z3(u, e) for u in _seq_units(value))
        raise CompileError(f"unknown type {format_type(t)!r}")  # pragma: no cover


def python_value(value: z3.ExprRef) -> object:
    """A model value as Python, by its sort alone (the fast path's representation):
    Int -> int, Real -> int or Fraction, String -> str, Seq -> tuple, a set -> frozenset
    (or :class:`AllExcept`), a single-constructor datatype -> dict by accessor name."""
    sort = value.sort()
    kind = sort.kind()
    if kind == z3.Z3_BOOL_SORT:
        if z3.is_true(value):
            return True
        if z3.is_false(value):
            return False
    elif kind == z3.Z3_INT_SORT and z3.is_int_value(value):
        return value.as_long()
    elif kind == z3.Z3_REAL_SORT:
        return _real(value)
    elif kind == z3.Z3_SEQ_SORT:
        if z3.is_string_value(value):
            return _string(value)
        return tuple(python_value(u) for u in _seq_units(value))
    elif kind == z3.Z3_ARRAY_SORT and isinstance(sort, z3.ArraySortRef):
        return _array_set(value)
    elif (kind == z3.Z3_DATATYPE_SORT and isinstance(sort, z3.DatatypeSortRef)
          and sort.num_constructors() == 1 and z3.is_app(value)):
        names = [sort.accessor(0, i).name() for i in range(value.num_args())]
        return {n: python_value(c) for n, c in zip(names, value.children(), strict=True)}
    elif kind == z3.Z3_UNINTERPRETED_SORT:
        return None  # `json`: opaque, no rule constrains it
    raise CompileError(f"cannot read a value of sort {sort} from {value}")


def _array_set(value: z3.ExprRef) -> object:
    members: dict[object, bool] = {}
    node = value
    while z3.is_store(node):
        members.setdefault(python_value(node.arg(1)), z3.is_true(node.arg(2)))
        node = node.arg(0)
    base: frozenset[object] | AllExcept | None = None
    if z3.is_K(node):
        base = AllExcept(excluded=frozenset()) if z3.is_true(node.arg(0)) else frozenset()
    elif z3.is_quantifier(node) and node.is_lambda():
        base = _lambda_set(node.body())
    if base is None:
        raise CompileError(f"cannot read a set value from {value}")
    inside = {k for k, v in members.items() if v}
    outside = {k for k, v in members.items() if not v}
    if isinstance(base, AllExcept):
        return AllExcept(excluded=frozenset((base.excluded - inside) | outside))
    return frozenset((base | inside) - outside)


def _lambda_set(body: z3.ExprRef) -> frozenset[object] | AllExcept | None:
    """The set a model's ``lambda x: body`` describes, when ``body`` is built from
    ``x == value`` with not / and / or (finite or co-finite); None otherwise."""
    if z3.is_false(body):
        return frozenset()
    if z3.is_true(body):
        return AllExcept(excluded=frozenset())
    if z3.is_eq(body) and (z3.is_var(body.arg(0)) or z3.is_var(body.arg(1))):
        other = body.arg(1) if z3.is_var(body.arg(0)) else body.arg(0)
        return frozenset((python_value(other),))
    if z3.is_not(body):
        inner = _lambda_set(body.arg(0))
        if inner is None:
            return None
        if isinstance(inner, AllExcept):
            return frozenset(inner.excluded)
        return AllExcept(excluded=inner)
    if z3.is_or(body) or z3.is_and(body):
        parts = [_lambda_set(c) for c in body.children()]
        if any(p is None for p in parts):
            return None
        result = parts[0]
        for p in parts[1:]:
            result = _union(result, p) if z3.is_or(body) else _meet(result, p)  # type: ignore[arg-type]
        return result
    return None


def _union(a: frozenset[object] | AllExcept, b: frozenset[object] | AllExcept,
           ) -> frozenset[object] | AllExcept:
    if isinstance(a, AllExcept) and isinstance(b, AllExcept):
        return AllExcept(excluded=a.excluded & b.excluded)
    if isinstance(a, AllExcept):
        return AllExcept(excluded=a.excluded - b)  # type: ignore[operator]
    if isinstance(b, AllExcept):
        return AllExcept(excluded=b.excluded - a)
    return a | b


def _meet(a: frozenset[object] | AllExcept, b: frozenset[object] | AllExcept,
          ) -> frozenset[object] | AllExcept:
    if isinstance(a, AllExcept) and isinstance(b, AllExcept):
        return AllExcept(excluded=a.excluded | b.excluded)
    if isinstance(a, AllExcept):
        return frozenset(b - a.excluded)  # type: ignore[operator]
    if isinstance(b, AllExcept):
        return frozenset(a - b.excluded)
    return a & b


def _exact(value: object) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Fraction):
        return Fraction(value)
    if isinstance(value, Decimal):
        return Fraction(value) if value.is_finite() else None
    if isinstance(value, float):
        # The shortest decimal that round-trips: 0.1 means one tenth, as the user wrote it.
        return Fraction(repr(value)) if value == value and abs(value) != float("inf") else None
    return None


def _real(value: z3.ExprRef) -> int | Fraction:
    if z3.is_int_value(value):
        return int(value.as_long())
    if z3.is_rational_value(value):
        frac = value.as_fraction()
    elif z3.is_algebraic_value(value):
        frac = value.approx(20).as_fraction()
    else:
        raise CompileError(f"not a real value: {value}")
    return int(frac) if frac.denominator == 1 else Fraction(frac)


def _string(value: z3.ExprRef) -> str:
    if not z3.is_string_value(value):
        raise CompileError(f"not a string value: {value}")
    # The exact code points: `as_string` escapes some characters.
    ref = value.ctx_ref()
    n = z3.Z3_get_string_length(ref, value.as_ast())
    buf = (ctypes.c_uint * n)()
    z3.Z3_get_string_contents(ref, value.as_ast(), n, buf)
    return "".join(map(chr, buf))


def _seq_units(value: z3.ExprRef) -> list[z3.ExprRef]:
    kind = value.decl().kind()
    if kind == z3.Z3_OP_SEQ_EMPTY:
        return []
    if kind == z3.Z3_OP_SEQ_UNIT:
        return [value.arg(0)]
    if kind == z3.Z3_OP_SEQ_CONCAT:
        return [u for child in value.children() for u in _seq_units(child)]
    raise CompileError(f"cannot read a list value from {value}")


def _record_order(decls: Mapping[str, ast.RecordDecl]) -> list[str]:
    """Records in dependency order (a field's record before the record that uses it)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def refs(t: ast.TypeExpr) -> list[str]:
        match t:
            case ast.NamedType(name=n):
                return [n] if n in decls else []
            case ast.ListType(element=e) | ast.SetType(element=e) | ast.OptionalType(inner=e):
                return refs(e)
        return []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise CompileError(f"recursive record types: {' -> '.join((*trail, name))}")
        state[name] = 1
        for f in decls[name].fields:
            for dep in refs(f.type):
                visit(dep, (*trail, name))
        state[name] = 2
        order.append(name)

    for name in decls:
        visit(name, ())
    return order
