"""Frozen copies of untrusted values: what the guard checks is exactly what runs.

Every argument, fact and context value is copied here into exact built-in values before
any rule reads it (issue 11, "what is checked is exactly what runs"): exact ``str``
(NFKC, valid Unicode scalars), ``int``, ``float`` (finite), ``bool``, ``None``, exact
``Fraction`` (for exact rationals such as a ``Decimal``), tuples, frozensets and read-only
mappings (``MappingProxyType`` over a ``dict``). Subclasses of built-ins are read through
the base type's own slots, so an override of ``__eq__``, ``__hash__``, ``__iter__`` or
``__int__`` is never called and cannot lie; a value that cannot be read exactly is a
`BadValue` with a GG4xx code. The copy is iterative, so a 100000-deep nesting ends at the
depth cap with a reason, never in a ``RecursionError``.

Codes: GG404 wrong type, GG420 a string that is not valid Unicode, GG421 a value with no
exact built-in reading, GG422 a value beyond the size or depth caps.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

__all__ = ["MAX_CHARS", "MAX_DEPTH", "MAX_INT", "MAX_ITEMS", "MAX_NODES", "MAX_STR",
           "BadValue", "exact_text", "exact_text_set", "freeze", "normalize"]

# Bounds keep both evaluators fast and exact: a 400-digit integer is never a legitimate
# amount, and Z3 on megabyte strings would stall a check.
MAX_INT = 2**63 - 1
MAX_STR = 100_000          # characters in one string
MAX_ITEMS = 10_000         # items in one list, set or mapping
MAX_DEPTH = 32             # containers nested in one another
MAX_NODES = 100_000        # values in one frozen copy, all levels together
MAX_CHARS = 1_000_000      # characters in one frozen copy, all strings together

_HEAPTYPE = 1 << 9         # Py_TPFLAGS_HEAPTYPE: a class created by Python code
_INF = float("inf")


class BadValue(Exception):
    """A value the guard cannot take as given; ``path`` says where, ``code`` which GG4xx
    deny it is (GG404 wrong type, GG420 bad string, GG421 no exact reading, GG422 too
    large)."""

    def __init__(self, path: str, expected: str, value: object, why: str = "", *,
                 code: str = "GG404") -> None:
        shown = _shown(value)
        detail = f" ({why})" if why else ""
        super().__init__(f"{path}: expected {expected}, got {shown}{detail}")
        self.path = path
        self.code = code


def _shown(value: object) -> str:
    # Never run a hostile object's __repr__, nor walk a huge or deep container to print
    # it: a container shows its size, a string its start, a built-in scalar its repr.
    t = type(value)
    name = t.__name__
    if isinstance(value, list | tuple | set | frozenset | dict):
        return f"<{name} of {len(value)} items> ({name})"
    if isinstance(value, str):
        text = repr(str.__str__(value)[:60])
    elif t.__flags__ & _HEAPTYPE or isinstance(value, Mapping):
        text = object.__repr__(value)
    else:
        text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({name})"


def normalize(text: str) -> str:
    """NFKC: the form every string is compared in (docs/language.md)."""
    if text.isascii():  # every ASCII string is already in NFKC; skip the table walk
        return text
    return unicodedata.normalize("NFKC", text)


def _scalar_text(text: str, path: str) -> str:
    """``text`` (an exact str) checked for lone surrogates; GG420 if it has one."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadValue(path, "a valid Unicode string", text,
                       f"lone surrogate U+{ord(text[exc.start]):04X} at index {exc.start}; "
                       "the audit log could not store it", code="GG420") from None
    return text


def _text(value: str, path: str, *, nfkc: bool = True) -> str:
    """An exact, scalar-valued, length-capped (and by default NFKC) copy of a str or str
    subclass; ``str.__str__`` reads the subclass's characters, never its overrides."""
    text = value if type(value) is str else str.__str__(value)
    if len(text) > MAX_STR:
        raise BadValue(path, "a str", text, f"longer than {MAX_STR} characters", code="GG422")
    text = _scalar_text(text, path)
    if nfkc and not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if len(text) > MAX_STR:  # NFKC can expand a character up to 18-fold
            raise BadValue(path, "a str", text, f"longer than {MAX_STR} characters after "
                           "NFKC normalisation", code="GG422")
    return text


def exact_text(value: object, where: str, *, nfkc: bool = True) -> str:
    """A context value (agent, route target, user, task kind or label, call id) as an
    exact str, NFKC-normalised unless ``nfkc=False`` (call ids keep their exact code
    points, so two distinct ids never merge); `BadValue` otherwise.

    >>> exact_text("payments", "agent")
    'payments'
    >>> exact_text(7, "agent")
    Traceback (most recent call last):
    ...
    guardgraph.guardrails._freeze.BadValue: agent: expected a str, got 7 (int)
    """
    if not isinstance(value, str):
        raise BadValue(where, "a str", value)
    return _text(value, where, nfkc=nfkc)


def exact_text_set(value: object, where: str) -> frozenset[str]:
    """A collection of strings (task labels, a set fact) as a frozenset of exact,
    NFKC-normalised strs. A str itself is a type error: it is never read per character.

    >>> sorted(exact_text_set(["pii", "urgent"], "task.labels"))
    ['pii', 'urgent']
    """
    if isinstance(value, str | bytes | bytearray):
        raise BadValue(where, "a collection of str (a set, list or tuple)", value,
                       "a single string is not a collection; wrap it in a set")
    if not isinstance(value, set | frozenset | list | tuple):
        raise BadValue(where, "a collection of str (a set, list or tuple)", value)
    items = _items_of(value)
    if len(items) > MAX_ITEMS:
        raise BadValue(where, "a collection of str", value, f"more than {MAX_ITEMS} items",
                       code="GG422")
    out = []
    total = 0
    for i, item in enumerate(items):
        out.append(exact_text(item, f"{where}[{i}]"))
        total += len(out[-1])
        if total > MAX_CHARS:
            raise BadValue(where, "a collection of str", value,
                           f"more than {MAX_CHARS} characters in all", code="GG422")
    return frozenset(out)


def _items_of(value: object) -> list[object]:
    """The items of a list/tuple/set/frozenset (or subclass) through the base type's
    iterator: a subclass's ``__iter__`` is never called."""
    if isinstance(value, list):
        return list(list.__iter__(value))
    if isinstance(value, tuple):
        return list(tuple.__iter__(value))
    if isinstance(value, frozenset):
        return list(frozenset.__iter__(value))
    return list(set.__iter__(value))  # type: ignore[arg-type]


# ------------------------------------------------------------------ leaves

class _Container:
    """Marks a value that has children (the iterative copy descends into it)."""


_CONTAINER = _Container()


def _int(value: int, path: str) -> int:
    exact = value if type(value) is int else int.__int__(value)  # the stored digits
    if not -MAX_INT <= exact <= MAX_INT:
        raise BadValue(path, "an int", value, f"beyond ±{MAX_INT}", code="GG422")
    return exact


def _float(value: float, path: str) -> float:
    exact = value if type(value) is float else float.__float__(value)
    if exact != exact or exact in (_INF, -_INF):
        raise BadValue(path, "a finite number", value, "NaN and infinities have no exact "
                       "reading", code="GG421")
    return exact


def _rational(num: int, den: int, value: object, path: str) -> int | Fraction:
    if den == 0:
        raise BadValue(path, "a number", value, "zero denominator", code="GG421")
    exact = Fraction(num, den)
    if abs(exact.numerator) > MAX_INT or exact.denominator > MAX_INT:
        raise BadValue(path, "a number", value, f"magnitude or precision beyond {MAX_INT}",
                       code="GG422")
    return exact.numerator if exact.denominator == 1 else exact


_FRACTION_SLOTS = (Fraction.__dict__["_numerator"], Fraction.__dict__["_denominator"])


def _fraction(value: Fraction, path: str) -> int | Fraction:
    if type(value) is Fraction:
        return _rational(value.numerator, value.denominator, value, path)
    # A subclass may override the ``numerator`` property; the slots hold the real value.
    num, den = (slot.__get__(value, Fraction) for slot in _FRACTION_SLOTS)
    if not (isinstance(num, int) and isinstance(den, int)):
        raise BadValue(path, "a number", value, "a Fraction whose parts are not ints",
                       code="GG421")
    return _rational(int.__int__(num), int.__int__(den), value, path)


def _decimal(value: Decimal, path: str) -> int | Fraction:
    # Decimal(sub) copies the C-level digits without calling the subclass's methods.
    exact = value if type(value) is Decimal else Decimal(value)
    if not exact.is_finite():
        raise BadValue(path, "a finite number", value, "NaN and infinities have no exact "
                       "reading", code="GG421")
    # 10**40 > 2**63: out of range either way, and refused before any big-number work
    if abs(exact.adjusted()) > 40 or len(exact.as_tuple().digits) > 40:
        raise BadValue(path, "a number", value, f"magnitude or precision beyond {MAX_INT}",
                       code="GG422")
    num, den = exact.as_integer_ratio()
    return _rational(num, den, value, path)


def _numpy(value: object, path: str) -> object:
    """A numpy scalar (numpy's own C types only) by value, where that is exact."""
    item = value.item()  # type: ignore[attr-defined]
    if type(item) in (int, bool):
        return item if type(item) is bool else _int(item, path)
    if type(item) is float:
        return _float(item, path)
    # longdouble (and friends) answer with themselves: a float only if nothing is lost;
    # a complex value never is one (float() would drop its imaginary part).
    if isinstance(item, complex) or "complex" in type(value).__name__:
        raise BadValue(path, "a built-in value", value, "a complex number has no exact "
                       "int, float or bool reading", code="GG421")
    try:
        as_float = float(value)  # type: ignore[arg-type]
        lossless = bool(type(value)(as_float) == value)  # type: ignore[call-arg]
    except (TypeError, ValueError, OverflowError):
        lossless = False
    if lossless:
        return _float(as_float, path)
    raise BadValue(path, "a built-in value", value, "this numpy value has no exact "
                   "int, float or bool reading", code="GG421")


def _leaf(value: object, path: str) -> object:
    """The frozen copy of a scalar, `_CONTAINER` for a container, or `BadValue`."""
    t = type(value)
    if t is str:
        return _text(value, path)  # type: ignore[arg-type]
    if t is int:
        return _int(value, path)  # type: ignore[arg-type]
    if t is bool or value is None:
        return value
    if t is float:
        return _float(value, path)  # type: ignore[arg-type]
    if isinstance(value, list | tuple | set | frozenset | Mapping):
        return _CONTAINER
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, int):
        return _int(value, path)
    if isinstance(value, float):
        return _float(value, path)
    if isinstance(value, Fraction):
        return _fraction(value, path)
    if isinstance(value, Decimal):
        return _decimal(value, path)
    if t.__module__ == "numpy" and not t.__flags__ & _HEAPTYPE and hasattr(value, "item"):
        return _numpy(value, path)
    raise BadValue(path, "a built-in value (str, int, float, bool, None, list, tuple, set, "
                   "frozenset or dict)", value, code="GG421")


def _children(value: object, path: str) -> tuple[str, list[object], list[str]]:
    """(kind, child values, mapping keys) of a container, read without its overrides."""
    if isinstance(value, Mapping):
        keys: list[str] = []
        vals: list[object] = []
        if isinstance(value, dict):
            pairs = list(dict.items(value))
        else:
            # A non-dict Mapping (a MappingProxyType, a third-party frozendict) can only be
            # read through its own methods; whatever they raise is a deny, not a crash.
            try:
                pairs = list(value.items())
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                raise BadValue(path, "a readable mapping", value,
                               f"reading it raised {type(exc).__name__}: {exc}",
                               code="GG421") from None
        if len(pairs) > MAX_ITEMS:
            raise BadValue(path, "a mapping", value, f"more than {MAX_ITEMS} items",
                           code="GG422")
        seen: set[str] = set()
        for k, v in pairs:
            if type(k) is str and k.isascii() and len(k) <= MAX_STR:
                key = k
            elif isinstance(k, str):
                key = _text(k, f"{path} key")
            else:
                raise BadValue(f"{path} key", "a str key", k)
            if key in seen:
                raise BadValue(f"{path}.{key}", "distinct keys", k,
                               "two keys are equal after NFKC normalisation")
            seen.add(key)
            keys.append(key)
            vals.append(v)
        return "map", vals, keys
    items = _items_of(value)
    if len(items) > MAX_ITEMS:
        raise BadValue(path, "a collection", value, f"more than {MAX_ITEMS} items",
                       code="GG422")
    return ("set" if isinstance(value, set | frozenset) else "seq"), items, []


def _path(parent: str, kind: str, index: int, keys: list[str]) -> str:
    if kind == "map":
        key = keys[index]
        return f"{parent}.{key}" if key.isidentifier() else f"{parent}[{key!r}]"
    return f"{parent}[{index}]"


def freeze(value: object, where: str) -> object:
    """An exact, immutable, built-in copy of ``value``; `BadValue` (with ``.code``) if it
    has none or is beyond the caps. Lists become tuples, sets frozensets, mappings
    read-only ``MappingProxyType`` over a dict with str keys; strings are NFKC.

    >>> freeze({"to": "ＧＢ", "n": [1, 2.5]}, "args")
    mappingproxy({'to': 'GB', 'n': (1, 2.5)})
    >>> freeze(float("nan"), "amount").code
    Traceback (most recent call last):
    ...
    guardgraph.guardrails._freeze.BadValue: amount: expected a finite number, got nan ...
    """
    leaf = _leaf(value, where)
    if leaf is not _CONTAINER:
        return leaf
    if type(value) is dict:
        flat = _flat(value)
        if flat is not None:
            return flat
    nodes = 1
    chars = 0
    root: list[object] = [None]
    # A work list instead of recursion: ("in", value, path, depth, into, slot) copies a
    # value into into[slot]; ("out", ...) builds a container once its children are in.
    work: list[tuple[Any, ...]] = [("in", value, where, 0, root, 0)]
    while work:
        step = work.pop()
        if step[0] == "out":
            _, kind, built, keys, path, into, slot = step
            into[slot] = _build(kind, built, keys, path)
            continue
        _, v, at, depth, into, slot = step
        # The path is built only for values that need more than a type test: formatting
        # one per plain leaf was most of the cost of a copy.
        path = _path(*at) if type(at) is tuple else at
        leaf = _leaf(v, path) if depth else _CONTAINER
        if leaf is not _CONTAINER:
            if type(leaf) is str:
                chars += len(leaf)
                if chars > MAX_CHARS:
                    raise BadValue(where, "a value", value,
                                   f"more than {MAX_CHARS} characters in all", code="GG422")
            into[slot] = leaf
            continue
        if depth >= MAX_DEPTH:
            raise BadValue(path, "a value", v,
                           f"nested more than {MAX_DEPTH} levels deep", code="GG422")
        kind, children, keys = _children(v, path)
        nodes += len(children)
        if nodes > MAX_NODES:
            raise BadValue(where, "a value", value, f"more than {MAX_NODES} values in all",
                           code="GG422")
        items: list[object] = [None] * len(children)
        work.append(("out", kind, items, keys, path, into, slot))
        for i in range(len(children) - 1, -1, -1):
            c: Any = children[i]
            t = type(c)
            if t is str and c.isascii() and len(c) <= MAX_STR:  # already exact and NFKC
                chars += len(c)
                items[i] = c
            elif (t is int and -MAX_INT <= c <= MAX_INT) or t is bool or c is None:
                items[i] = c
            else:
                work.append(("in", c, (path, kind, i, keys), depth + 1, items, i))
        if chars > MAX_CHARS:
            raise BadValue(where, "a value", value, f"more than {MAX_CHARS} characters in all",
                           code="GG422")
    return root[0]


def _flat(value: dict[Any, Any]) -> MappingProxyType[str, object] | None:
    """The common case, a dict of ASCII names to plain ASCII strs, ints, finite floats,
    bools and None, copied in one loop; None sends anything else through the general
    copy."""
    if len(value) > MAX_ITEMS:
        return None
    out: dict[str, object] = {}
    chars = 0
    for k, v in dict.items(value):
        t = type(v)
        if type(k) is not str or not k.isascii():
            return None
        if t is str:
            if not v.isascii() or len(v) > MAX_STR:
                return None
            chars += len(v)
        elif t is int:
            if not -MAX_INT <= v <= MAX_INT:
                return None
        elif t is float:
            if v != v or v in (_INF, -_INF):
                return None
        elif t is not bool and v is not None:
            return None
        out[k] = v
    return MappingProxyType(out) if chars <= MAX_CHARS else None


def _build(kind: str, items: list[object], keys: list[str], path: str) -> object:
    if kind == "seq":
        return tuple(items)
    if kind == "map":
        return MappingProxyType(dict(zip(keys, items, strict=True)))
    try:
        return frozenset(items)
    except TypeError:  # a read-only mapping inside a set has no hash
        raise BadValue(path, "a set of hashable values", items,
                       "a set cannot hold a mapping", code="GG421") from None
