"""Canonical one-line DSL text of an expression: the stable keys of monitor inputs
(``mon:sum(send_money.amount within 24h)``) and the terms named in lint witnesses.

Equal AST nodes (spans ignored) give equal text, so equal terms share one input.
"""

from __future__ import annotations

import json

from guardgraph.specs import ast

__all__ = ["expr_text", "pattern_text"]

_ATOM = 10


def expr_text(e: ast.Expr) -> str:
    """One-line text of ``e``.

    >>> expr_text(ast.Binary(op=ast.BinOp.ADD, left=ast.Name(id="a"), right=ast.IntLit(value=1)))
    'a + 1'
    """
    return _text(e)[0]


def pattern_text(p: ast.EventPattern) -> str:
    head = p.tool if p.tool is not None else "any"
    if p.where is not None:
        head = f"{head} where {expr_text(p.where)}"
    return f"not {head}" if p.negated else head


def _window(w: ast.DurationLit | None) -> str:
    return "" if w is None else f" within {_duration(w)}"


def _duration(d: ast.DurationLit) -> str:
    if d.text:
        return d.text
    for unit, secs in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if d.seconds % secs == 0 and d.seconds >= secs:
            return f"{d.seconds // secs}{unit}"
    return f"{d.seconds}s"


def _paren(e: ast.Expr, floor: int) -> str:
    text, prec = _text(e)
    return f"({text})" if prec < floor else text


def _text(e: ast.Expr) -> tuple[str, int]:
    match e:
        case ast.IntLit(value=v):
            return str(v), _ATOM
        case ast.RealLit(value=v, text=t):
            if t:
                return t, _ATOM
            return (str(v.numerator) + ".0" if v.denominator == 1 else str(float(v))), _ATOM
        case ast.StrLit(value=v):
            return json.dumps(v, ensure_ascii=False), _ATOM
        case ast.BoolLit(value=v):
            return ("true" if v else "false"), _ATOM
        case ast.DurationLit():
            return _duration(e), _ATOM
        case ast.Name(id=i):
            return i, _ATOM
        case ast.Attribute(value=v, attr=a):
            return f"{_paren(v, _ATOM)}.{a}", _ATOM
        case ast.Unary(op=ast.UnOp.NOT, operand=o):
            return f"not {_paren(o, ast.NOT_PRECEDENCE)}", ast.NOT_PRECEDENCE
        case ast.Unary(op=ast.UnOp.NEG, operand=o):
            return f"-{_paren(o, ast.NEG_PRECEDENCE)}", ast.NEG_PRECEDENCE
        case ast.Binary(op=op, left=lhs, right=rhs):
            prec = ast.BINARY_PRECEDENCE[op]
            right_assoc = op is ast.BinOp.IMPLIES
            left = _paren(lhs, prec + 1 if right_assoc or prec == 5 else prec)
            right = _paren(rhs, prec if right_assoc else prec + 1)
            return f"{left} {op.value} {right}", prec
        case ast.SetLit(items=items):
            return "{" + ", ".join(expr_text(i) for i in items) + "}", _ATOM
        case ast.ListLit(items=items):
            return "[" + ", ".join(expr_text(i) for i in items) + "]", _ATOM
        case ast.Call(func=f, args=args):
            return f"{f}(" + ", ".join(expr_text(a) for a in args) + ")", _ATOM
        case ast.Quantifier(kind=k, var=v, domain=d, body=b):
            return f"{k.value} {v} in {_paren(d, 5)}: {expr_text(b)}", 0
        case ast.Aggregate(func=f, pattern=p, field=fld, window=w):
            head = pattern_text(p)
            if fld is not None:
                tool = p.tool if p.tool is not None else "any"
                head = f"{tool}.{fld}" + head[len(tool) :]
            return f"{f.value}({head}{_window(w)})", _ATOM
        case ast.Temporal(op=op, pattern=p, window=w):
            return f"{op.value}({pattern_text(p)}{_window(w)})", _ATOM
        case ast.Since(held=h, anchor=a):
            return f"since({pattern_text(h)}, {pattern_text(a)})", _ATOM
    raise TypeError(f"not an expression: {e!r}")  # pragma: no cover
