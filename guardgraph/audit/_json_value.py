"""Owns the check that a value can live in an audit record: plain JSON, valid Unicode.

Payload values come from the guard's frozen copies (tuples, frozensets, read-only
mappings) or from users; they become plain JSON here, once, before anything is hashed. A
value the log cannot store exactly (a NaN, a lone surrogate, a non-string key, an object)
is refused with a message that names where it sits, never stored approximately.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from guardgraph.errors import AuditPayloadError

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "check_text", "json_value"]

MAX_DEPTH = 64  # deeper nesting is not an argument a rule can speak of
MAX_ITEMS = 1_000_000  # containers and scalars in one payload


def check_text(value: str, where: str) -> str:
    """``value`` when it is a string of Unicode scalars (no lone surrogates)."""
    if value.isascii():  # the common case, and no surrogate is ASCII
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuditPayloadError(
            f"{where}: expected valid Unicode text, got a string with a lone surrogate "
            f"({value!r})"
        ) from None
    return value


def _describe(value: object) -> str:
    text = repr(value)
    return (text if len(text) <= 60 else text[:59] + "…") + f" ({type(value).__name__})"


def _sort_key(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def json_value(value: Any, where: str) -> Any:
    """A plain-JSON copy of ``value`` (dicts, lists, str, int, float, bool, None).

    Tuples become lists, mappings dicts, sets sorted lists (by their JSON text, so the
    order does not depend on hashing). Iterative, so no nesting reaches Python's recursion
    limit; deeper than ``MAX_DEPTH`` or larger than ``MAX_ITEMS`` is refused.

    >>> json_value({"b": (1, 2.5), "a": frozenset({"y", "x"})}, "args")
    {'b': [1, 2.5], 'a': ['x', 'y']}
    """
    if type(value) is dict and len(value) <= 64:
        # Fast path for the usual arguments object: string keys and scalar values.
        flat = True
        for k, v in value.items():
            t = type(v)
            if type(k) is not str or not k.isascii() or not (
                v is None or t is bool or t is int or (t is str and v.isascii())
                or (t is float and math.isfinite(v))
            ):
                flat = False
                break
        if flat:
            return dict(value)
    items = 0
    root: list[Any] = [None]
    # (value, container to put the copy into, key or index, path, depth)
    stack: list[tuple[Any, Any, Any, str, int]] = [(value, root, 0, where, 0)]
    while stack:
        v, into, slot, path, depth = stack.pop()
        items += 1
        if items > MAX_ITEMS:
            raise AuditPayloadError(f"{where}: more than {MAX_ITEMS} values in one payload")
        t = type(v)
        if v is None or t is bool or t is int:
            into[slot] = v
        elif t is float:
            if not math.isfinite(v):
                raise AuditPayloadError(f"{path}: expected a finite number, got {v!r}")
            into[slot] = v
        elif t is str:
            into[slot] = check_text(v, path)
        elif isinstance(v, bool | int | float | str):
            # A subclass could lie about its value through __eq__, __str__ or __float__:
            # store only what the built-in type says.
            exact = (int.__int__(v) if isinstance(v, int) else
                     float.__float__(v) if isinstance(v, float) else str.__str__(v))
            stack.append((exact, into, slot, path, depth))
            items -= 1
        elif depth >= MAX_DEPTH:
            raise AuditPayloadError(f"{path}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(v, Mapping):
            out: dict[str, Any] = {}
            into[slot] = out
            for k, child in v.items():
                if type(k) is not str:
                    raise AuditPayloadError(f"{path}: expected string keys, got {_describe(k)}")
                check_text(k, path)
                out[k] = None
                stack.append((child, out, k, f"{path}.{k}", depth + 1))
        elif isinstance(v, list | tuple):
            seq: list[Any] = [None] * len(v)
            into[slot] = seq
            for i, child in enumerate(v):
                stack.append((child, seq, i, f"{path}[{i}]", depth + 1))
        elif isinstance(v, set | frozenset):
            members = [json_value(m, f"{path}{{}}") for m in v]
            into[slot] = sorted(members, key=_sort_key)
            items += len(members)
        else:
            raise AuditPayloadError(
                f"{path}: expected a JSON value (str, int, float, bool, None, list, dict), "
                f"got {_describe(v)}"
            )
    return root[0]
