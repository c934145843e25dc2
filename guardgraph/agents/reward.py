"""Reward from specs: a progress potential read off the rules, and the shaped reward.

Every rule form that carries *state* — something an agent can advance or use up — becomes
one term of a potential Φ(s) in [0, 1]; rules over the current arguments alone carry no
state and give no term (their signal is the shield's mask and the Lagrangian on attempted
violations). docs/learning.md has the table; in short:

- ``once(P [within w])``: a two-state automaton (not yet / seen); 1 once a matching call
  was executed (inside the window).
- ``result(T)``: 1 once T has run and its result is known.
- ``historically(P)``: 1 while every executed call matched P (an absorbing failure state).
- ``previously(P)``: 1 when the last executed call matched P.
- ``since(P, Q)``: 1 when some call matched Q and every later one matched P.
- budgets ``agg(...) <op> cap`` (count, sum, max within a window against a constant):
  the remaining slack, ``(cap - agg) / cap`` clipped to [0, 1].

The shaping is potential-based, F = γ·Φ(s') − Φ(s) with Φ = 0 at episode end (Ng, Harada
and Russell, ICML 1999): it adds the same total to every trajectory's return up to
discounting, so the optimal policies of the task reward are unchanged, while the agent is
paid as soon as it advances a monitor (verify before pay) instead of only at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from guardgraph.specs import ast

__all__ = ["Executed", "SpecPotential", "Term", "TermKind", "shaping"]


class TermKind(StrEnum):
    ONCE = "once"
    RESULT = "result"
    HISTORICALLY = "historically"
    PREVIOUSLY = "previously"
    SINCE = "since"
    BUDGET = "budget"


@dataclass(frozen=True, slots=True, kw_only=True)
class Executed:
    """One executed call of an episode, as the potential reads it; ``at`` in seconds."""

    tool: str
    args: Mapping[str, object]
    at: float
    output: object = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    """One stateful sub-formula of a rule and how it becomes a number in [0, 1]."""

    rule: str
    kind: TermKind
    pattern: ast.EventPattern | None = None
    anchor: ast.EventPattern | None = None  # for since(held=pattern, anchor)
    window_s: int | None = None
    tool: str | None = None                 # for result(tool)
    func: ast.AggregateFunc | None = None   # for budgets
    field: str | None = None
    cap: float | None = None
    strict: bool = False                    # `<` rather than `<=`

    def describe(self) -> str:
        match self.kind:
            case TermKind.RESULT:
                return f"{self.rule}: result({self.tool}) known"
            case TermKind.BUDGET:
                what = f"{self.func}({self.pattern.tool if self.pattern else 'any'}" + (
                    f".{self.field}" if self.field else "") + ")"
                return f"{self.rule}: slack of {what} against {self.cap:g}"
            case TermKind.SINCE:
                return f"{self.rule}: since({_pat(self.pattern)}, {_pat(self.anchor)})"
        return f"{self.rule}: {self.kind}({_pat(self.pattern)})"


def _pat(p: ast.EventPattern | None) -> str:
    return "any" if p is None or p.tool is None else p.tool


class SpecPotential:
    """Φ(s) over an episode's executed calls, derived from a spec's rules.

    >>> from guardgraph.specs import load_text
    >>> spec = load_text('spec s version 1\\ntool pay(amount: int)\\ntool verify()\\n'
    ...                  'rule v:\\n  on pay\\n  require once(verify)\\n').spec
    >>> phi = SpecPotential(spec)
    >>> [t.kind.value for t in phi.terms]
    ['once']
    >>> phi.value([], now=0.0), phi.value([Executed(tool="verify", args={}, at=0.0)], now=1.0)
    (0.0, 1.0)
    """

    def __init__(self, spec: ast.Spec) -> None:
        self._consts = _constants(spec)
        terms: list[Term] = []
        seen: set[tuple[object, ...]] = set()
        for rule in spec.rules:
            for term in _terms_of(rule, rule.require, self._consts):
                key = (term.kind, term.pattern, term.anchor, term.window_s, term.tool,
                       term.func, term.field, term.cap)
                if key not in seen:  # the same monitor guarding two tools counts once
                    seen.add(key)
                    terms.append(term)
        self.terms: tuple[Term, ...] = tuple(terms)

    def features(self, history: Sequence[Executed], now: float) -> tuple[float, ...]:
        """Each term's value: the monitor part of an observation."""
        return tuple(_value(t, history, now, self._consts) for t in self.terms)

    def value(self, history: Sequence[Executed], now: float) -> float:
        """Φ: the mean of the terms (0 for a spec without stateful rules)."""
        if not self.terms:
            return 0.0
        return sum(self.features(history, now)) / len(self.terms)


def shaping(phi_before: float, phi_after: float, *, gamma: float, terminal: bool) -> float:
    """F = γ·Φ(s') − Φ(s), with Φ(s') = 0 when s' ends the episode.

    >>> shaping(0.0, 1.0, gamma=0.9, terminal=False)
    0.9
    >>> shaping(1.0, 1.0, gamma=0.9, terminal=True)
    -1.0
    """
    return gamma * (0.0 if terminal else phi_after) - phi_before


# --------------------------------------------------------------------------- derivation


def _constants(spec: ast.Spec) -> dict[str, object]:
    consts: dict[str, object] = {}
    for c in spec.consts:
        value = _eval(c.value, {}, consts)
        if value is not _UNKNOWN:
            consts[c.name] = value
    return consts


def _terms_of(rule: ast.Rule, expr: ast.Expr, consts: Mapping[str, object]) -> list[Term]:
    match expr:
        case ast.Temporal(op=op, pattern=p, window=w):
            kind = {ast.TemporalOp.ONCE: TermKind.ONCE,
                    ast.TemporalOp.HISTORICALLY: TermKind.HISTORICALLY,
                    ast.TemporalOp.PREVIOUSLY: TermKind.PREVIOUSLY}[op]
            return [Term(rule=rule.name, kind=kind, pattern=p,
                         window_s=w.seconds if w is not None else None)]
        case ast.Since(held=h, anchor=a):
            return [Term(rule=rule.name, kind=TermKind.SINCE, pattern=h, anchor=a)]
        case ast.Call(func="result", args=(ast.Name(id=tool),)):
            return [Term(rule=rule.name, kind=TermKind.RESULT, tool=tool)]
        case ast.Binary(op=op, left=left, right=right) if op in _BUDGET_OPS:
            budget = _budget(rule, op, left, right, consts)
            if budget is not None:
                return [budget]
            return _terms_of(rule, left, consts) + _terms_of(rule, right, consts)
        case ast.Binary(left=left, right=right):
            return _terms_of(rule, left, consts) + _terms_of(rule, right, consts)
        case ast.Unary(operand=operand):
            return _terms_of(rule, operand, consts)
        case ast.Call(args=args):
            return [t for a in args for t in _terms_of(rule, a, consts)]
    return []


_BUDGET_OPS = (ast.BinOp.LE, ast.BinOp.LT, ast.BinOp.GE, ast.BinOp.GT)


def _budget(rule: ast.Rule, op: ast.BinOp, left: ast.Expr, right: ast.Expr,
            consts: Mapping[str, object]) -> Term | None:
    """``agg(...) [+ x] <= cap`` (or ``cap >= agg(...)``) with a constant cap."""
    if op in (ast.BinOp.GE, ast.BinOp.GT):
        left, right = right, left
    agg = _aggregate_in(left)
    cap = _eval(right, {}, consts)
    if agg is None or isinstance(cap, bool) or not isinstance(cap, int | float | Fraction):
        return None
    if agg.func is ast.AggregateFunc.MIN or float(cap) <= 0:
        return None  # a floor, not an allowance that is used up
    return Term(rule=rule.name, kind=TermKind.BUDGET, pattern=agg.pattern, func=agg.func,
                field=agg.field, cap=float(cap), strict=op in (ast.BinOp.LT, ast.BinOp.GT),
                window_s=agg.window.seconds if agg.window is not None else None)


def _aggregate_in(expr: ast.Expr) -> ast.Aggregate | None:
    match expr:
        case ast.Aggregate():
            return expr
        case ast.Binary(op=ast.BinOp.ADD, left=left, right=right):
            return _aggregate_in(left) or _aggregate_in(right)
    return None


# --------------------------------------------------------------------------- evaluation


def _value(term: Term, history: Sequence[Executed], now: float,
           consts: Mapping[str, object]) -> float:
    def matches(p: ast.EventPattern | None, e: Executed) -> bool:
        return _matches(p, e, consts)

    recent = [e for e in history
              if term.window_s is None or now - e.at <= term.window_s]
    match term.kind:
        case TermKind.ONCE:
            return float(any(matches(term.pattern, e) for e in recent))
        case TermKind.RESULT:
            return float(any(e.tool == term.tool and e.output is not None for e in history))
        case TermKind.HISTORICALLY:
            return float(all(matches(term.pattern, e) for e in history))
        case TermKind.PREVIOUSLY:
            return float(bool(history) and matches(term.pattern, history[-1]))
        case TermKind.SINCE:
            anchors = [i for i, e in enumerate(history) if matches(term.anchor, e)]
            return float(bool(anchors) and all(matches(term.pattern, e)
                                               for e in history[anchors[-1] + 1:]))
        case TermKind.BUDGET:
            used = [e for e in recent if matches(term.pattern, e)]
            cap = term.cap or 1.0
            if term.func is ast.AggregateFunc.COUNT:
                spent = float(len(used))
            else:
                vals = [float(v) for e in used
                        if isinstance(v := e.args.get(term.field or ""), int | float | Fraction)
                        and not isinstance(v, bool)]
                spent = (sum(vals) if term.func is ast.AggregateFunc.SUM
                         else max(vals, default=0.0))
            return min(1.0, max(0.0, (cap - spent) / cap))
    return 0.0


def _matches(p: ast.EventPattern | None, e: Executed, consts: Mapping[str, object]) -> bool:
    if p is None:
        return True
    hit = p.tool is None or p.tool == e.tool
    if hit and p.where is not None:
        got = _eval(p.where, e.args, consts)
        # A filter this reader cannot evaluate counts as matching: the potential is a
        # heuristic (shaping stays policy-invariant whatever Φ is), the guard decides.
        hit = got is _UNKNOWN or bool(got)
    return hit != p.negated


_UNKNOWN = object()


def _eval(expr: ast.Expr, args: Mapping[str, object], consts: Mapping[str, object]) -> object:
    """A small reader for constant expressions and event filters; `_UNKNOWN` otherwise."""
    match expr:
        case ast.IntLit(value=v) | ast.StrLit(value=v) | ast.BoolLit(value=v):
            return v
        case ast.RealLit(value=v):
            return v
        case ast.DurationLit(seconds=s):
            return s
        case ast.Name(id=name):
            if name in args:
                return args[name]
            return consts.get(name, _UNKNOWN)
        case ast.Attribute(value=base, attr=attr):
            got = _eval(base, args, consts)
            return got.get(attr, _UNKNOWN) if isinstance(got, Mapping) else _UNKNOWN
        case ast.SetLit(items=items) | ast.ListLit(items=items):
            vals = [_eval(i, args, consts) for i in items]
            return _UNKNOWN if any(v is _UNKNOWN for v in vals) else frozenset(
                v for v in vals if isinstance(v, str | int | float | Fraction | bool))
        case ast.Unary(op=op, operand=operand):
            inner = _eval(operand, args, consts)
            if inner is _UNKNOWN:
                return _UNKNOWN
            if op is ast.UnOp.NOT:
                return not inner
            return -inner if isinstance(inner, int | Fraction | float) else _UNKNOWN
        case ast.Binary(op=op, left=left, right=right):
            a, b = _eval(left, args, consts), _eval(right, args, consts)
            if a is _UNKNOWN or b is _UNKNOWN:
                return _UNKNOWN
            try:
                return _BINARY[op](a, b)
            except (TypeError, ZeroDivisionError, KeyError):
                return _UNKNOWN
    return _UNKNOWN


_BINARY: dict[ast.BinOp, Callable[[Any, Any], object]] = {
    ast.BinOp.ADD: lambda a, b: a + b, ast.BinOp.SUB: lambda a, b: a - b,
    ast.BinOp.MUL: lambda a, b: a * b, ast.BinOp.DIV: lambda a, b: Fraction(a) / Fraction(b),
    ast.BinOp.MOD: lambda a, b: a % b, ast.BinOp.EQ: lambda a, b: a == b,
    ast.BinOp.NE: lambda a, b: a != b, ast.BinOp.LT: lambda a, b: a < b,
    ast.BinOp.LE: lambda a, b: a <= b, ast.BinOp.GT: lambda a, b: a > b,
    ast.BinOp.GE: lambda a, b: a >= b, ast.BinOp.IN: lambda a, b: a in b,
    ast.BinOp.NOT_IN: lambda a, b: a not in b, ast.BinOp.AND: lambda a, b: bool(a and b),
    ast.BinOp.OR: lambda a, b: bool(a or b), ast.BinOp.IMPLIES: lambda a, b: bool(not a or b),
}
