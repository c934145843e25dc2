"""The fast path: Z3 terms compiled to Python, so a check costs microseconds.

Semantics are defined once, by the Z3 terms the compiler produces; this module walks those
terms by declaration kind and emits equivalent Python source, compiled once per tool. Any
term it cannot translate faithfully raises `Unsupported`; the guard then evaluates that rule
with Z3 (never allows it by default). Run-time errors inside generated code (a division by
zero, an index out of range: places where Z3 leaves the value unspecified) also send the
rule to Z3. Value representation: Int -> int, Real -> Fraction (exact, as in Z3; an
integral real may be an int: equal value, equal hash), String -> str, Seq -> tuple,
Set -> frozenset, record datatype -> dict by field name.
"""

from __future__ import annotations

import ast as pyast
import ctypes
import math
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import z3
from z3.z3 import _to_expr_ref

from guardgraph.guardrails._regex import RegexUnsupported, fast_matcher

__all__ = ["Predicates", "Unsupported", "compile_predicates", "compile_rules", "compile_term",
           "z3_string"]

Env = Mapping[str, object]
_MAX_SOURCE = 400_000  # a larger term is evaluated by Z3 rather than blowing up source


class Unsupported(Exception):
    """A term (or part of one) the fast path does not translate."""


def z3_string(e: z3.ExprRef) -> str:
    """The exact code points of a Z3 string literal (``as_string`` escapes some)."""
    ctx = e.ctx_ref()
    n = z3.Z3_get_string_length(ctx, e.as_ast())
    buf = (ctypes.c_uint * n)()
    z3.Z3_get_string_contents(ctx, e.as_ast(), n, buf)
    return "".join(map(chr, buf))


# ------------------------------------------------------------------ run-time helpers
# Each mirrors the SMT-LIB definition of the operator (Z3's Int div/mod are Euclidean).


def _idiv(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("div by zero is unspecified in Z3")
    q = a // b if b > 0 else -(a // -b)
    if a - b * q < 0:  # Euclidean: the remainder is never negative
        q = q - 1 if b > 0 else q + 1
    return q


def _mod(a: int, b: int) -> int:
    return a - b * _idiv(a, b)


def _rdiv(a: int | Fraction, b: int | Fraction) -> Fraction:
    if b == 0:
        raise ZeroDivisionError("/ by zero is unspecified in Z3")
    return Fraction(a) / Fraction(b)


def _prefix(p: Any, s: Any) -> bool:
    return len(p) <= len(s) and s[: len(p)] == p


def _suffix(p: Any, s: Any) -> bool:
    return len(p) <= len(s) and s[len(s) - len(p):] == p


def _contains(s: Any, t: Any) -> bool:
    if isinstance(s, str):
        return t in s
    n = len(t)
    return any(s[i: i + n] == t for i in range(len(s) - n + 1))


def _at(s: Any, i: int) -> Any:
    return s[i: i + 1] if 0 <= i < len(s) else s[:0]


def _nth(s: Any, i: int) -> Any:
    if not 0 <= i < len(s):
        raise IndexError("seq.nth out of range is unspecified in Z3")
    return s[i]


def _extract(s: Any, off: int, n: int) -> Any:
    if off < 0 or n <= 0 or off >= len(s):
        return s[:0]
    return s[off: off + n]


def _index(s: Any, t: Any, start: int) -> int:
    if start < 0 or start > len(s):
        return -1
    if isinstance(s, str):
        return s.find(t, start)
    n = len(t)
    return next((i for i in range(start, len(s) - n + 1) if s[i: i + n] == t), -1)


def _store(a: frozenset[object], k: object, v: bool) -> frozenset[object]:
    return a | {k} if v else a - {k}


def _distinct(*xs: object) -> bool:
    return all(xs[i] != xs[j] for i in range(len(xs)) for j in range(i + 1, len(xs)))


_HELPERS: dict[str, object] = {
    "_idiv": _idiv, "_mod": _mod, "_rdiv": _rdiv, "_prefix": _prefix, "_suffix": _suffix,
    "_contains": _contains, "_at": _at, "_nth": _nth, "_extract": _extract,
    "_index": _index, "_store": _store, "_distinct": _distinct, "Fraction": Fraction,
    "_floor": math.floor,
}


# ------------------------------------------------------------------ translation


class _Emitter:
    def __init__(self) -> None:
        self.consts: list[object] = []
        self._bound: list[str] = []
        self._fresh = 0
        # What the walk saw, for callers that search for values (lint's witnesses): the
        # free constants by name (with their sorts), the literals, how strings were used.
        self.free: dict[str, z3.SortRef] = {}
        self.ints: dict[int, None] = {}
        self.reals: dict[Fraction, None] = {}
        self.strings: dict[str, None] = {}
        self.affixes: dict[str, None] = {}  # strings used as a prefix, suffix or infix
        self.regexes: dict[int, z3.ExprRef] = {}
        self.measures = False  # whether some term takes the length of a string or list
        self.seen: dict[object, None] = {}  # literals of the current top-level term

    def const(self, value: object) -> str:
        self.consts.append(value)
        return f"C[{len(self.consts) - 1}]"

    def expr(self, e: z3.ExprRef) -> str:
        return self._node(e.ctx, e.as_ast())

    def _node(self, ctx: z3.Context, a: Any) -> str:
        # The common nodes (constants, numerals, connectives, arithmetic, comparisons)
        # through Z3's C functions directly: the Python wrappers cost ten times as much,
        # and a lint of a large spec emits hundreds of thousands of nodes.
        ref = ctx.ref()
        kind = _C.Z3_get_ast_kind(ref, a)
        if kind == z3.Z3_APP_AST:
            decl = _C.Z3_get_app_decl(ref, a)
            k = _C.Z3_get_decl_kind(ref, decl)
            if k == z3.Z3_OP_TRUE:
                return "True"
            if k == z3.Z3_OP_FALSE:
                return "False"
            n = _C.Z3_get_app_num_args(ref, a)
            if k == z3.Z3_OP_UNINTERPRETED and n == 0:
                name = _C.Z3_get_symbol_string(ref, _C.Z3_get_decl_name(ref, decl)).decode()
                if name not in self.free:
                    self.free[name] = _to_expr_ref(a, ctx).sort()
                return f"v[{name!r}]"
            if k == z3.Z3_OP_INTERNAL and _C.Z3_is_string(ref, a):
                text = _raw_string(ref, a)
                self.strings[text] = None
                self.seen[text] = None
                return self.const(text)
            simple = _SIMPLE.get(k)
            if simple is not None and k not in _NOTED:
                return simple([self._node(ctx, _C.Z3_get_app_arg(ref, a, i)) for i in range(n)])
        elif kind == z3.Z3_NUMERAL_AST:
            sort_kind = _C.Z3_get_sort_kind(ref, _C.Z3_get_sort(ref, a))
            text = _C.Z3_get_numeral_string(ref, a).decode()
            if sort_kind == z3.Z3_INT_SORT:
                number = int(text)
                self.ints[number] = None
                self.seen[number] = None
                return repr(number)
            if sort_kind == z3.Z3_REAL_SORT:
                q = Fraction(text)
                self.reals[q] = None
                self.seen[q] = None
                return repr(q.numerator) if q.denominator == 1 else self.const(q)
        return self._wrapped(_to_expr_ref(a, ctx))

    def _wrapped(self, e: z3.ExprRef) -> str:
        if z3.is_quantifier(e):
            return self._quantifier(e)
        if z3.is_var(e):
            idx = z3.get_var_index(e)
            if idx >= len(self._bound):
                raise Unsupported("free de Bruijn variable")
            return str(self._bound[-1 - idx])
        if z3.is_true(e):
            return "True"
        if z3.is_false(e):
            return "False"
        if z3.is_int_value(e):
            n = e.as_long()
            self.ints[n] = None
            self.seen[n] = None
            return repr(n)
        if z3.is_rational_value(e):
            q = Fraction(e.numerator_as_long(), e.denominator_as_long())
            self.reals[q] = None
            self.seen[q] = None
            return repr(q.numerator) if q.denominator == 1 else self.const(q)
        if z3.is_string_value(e):
            text = z3_string(e)
            self.strings[text] = None
            self.seen[text] = None
            return self.const(text)
        if not z3.is_app(e):
            raise Unsupported(f"term {e.sexpr()[:60]}")
        k = e.decl().kind()
        a = [self.expr(c) for c in e.children()] if k not in _LAZY else []
        if k == z3.Z3_OP_UNINTERPRETED:
            if e.num_args():
                raise Unsupported(f"uninterpreted function {e.decl().name()}")
            name = e.decl().name()
            if name not in self.free:
                self.free[name] = e.sort()
            return f"v[{name!r}]"
        if k in _AFFIX:
            for c in e.children()[:1] if k != z3.Z3_OP_SEQ_CONTAINS else e.children()[1:]:
                if z3.is_string_value(c):
                    self.affixes[z3_string(c)] = None
        if k == z3.Z3_OP_SEQ_LENGTH:
            self.measures = True
        simple = _SIMPLE.get(k)
        if simple is not None:
            return simple(a)
        if k == z3.Z3_OP_SEQ_EMPTY:
            return "''" if e.sort().is_string() else "()"
        if k == z3.Z3_OP_SEQ_CONCAT:
            return "(" + " + ".join(a) + ")"
        if k == z3.Z3_OP_SEQ_UNIT:
            if e.sort().is_string():
                raise Unsupported("character unit")
            return f"({a[0]},)"
        if k == z3.Z3_OP_SEQ_IN_RE:
            self.regexes.setdefault(e.arg(1).get_id(), e.arg(1))
            rx = _compiled_regex(e.arg(1))
            return f"{self.const(rx)}({self.expr(e.arg(0))})"
        if k == z3.Z3_OP_CONST_ARRAY:
            if z3.is_false(e.children()[0]):
                return "frozenset()"
            raise Unsupported("constant array other than the empty set")
        if k == z3.Z3_OP_SELECT:
            if not z3.is_bool(e):
                raise Unsupported("select on a non-set array")
            return f"({a[1]} in {a[0]})"
        if k == z3.Z3_OP_DT_CONSTRUCTOR:
            dsort = e.sort()
            names = [dsort.accessor(0, i).name() for i in range(e.num_args())]
            if dsort.num_constructors() != 1:
                raise Unsupported("datatype with several constructors")
            return "{" + ", ".join(f"{n!r}: {x}" for n, x in zip(names, a, strict=True)) + "}"
        if k == z3.Z3_OP_DT_ACCESSOR:
            return f"{a[0]}[{e.decl().name()!r}]"
        if k in (z3.Z3_OP_DT_IS, z3.Z3_OP_DT_RECOGNISER):
            if e.arg(0).sort().num_constructors() == 1:
                return "True"
            raise Unsupported("recogniser")
        raise Unsupported(f"operator {e.decl().name()}")

    # Quantifiers over a Seq index or a set's members (docs/internal/compile-contract.md):
    #   forall i. (0 <= i and i < Length(xs)) -> body
    #   exists i. 0 <= i and i < Length(xs) and body
    #   forall x. IsMember(x, S) -> body                  exists x. IsMember(x, S) and body
    def _quantifier(self, q: z3.QuantifierRef) -> str:
        if q.is_lambda() or q.num_vars() != 1:
            raise Unsupported("lambda or multi-variable quantifier")
        body = q.body()
        if q.is_forall():
            if not z3.is_app_of(body, z3.Z3_OP_IMPLIES):
                raise Unsupported("forall without a guard")
            guard, rest = _conjuncts(body.arg(0)), [body.arg(1)]
        else:
            parts = _conjuncts(body)
            guard, rest = parts, []
        var = f"_q{self._fresh}"
        self._fresh += 1
        self._bound.append(var)
        try:
            domain, extra = self._domain(guard)
            conds = [self.expr(c) for c in extra]
            if q.is_forall():
                inner = self.expr(rest[0])
                cond = " and ".join(conds) if conds else "True"
                return f"all((not ({cond})) or ({inner}) for {var} in {domain})"
            cond = " and ".join(conds) if conds else "True"
            return f"any(({cond}) for {var} in {domain})"
        finally:
            self._bound.pop()

    def _domain(self, guard: list[z3.ExprRef]) -> tuple[str, list[z3.ExprRef]]:
        lower = upper = None
        extra: list[z3.ExprRef] = []
        for c in guard:
            if lower is None and _is_nonneg(c):
                lower = c
            elif upper is None and _length_bound(c) is not None:
                upper = c
            elif z3.is_app_of(c, z3.Z3_OP_SELECT) and _is_var0(c.arg(1)) and upper is None:
                return self.expr(c.arg(0)), [g for g in guard if not g.eq(c)]
            else:
                extra.append(c)
        if lower is None or upper is None:
            raise Unsupported("quantifier domain not recognised")
        seq = _length_bound(upper)
        assert seq is not None
        return f"range(len({self.expr(seq)}))", extra


def _conjuncts(e: z3.ExprRef) -> list[z3.ExprRef]:
    if z3.is_and(e):
        out: list[z3.ExprRef] = []
        for c in e.children():
            out.extend(_conjuncts(c))
        return out
    return [e]


def _is_var0(e: z3.ExprRef) -> bool:
    return bool(z3.is_var(e) and z3.get_var_index(e) == 0)


def _is_nonneg(c: z3.ExprRef) -> bool:
    if z3.is_le(c):
        return z3.is_int_value(c.arg(0)) and c.arg(0).as_long() == 0 and _is_var0(c.arg(1))
    if z3.is_ge(c):
        return _is_var0(c.arg(0)) and z3.is_int_value(c.arg(1)) and c.arg(1).as_long() == 0
    return False


def _length_bound(c: z3.ExprRef) -> z3.ExprRef | None:
    """For ``i < Length(xs)`` (or ``Length(xs) > i``) the sequence ``xs``."""
    if z3.is_lt(c):
        var, ln = c.arg(0), c.arg(1)
    elif z3.is_gt(c):
        ln, var = c.arg(0), c.arg(1)
    else:
        return None
    if _is_var0(var) and z3.is_app_of(ln, z3.Z3_OP_SEQ_LENGTH):
        return ln.arg(0)
    return None


def _join(op: str) -> Callable[[list[str]], str]:
    return lambda a: "(" + f" {op} ".join(a) + ")"


def _fn(name: str) -> Callable[[list[str]], str]:
    return lambda a: f"{name}(" + ", ".join(a) + ")"


def _cmp(op: str) -> Callable[[list[str]], str]:
    return lambda a: f"({a[0]} {op} {a[1]})"


_SIMPLE: dict[int, Callable[[list[str]], str]] = {
    z3.Z3_OP_AND: _join("and"),
    z3.Z3_OP_OR: _join("or"),
    z3.Z3_OP_NOT: lambda a: f"(not {a[0]})",
    z3.Z3_OP_IMPLIES: lambda a: f"((not {a[0]}) or {a[1]})",
    z3.Z3_OP_XOR: _cmp("!="),
    z3.Z3_OP_IFF: _cmp("=="),
    z3.Z3_OP_ITE: lambda a: f"({a[1]} if {a[0]} else {a[2]})",
    z3.Z3_OP_EQ: _cmp("=="),
    z3.Z3_OP_DISTINCT: _fn("_distinct"),
    z3.Z3_OP_ADD: _join("+"),
    z3.Z3_OP_SUB: _join("-"),
    z3.Z3_OP_MUL: _join("*"),
    z3.Z3_OP_UMINUS: lambda a: f"(-{a[0]})",
    z3.Z3_OP_DIV: _fn("_rdiv"),
    z3.Z3_OP_IDIV: _fn("_idiv"),
    z3.Z3_OP_MOD: _fn("_mod"),
    z3.Z3_OP_TO_REAL: lambda a: a[0],  # an int is an exact integral real
    z3.Z3_OP_TO_INT: _fn("_floor"),
    z3.Z3_OP_IS_INT: lambda a: f"(Fraction({a[0]}).denominator == 1)",
    z3.Z3_OP_LE: _cmp("<="),
    z3.Z3_OP_LT: _cmp("<"),
    z3.Z3_OP_GE: _cmp(">="),
    z3.Z3_OP_GT: _cmp(">"),
    z3.Z3_OP_STRING_LE: _cmp("<="),
    z3.Z3_OP_STRING_LT: _cmp("<"),
    z3.Z3_OP_SEQ_PREFIX: _fn("_prefix"),
    z3.Z3_OP_SEQ_SUFFIX: _fn("_suffix"),
    z3.Z3_OP_SEQ_CONTAINS: _fn("_contains"),
    z3.Z3_OP_SEQ_LENGTH: _fn("len"),
    z3.Z3_OP_SEQ_AT: _fn("_at"),
    z3.Z3_OP_SEQ_NTH: _fn("_nth"),
    z3.Z3_OP_SEQ_EXTRACT: _fn("_extract"),
    z3.Z3_OP_SEQ_INDEX: _fn("_index"),
    z3.Z3_OP_STORE: _fn("_store"),
    z3.Z3_OP_SET_UNION: _join("|"),
    z3.Z3_OP_SET_INTERSECT: _join("&"),
    z3.Z3_OP_SET_DIFFERENCE: _cmp("-"),
    z3.Z3_OP_SET_SUBSET: _cmp("<="),
}
# Operators whose children are translated specially (regexes, constructors' sorts).
_LAZY = frozenset({z3.Z3_OP_SEQ_IN_RE})
_AFFIX = frozenset({z3.Z3_OP_SEQ_PREFIX, z3.Z3_OP_SEQ_SUFFIX, z3.Z3_OP_SEQ_CONTAINS})
# Operators the emitter takes note of (not only translates): the slower, wrapped path.
_NOTED = _AFFIX | {z3.Z3_OP_SEQ_LENGTH}
class _C:
    """Z3's C functions without the error check the Python bindings run after each
    call (taken from those bindings, which keep the raw function beside the check)."""

    Z3_get_ast_kind = z3.Z3_get_ast_kind.__defaults__[-1].f
    Z3_get_app_decl = z3.Z3_get_app_decl.__defaults__[-1].f
    Z3_get_decl_kind = z3.Z3_get_decl_kind.__defaults__[-1].f
    Z3_get_app_num_args = z3.Z3_get_app_num_args.__defaults__[-1].f
    Z3_get_app_arg = z3.Z3_get_app_arg.__defaults__[-1].f
    Z3_get_decl_name = z3.Z3_get_decl_name.__defaults__[-1].f
    Z3_get_symbol_string = z3.Z3_get_symbol_string.__defaults__[-1].f
    Z3_is_string = z3.Z3_is_string.__defaults__[-1].f
    Z3_get_sort = z3.Z3_get_sort.__defaults__[-1].f
    Z3_get_sort_kind = z3.Z3_get_sort_kind.__defaults__[-1].f
    Z3_get_numeral_string = z3.Z3_get_numeral_string.__defaults__[-1].f


def _raw_string(ref: Any, a: Any) -> str:
    n = z3.Z3_get_string_length(ref, a)
    buf = (ctypes.c_uint * n)()
    z3.Z3_get_string_contents(ref, a, n, buf)
    return "".join(map(chr, buf))


# ------------------------------------------------------------------ regexes


_PATTERNS: dict[str, Callable[[str], bool]] = {}


def _compiled_regex(r: z3.ExprRef) -> Callable[[str], bool]:
    """The linear-time (RE2) matcher for Z3 regex ``r`` (guardrails/_regex.py), built once
    per process; a backtracking engine could be made to hang a check (issue 11)."""
    key = r.sexpr()
    found = _PATTERNS.get(key)
    if found is None:
        if len(_PATTERNS) > 4096:
            _PATTERNS.clear()
        try:
            found = _PATTERNS[key] = fast_matcher(r)
        except RegexUnsupported as exc:
            raise Unsupported(str(exc)) from None
    return found


# ------------------------------------------------------------------ entry points


def compile_term(term: z3.ExprRef) -> Callable[[Env], object]:
    """One term as a Python function of the input environment; raises `Unsupported`."""
    em = _Emitter()
    src = em.expr(term)
    if len(src) > _MAX_SOURCE:
        raise Unsupported("term too large")
    code = compile(f"lambda v: {src}", "<guardgraph-fastpath>", "eval")
    fn: Callable[[Env], object] = eval(code, {**_HELPERS, "C": em.consts})
    return fn


def compile_rules(rules: Sequence[tuple[z3.BoolRef, z3.BoolRef]], *, name: str,
                  ) -> tuple[Callable[[Env], list[int | None]], tuple[str | None, ...]]:
    """One function for all rules of a tool: ``fires(env) -> [1 | 0 | None per rule]``.

    1: the rule fires (applies and require is false); 0: it does not; None: the fast path
    cannot decide (unsupported term, or an operation Z3 leaves unspecified), so the caller
    asks Z3. The second value gives, per rule, why it is not compiled (None if it is).
    """
    em = _Emitter()
    lines = ["def _fires(v):", "    r = []"]
    why: list[str | None] = []
    for applies, require in rules:
        try:
            src = f"({em.expr(applies)}) and not ({em.expr(require)})"
            if len(src) > _MAX_SOURCE:
                raise Unsupported("term too large")
        except Unsupported as exc:
            why.append(str(exc))
            lines.append("    r.append(None)")
            continue
        why.append(None)
        # Why try per rule: one rule's unspecified operation must not hide the others.
        lines += ["    try:", f"        r.append(1 if {src} else 0)",
                  "    except (ArithmeticError, LookupError, TypeError, ValueError):",
                  "        r.append(None)"]
    lines.append("    return r")
    namespace: dict[str, object] = {**_HELPERS, "C": em.consts}
    exec(compile("\n".join(lines), f"<guardgraph-fastpath:{name}>", "exec"), namespace)
    fn = namespace["_fires"]
    return fn, tuple(why)  # type: ignore[return-value]


class Predicates:
    """Boolean terms compiled together (see `compile_predicates`)."""

    __slots__ = ("affixes", "fns", "free", "ints", "literals", "measures", "reads", "reals",
                 "regexes", "strings", "why")

    def __init__(self, em: _Emitter, fns: list[Callable[[Env], bool | None] | None],
                 reads: list[frozenset[str]], why: list[str | None],
                 literals: list[tuple[object, ...]]) -> None:
        self.fns = fns
        self.reads = reads
        self.literals = literals  # per term: the numbers and strings it mentions
        self.why = why
        self.free = em.free
        self.ints = list(em.ints)
        self.reals = list(em.reals)
        self.strings = list(em.strings)
        self.affixes = list(em.affixes)
        self.regexes = list(em.regexes.values())
        self.measures = em.measures


def compile_predicates(terms: Sequence[z3.ExprRef], *, name: str) -> Predicates:
    """Each Boolean term as ``fn(env) -> True | False | None`` (None: an operation Z3
    leaves unspecified, such as a division by zero), compiled in one go.

    The result also says, per term, which free constants it reads (``reads``) and why it
    was not compiled (``why``; its ``fns`` entry is then None), and over all terms: the
    free constants with their sorts and the literals seen, for callers that look for
    values that make terms true.
    """
    em = _Emitter()
    lines: list[str] = []
    reads: list[frozenset[str]] = []
    why: list[str | None] = []
    compiled: list[int] = []
    literals: list[tuple[object, ...]] = []
    for i, term in enumerate(terms):
        em.seen = {}
        try:
            src = em.expr(term)
            if len(src) > _MAX_SOURCE:
                raise Unsupported("term too large")
        except Unsupported as exc:
            why.append(str(exc))
            reads.append(frozenset())
            literals.append(())
            continue
        why.append(None)
        reads.append(frozenset(_names_in(src)))
        literals.append(tuple(em.seen))
        compiled.append(i)
        lines += [f"def _p{i}(v):", "    try:",
                  f"        return True if {src} else False",
                  "    except (ArithmeticError, LookupError, TypeError, ValueError):",
                  "        return None"]
    namespace: dict[str, object] = {**_HELPERS, "C": em.consts}
    if lines:
        exec(compile("\n".join(lines), f"<guardgraph-predicates:{name}>", "exec"), namespace)
    fns: list[Callable[[Env], bool | None] | None] = [None] * len(terms)
    for i in compiled:
        fns[i] = namespace[f"_p{i}"]  # type: ignore[call-overload]
    return Predicates(em, fns, reads, why, literals)


_READ = re.compile(r"v\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]")


def _names_in(src: str) -> set[str]:
    """The constants a generated source reads (``v['name']``)."""
    return {pyast.literal_eval(m.group(1)) for m in _READ.finditer(src)}
