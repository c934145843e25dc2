"""The formatter: one canonical text for a ``SpecFile`` (``guardgraph fmt``).

Layout: comments before the header, the header, the includes, then the items in source
order; a blank line between items, except that consecutive one-line declarations of the
same kind (tools, facts, consts, ...) stay together. Rules put each clause on its own line,
indented two spaces; a clause longer than ``WIDTH`` is broken before its top-level
``and``/``or``. Parentheses are the fewest that keep the tree (``ast.BINARY_PRECEDENCE``),
strings are re-escaped, and literals keep their source spelling (``1_000``, ``24h``) when
it still denotes the node's value.

Contract (tested with hypothesis): ``parse(format_spec(f)) == f`` and formatting is
idempotent. Comments are kept; a comment from inside a rule moves above the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Final

from guardgraph.specs import ast
from guardgraph.specs._lexer import duration_value

__all__ = ["WIDTH", "format_expr", "format_spec", "format_type", "format_value", "quote"]

WIDTH: Final = 100
_INDENT: Final = "  "
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}
_INT_TEXT: Final = re.compile(r"[0-9]+(?:_[0-9]+)*")
_POSTFIX: Final = 9
_ATOM: Final = 10
_UNITS: Final = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_spec(file: ast.SpecFile) -> str:
    """The canonical text of ``file``.

    >>> from guardgraph.specs import parse
    >>> spec, _ = parse("spec  demo version 1 rule r: on f require x>1 and(y<2)")
    >>> print(format_spec(spec), end="")
    spec demo version 1
    <BLANKLINE>
    rule r:
      on f
      require x > 1 and y < 2
    """
    out: list[str] = [*_comment_lines(file.comments), f"spec {file.name} version {file.version}"]
    for k, inc in enumerate(file.includes):
        if k == 0 or _blank_before(inc.comments):
            out.append("")
        out += [*_comment_lines(inc.comments),
                _with_end(f"include {quote(inc.path)}", inc.end_comments, "")]
    previous: str | None = None
    previous_kind: type | None = None
    for item in file.items:
        text = _item(item)
        if not isinstance(item, ast.Rule):
            text = _with_end(text, item.end_comments, "")
        together = (
            previous is not None
            and type(item) is previous_kind
            and not isinstance(item, ast.Rule)
            and "\n" not in text
            and "\n" not in previous
        )
        if not together or _blank_before(item.comments):
            out.append("")
        out += [*_comment_lines(item.comments), text]
        previous, previous_kind = text, type(item)
    trailing = _comment_lines(file.trailing_comments)
    while trailing and trailing[-1] == "":
        trailing.pop()
    if trailing:
        out += ["", *trailing]
    return "\n".join(out) + "\n"


def _with_end(text: str, ends: tuple[tuple[str, str], ...], clause: str | None) -> str:
    """``text`` with the end-of-line comments of ``clause`` (None: all of them) after its
    last line, as the author had them."""
    mine = [c for key, c in ends if clause is None or key == clause]
    if not mine:
        return text
    return f"{text}  {' '.join(mine)}"


def _blank_before(comments: tuple[str, ...]) -> bool:
    """Whether the item opens a new group: its comments start with a blank-line marker."""
    return bool(comments) and not comments[0].strip()


def _comment_lines(comments: tuple[str, ...]) -> list[str]:
    """Comment lines to print above an item: "" entries become one blank line each run
    (none at the start: `_blank_before` says that), and every line starts with `#`."""
    out: list[str] = []
    for comment in comments:
        for line in comment.split("\n"):
            text = line.rstrip()
            if not text.strip():
                if out and out[-1] != "":
                    out.append("")
            else:
                out.append(text if text.startswith("#") else f"# {text}")
    return out


# ------------------------------------------------------------------------- items


def _item(item: ast.Decl) -> str:
    if isinstance(item, ast.Rule):
        return _rule(item)
    if isinstance(item, ast.ToolDecl):
        head = f"tool {item.name}("
        tail = ")"
        if item.returns is not None:
            tail += f" -> {format_type(item.returns)}"
        if item.untrusted:
            tail += " untrusted"
            if item.untrusted_fields:
                tail += f"({', '.join(item.untrusted_fields)})"
        return _listing(head, [_param(p) for p in item.params], tail)
    if isinstance(item, ast.RecordDecl):
        fields = [f"{f.name}: {format_type(f.type)}" for f in item.fields]
        return _listing(f"type {item.name} = {{", fields, "}")
    if isinstance(item, ast.EnumDecl):
        return f"enum {item.name} = " + " | ".join(quote(v) for v in item.values)
    if isinstance(item, ast.FactDecl):
        return f"fact {item.name}: {format_type(item.type)}"
    return f"const {item.name} = {format_expr(item.value)}"


def _param(p: ast.Param) -> str:
    return f"{p.name}: {format_type(p.type)}" + (" sensitive" if p.sensitive else "")


def _listing(head: str, parts: list[str], tail: str) -> str:
    """``head a, b tail`` on one line, or one part per line when that is too wide."""
    line = head + ", ".join(parts) + tail
    if len(line) <= WIDTH or not parts:
        return line
    body = "".join(f"{_INDENT}{p},\n" for p in parts)
    return f"{head}\n{body}{tail}"


def _rule(rule: ast.Rule) -> str:
    ends = rule.end_comments
    lines = [_with_end(f"rule {rule.name}:", ends, "rule"),
             _with_end(f"{_INDENT}on {', '.join(rule.targets)}", ends, "on")]
    if rule.when is not None:
        lines.append(_with_end(_clause("when", rule.when), ends, "when"))
    lines.append(_with_end(_clause("require", rule.require), ends, "require"))
    written = {"rule", "on", "when", "require"} if rule.when is not None else {
        "rule", "on", "require"}
    if rule.otherwise is not ast.Decision.DENY or rule.message is not None:
        otherwise = f"{_INDENT}else {rule.otherwise.value}"
        if rule.message is not None:
            otherwise += f" {quote(rule.message)}"
        lines.append(_with_end(otherwise, ends, "else"))
        written.add("else")
    if rule.repair:
        lines.append(_with_end(f"{_INDENT}repair {', '.join(rule.repair)}", ends, "repair"))
        written.add("repair")
    # A comment on a clause that has no line of its own (`else deny` is the default, so
    # it is not written) stays on the line before, never lost.
    lost = tuple(("", c) for key, c in ends if key not in written)
    lines[-1] = _with_end(lines[-1], lost, "")
    return "\n".join(lines)


def _clause(keyword: str, expr: ast.Expr) -> str:
    line = f"{_INDENT}{keyword} {format_expr(expr)}"
    if len(line) <= WIDTH or not (
        isinstance(expr, ast.Binary) and expr.op in (ast.BinOp.AND, ast.BinOp.OR)
    ):
        return line
    # Break a long `a and b and c` (a left-nested chain of one operator) before each
    # operator; the operands are written exactly as they would be inline.
    op = expr.op
    prec = ast.BINARY_PRECEDENCE[op]
    operands: list[ast.Expr] = []
    node: ast.Expr = expr
    while isinstance(node, ast.Binary) and node.op is op:
        operands.append(node.right)
        node = node.left
    operands.append(node)
    operands.reverse()
    first = _expr(operands[0], prec, edge=False)
    rest = [_expr(x, prec + 1, edge=i == len(operands) - 2) for i, x in enumerate(operands[1:])]
    cont = _INDENT * 2
    return f"{_INDENT}{keyword} {first}" + "".join(f"\n{cont}{op.value} {r}" for r in rest)


# ------------------------------------------------------------------------- types


def format_type(t: ast.TypeExpr) -> str:
    """The DSL spelling of a type (`list[Transaction]`, `str?`), for output and messages."""
    if isinstance(t, ast.PrimType):
        return t.name.value
    if isinstance(t, ast.ListType):
        return f"list[{format_type(t.element)}]"
    if isinstance(t, ast.SetType):
        return f"set[{format_type(t.element)}]"
    if isinstance(t, ast.OptionalType):
        return f"{format_type(t.inner)}?"
    return t.name


# ------------------------------------------------------------------------- expressions


def format_expr(e: ast.Expr) -> str:
    """An expression with the fewest parentheses that keep its tree.

    >>> from guardgraph.specs import ast
    >>> x, y = ast.Name(id="x"), ast.Name(id="y")
    >>> format_expr(ast.Binary(op=ast.BinOp.MUL, left=x,
    ...     right=ast.Binary(op=ast.BinOp.ADD, left=y, right=ast.IntLit(value=1))))
    'x * (y + 1)'
    """
    return _expr(e, 0, edge=True)


def _prec(e: ast.Expr) -> int:
    if isinstance(e, ast.Quantifier):
        return 0
    if isinstance(e, ast.Binary):
        return ast.BINARY_PRECEDENCE[e.op]
    if isinstance(e, ast.Unary):
        return ast.NOT_PRECEDENCE if e.op is ast.UnOp.NOT else ast.NEG_PRECEDENCE
    if isinstance(e, ast.Attribute):
        return _POSTFIX
    return _ATOM


def _expr(e: ast.Expr, min_prec: int, *, edge: bool) -> str:
    """``e`` where the context needs precedence ``min_prec``; ``edge``: the context lets
    a quantifier's body run to its end (the grammar allows one there, unparenthesized)."""
    wrap = not edge if isinstance(e, ast.Quantifier) else _prec(e) < min_prec
    text = _bare(e, edge=edge or wrap)
    return f"({text})" if wrap else text


def _bare(e: ast.Expr, *, edge: bool) -> str:
    if isinstance(e, ast.Binary):
        return _binary(e, edge=edge)
    if isinstance(e, ast.Unary):
        if e.op is ast.UnOp.NOT:
            return f"not {_expr(e.operand, ast.NOT_PRECEDENCE, edge=edge)}"
        return f"-{_expr(e.operand, ast.NEG_PRECEDENCE, edge=False)}"
    if isinstance(e, ast.Quantifier):
        domain = _expr(e.domain, ast.BINARY_PRECEDENCE[ast.BinOp.ADD], edge=False)
        return f"{e.kind.value} {e.var} in {domain}: {_expr(e.body, 0, edge=True)}"
    if isinstance(e, ast.Attribute):
        value = _expr(e.value, _POSTFIX, edge=False)
        if isinstance(e.value, ast.IntLit | ast.RealLit | ast.DurationLit):
            value = f"({value})"  # `5.x` would read as a malformed number
        return f"{value}.{e.attr}"
    return _atom(e)


def _binary(e: ast.Binary, *, edge: bool) -> str:
    p = ast.BINARY_PRECEDENCE[e.op]
    quant_ok = e.op in (ast.BinOp.IMPLIES, ast.BinOp.OR, ast.BinOp.AND)
    if e.op is ast.BinOp.IMPLIES or p == ast.BINARY_PRECEDENCE[ast.BinOp.EQ]:
        # implies is right-associative (its right side is any expression); comparisons
        # do not chain, so both their sides need a tighter operator
        left = p + 1
        right = p if e.op is ast.BinOp.IMPLIES else p + 1
        lhs = _expr(e.left, left, edge=False)
        return f"{lhs} {e.op.value} {_expr(e.right, right, edge=edge and quant_ok)}"
    # Left-associative: walk the left spine of same-precedence operators in a loop, so a
    # generated 5,000-term `a and b and ...` does not exhaust Python's recursion limit.
    spine: list[ast.Binary] = []
    node: ast.Expr = e
    while isinstance(node, ast.Binary) and ast.BINARY_PRECEDENCE[node.op] == p:
        spine.append(node)
        node = node.left
    parts = [_expr(node, p, edge=False)]
    for b in reversed(spine):
        # only the outermost right operand ends the expression
        right_edge = b is e and edge and quant_ok
        parts.append(f"{b.op.value} {_expr(b.right, p + 1, edge=right_edge)}")
    return " ".join(parts)


def _atom(e: ast.Expr) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.IntLit):
        return (
            e.text
            if e.text and _INT_TEXT.fullmatch(e.text) and _int(e.text) == e.value
            else (str(e.value))
        )
    if isinstance(e, ast.RealLit):
        return _real(e)
    if isinstance(e, ast.StrLit):
        return quote(e.value)
    if isinstance(e, ast.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, ast.DurationLit):
        return _duration(e)
    if isinstance(e, ast.SetLit):
        return "{" + ", ".join(format_expr(x) for x in e.items) + "}"
    if isinstance(e, ast.ListLit):
        return "[" + ", ".join(format_expr(x) for x in e.items) + "]"
    if isinstance(e, ast.Call):
        return f"{e.func}({', '.join(format_expr(a) for a in e.args)})"
    if isinstance(e, ast.Aggregate):
        what = _pattern(e.pattern, e.field)
        return f"{e.func.value}({what}{_window(e.window)})"
    if isinstance(e, ast.Temporal):
        return f"{e.op.value}({_pattern(e.pattern, None)}{_window(e.window)})"
    if isinstance(e, ast.Since):
        return f"since({_pattern(e.held, None)}, {_pattern(e.anchor, None)})"
    raise TypeError(f"not an expression node: {type(e).__name__}")


def _int(text: str) -> int | None:
    digits = text.replace("_", "")
    return int(digits) if len(digits) <= 1000 else None


def _pattern(p: ast.EventPattern, field: str | None) -> str:
    subject = "any" if p.tool is None else p.tool
    if field is not None:
        subject += f".{field}"
    text = ("not " if p.negated else "") + subject
    if p.where is not None:
        text += f" where {format_expr(p.where)}"
    return text


def _window(w: ast.DurationLit | None) -> str:
    return "" if w is None else f" within {_duration(w)}"


def _duration(d: ast.DurationLit) -> str:
    if d.text and duration_value(d.text) == d.seconds:
        return d.text
    if d.seconds == 0:
        return "0s"
    return next(f"{d.seconds // n}{u}" for u, n in _UNITS if d.seconds % n == 0)


def _real(e: ast.RealLit) -> str:
    if e.text:
        try:
            if Fraction(e.text.replace("_", "")) == e.value and "." in e.text:
                return e.text
        except ValueError:
            pass
    return decimal_text(e.value)


def decimal_text(value: Fraction) -> str:
    """The exact decimal spelling of a fraction whose denominator is 2^a 5^b."""
    sign = "-" if value < 0 else ""
    num, den = abs(value.numerator), value.denominator
    rest, twos, fives = den, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        raise ValueError(f"{value} has no exact decimal form")
    digits = max(twos, fives, 1)
    scaled = str(num * 10**digits // den).rjust(digits + 1, "0")
    return f"{sign}{scaled[:-digits]}.{scaled[-digits:]}"


def quote(value: str) -> str:
    """A string literal for ``value``: quotes, backslashes and non-printable characters
    escaped (non-BMP ones as a surrogate pair of ``\\u`` escapes)."""
    out: list[str] = ['"']
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


def format_value(v: object) -> str:
    """A run-time value in the spec's spelling, for messages and witnesses: ``"x"``,
    ``5001``, ``12.5``, ``1/3``, ``true``, a set as ``{"a", "b"}`` (sorted), a list as
    ``[1, 2]``, a record as ``{amount: 5, to: "x"}``, a ``json`` value no rule reads as
    ``null``.

    >>> format_value(frozenset({"b", "a"})), format_value(Fraction(1, 3))
    ('{"a", "b"}', '1/3')
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, Fraction):
        if v.denominator == 1:
            return str(v.numerator)
        try:
            return decimal_text(v)
        except ValueError:
            return f"{v.numerator}/{v.denominator}"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, frozenset | set):
        return "{" + ", ".join(sorted(map(format_value, v))) + "}"
    if isinstance(v, tuple | list):
        return "[" + ", ".join(map(format_value, v)) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {format_value(x)}" for k, x in v.items()) + "}"
    return repr(v)
