"""Translation of the ``matches()`` regular-expression subset to a Z3 regular expression.

The subset is the one :mod:`guardgraph.specs._regex` accepts: literal characters, ``.``,
classes ``[a-z0-9_]`` / ``[^...]``, ``* + ? {m} {m,} {m,n}``, ``|``, groups, the escapes
``\\d \\w \\s \\n \\t`` and escaped metacharacters. The match is whole-string (``InRe``).
"""

from __future__ import annotations

import z3

from guardgraph.guardrails._errors import CompileError
from guardgraph.guardrails._z3sorts import string_val

__all__ = ["regex_to_z3"]

_SPACE = " \t\n\r\f\v"


def regex_to_z3(pattern: str, ctx: z3.Context) -> z3.ReRef:
    """The Z3 regex for ``pattern``; outside the subset raises CompileError.

    >>> c = z3.Context()
    >>> r = regex_to_z3("[a-c]+x?", c)
    >>> z3.simplify(z3.InRe(z3.StringVal("abx", c), r))
    True
    """
    parser = _Parser(pattern, ctx)
    result = parser.alternation()
    if parser.i != len(pattern):
        raise parser.error("unbalanced `)`")
    return result


class _Parser:
    def __init__(self, pattern: str, ctx: z3.Context) -> None:
        self.p = pattern
        self.i = 0
        self.ctx = ctx
        self.re_sort = z3.ReSort(z3.StringSort(ctx))

    def error(self, why: str) -> CompileError:
        return CompileError(f"regex {self.p!r} at position {self.i}: {why}")

    def peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    # alternation := concat ('|' concat)*
    def alternation(self) -> z3.ReRef:
        branches = [self.concat()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.concat())
        return branches[0] if len(branches) == 1 else z3.Union(*branches)

    def concat(self) -> z3.ReRef:
        parts: list[z3.ReRef] = []
        while self.peek() not in ("", "|", ")"):
            parts.append(self.repeat())
        if not parts:
            return z3.Re(string_val("", self.ctx))
        return parts[0] if len(parts) == 1 else z3.Concat(*parts)

    def repeat(self) -> z3.ReRef:
        atom = self.atom()
        while True:
            c = self.peek()
            if c == "*":
                self.i += 1
                atom = z3.Star(atom)
            elif c == "+":
                self.i += 1
                atom = z3.Plus(atom)
            elif c == "?":
                self.i += 1
                atom = z3.Option(atom)
            elif c == "{" and self._is_bound():
                atom = self._bound(atom)
            else:
                return atom

    def _is_bound(self) -> bool:
        end = self.p.find("}", self.i)
        body = self.p[self.i + 1 : end] if end > 0 else ""
        lo, _, hi = body.partition(",")
        return bool(lo.isdigit() and (hi == "" or hi.isdigit()))

    def _bound(self, atom: z3.ReRef) -> z3.ReRef:
        end = self.p.find("}", self.i)
        body = self.p[self.i + 1 : end]
        self.i = end + 1
        lo_s, comma, hi_s = body.partition(",")
        lo = int(lo_s)
        if not comma:
            return z3.Loop(atom, lo, lo)
        if hi_s == "":
            head = z3.Loop(atom, lo, lo) if lo else z3.Re(string_val("", self.ctx))
            return z3.Concat(head, z3.Star(atom))
        hi = int(hi_s)
        if hi < lo:
            raise self.error(f"bad repetition {{{body}}}")
        return z3.Loop(atom, lo, hi)

    def atom(self) -> z3.ReRef:
        c = self.peek()
        if c == "(":
            self.i += 1
            inner = self.alternation()
            if self.peek() != ")":
                raise self.error("missing `)`")
            self.i += 1
            return inner
        if c == "[":
            return self.klass()
        if c == ".":
            self.i += 1
            return z3.AllChar(self.re_sort)
        if c == "\\":
            return self.escape()
        if c in "*+?":
            raise self.error(f"nothing to repeat before `{c}`")
        self.i += 1
        return self.lit(c)

    def lit(self, c: str) -> z3.ReRef:
        return z3.Re(string_val(c, self.ctx))

    def range(self, lo: str, hi: str) -> z3.ReRef:
        return z3.Range(string_val(lo, self.ctx), string_val(hi, self.ctx))

    def class_escape(self, c: str) -> z3.ReRef | None:
        if c == "d":
            return self.range("0", "9")
        if c == "w":
            return z3.Union(
                self.range("a", "z"), self.range("A", "Z"), self.range("0", "9"), self.lit("_")
            )
        if c == "s":
            return z3.Union(*[self.lit(ch) for ch in _SPACE])
        return None

    def escape(self) -> z3.ReRef:
        self.i += 1
        c = self.peek()
        if not c:
            raise self.error("dangling `\\`")
        self.i += 1
        named = self.class_escape(c)
        if named is not None:
            return named
        return self.lit({"n": "\n", "t": "\t"}.get(c, c))

    def klass(self) -> z3.ReRef:
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        items: list[z3.ReRef] = []
        first = True
        while self.peek() != "]" or first:
            if not self.peek():
                raise self.error("missing `]`")
            first = False
            c = self.peek()
            if c == "\\":
                self.i += 1
                e = self.peek()
                self.i += 1
                named = self.class_escape(e)
                if named is not None:
                    items.append(named)
                    continue
                c = {"n": "\n", "t": "\t"}.get(e, e)
            else:
                self.i += 1
            if self.peek() == "-" and self.i + 1 < len(self.p) and self.p[self.i + 1] != "]":
                self.i += 1
                hi = self.peek()
                if hi == "\\":
                    self.i += 1
                    hi = {"n": "\n", "t": "\t"}.get(self.peek(), self.peek())
                self.i += 1
                if hi < c:
                    raise self.error(f"bad range {c}-{hi}")
                items.append(self.range(c, hi))
            else:
                items.append(self.lit(c))
        self.i += 1
        union = items[0] if len(items) == 1 else z3.Union(*items)
        if not negated:
            return union
        return z3.Intersect(z3.AllChar(self.re_sort), z3.Complement(union))
