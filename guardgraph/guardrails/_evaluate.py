"""Z3 as the reference evaluator: the truth value of a term under concrete inputs.

Used where the fast path cannot decide and by the differential tests. `unknown`, a
time-out, or a term whose value the inputs do not determine (Z3 leaves ``x/0`` and
out-of-range ``seq.nth`` unspecified) all come back as None, which the guard turns into a
deny (GG409): an undecided answer is never an allow.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import z3

__all__ = ["decide", "string_val"]


def string_val(value: str, ctx: z3.Context) -> z3.SeqRef:
    """A Z3 string literal with exactly these code points.

    ``z3.StringVal`` interprets escapes such as ``\\u{41}`` inside the Python string, so
    an attacker-chosen ``"\\u{73}end"`` would become ``"send"`` in Z3 but not in Python;
    building from code points keeps both sides equal.
    """
    points = [ord(ch) for ch in value]
    buf = (ctypes.c_uint * len(points))(*points)
    return z3.SeqRef(z3.Z3_mk_u32string(ctx.ref(), len(points), buf), ctx)


def decide(term: z3.BoolRef, assignment: Sequence[tuple[z3.ExprRef, z3.ExprRef]], *,
           timeout_ms: int = 2000) -> bool | None:
    """True/False when the assignment determines ``term``; None when Z3 cannot tell."""
    ground = z3.substitute(term, *assignment) if assignment else term
    simple = z3.simplify(ground)
    if z3.is_true(simple):
        return True
    if z3.is_false(simple):
        return False
    ctx = term.ctx
    verdicts: list[z3.CheckSatResult] = []
    for goal in (simple, z3.Not(simple)):
        solver = z3.Solver(ctx=ctx)
        solver.set(timeout=timeout_ms)
        solver.add(goal)
        verdicts.append(solver.check())
    holds, fails = verdicts
    if holds == z3.sat and fails == z3.unsat:
        return True
    if holds == z3.unsat and fails == z3.sat:
        return False
    return None
