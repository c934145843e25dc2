"""Z3 regular expressions written as Python regex text, for lint's search: it samples
members of a spec's regexes (``_search.regex_samples``) and tests single characters.

The guard never matches with these (its fast path uses the linear-time engine of
``_regex``); a backtracking Python regex is fine here, on strings lint makes itself.
"""

from __future__ import annotations

import re

import z3

from guardgraph.guardrails._fastpath import Unsupported, z3_string

__all__ = ["charclass", "python_regex"]


def python_regex(r: z3.ExprRef) -> str:
    """Python regex text with the members of ``r``; Unsupported where it has none."""
    k = r.decl().kind()
    if k == z3.Z3_OP_SEQ_TO_RE:
        s = r.arg(0)
        if not z3.is_string_value(s):
            raise Unsupported("regex from a non-literal string")
        return re.escape(z3_string(s))
    if k == z3.Z3_OP_RE_CONCAT:
        return "".join(python_regex(c) for c in r.children())
    if k == z3.Z3_OP_RE_UNION:
        return "(?:" + "|".join(python_regex(c) for c in r.children()) + ")"
    if k == z3.Z3_OP_RE_STAR:
        return f"(?:{python_regex(r.arg(0))})*"
    if k == z3.Z3_OP_RE_PLUS:
        return f"(?:{python_regex(r.arg(0))})+"
    if k == z3.Z3_OP_RE_OPTION:
        return f"(?:{python_regex(r.arg(0))})?"
    if k == z3.Z3_OP_RE_LOOP:
        params = r.decl().params()
        lo = params[0] if params else 0
        hi = params[1] if len(params) > 1 else None
        return f"(?:{python_regex(r.arg(0))}){{{lo},{'' if hi is None else hi}}}"
    if k == z3.Z3_OP_RE_FULL_SET:
        return "(?:.*)"
    if k == z3.Z3_OP_RE_EMPTY_SET:
        return "(?!)"
    cls = charclass(r)
    if cls is None:
        raise Unsupported(f"regex operator {r.decl().name()}")
    return cls


def charclass(r: z3.ExprRef) -> str | None:
    """A single-character regex (range, all, difference, intersect-with-complement)."""
    k = r.decl().kind()
    if k == z3.Z3_OP_RE_FULL_CHAR_SET:
        return "."
    if k == z3.Z3_OP_RE_RANGE:
        lo, hi = r.arg(0), r.arg(1)
        if not (z3.is_string_value(lo) and z3.is_string_value(hi)):
            return None
        a, b = z3_string(lo), z3_string(hi)
        if len(a) != 1 or len(b) != 1:
            return "(?!)"  # Z3: a range with non-singleton bounds is empty
        return f"[{re.escape(a)}-{re.escape(b)}]"
    if k == z3.Z3_OP_RE_UNION:
        parts = [charclass(c) for c in r.children()]
        return None if None in parts else "(?:" + "|".join(p for p in parts if p) + ")"
    if k == z3.Z3_OP_RE_DIFF:
        keep, drop = charclass(r.arg(0)), charclass(r.arg(1))
        return None if keep is None or drop is None else f"(?:(?!{drop}){keep})"
    if k == z3.Z3_OP_RE_INTERSECT and r.num_args() == 2:
        keep = charclass(r.arg(0))
        other = r.arg(1)
        if keep is not None and other.decl().kind() == z3.Z3_OP_RE_COMPLEMENT:
            drop = charclass(other.arg(0))
            return None if drop is None else f"(?:(?!{drop}){keep})"
    return None
