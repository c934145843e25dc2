"""``matches()`` regexes: the Z3 translation that defines them, the linear-time matcher
the fast path runs, and the lint notes where Python's ``re`` would read them otherwise.

The subset is the one :mod:`guardgraph.specs._regex` accepts: literal characters, ``.``,
classes ``[a-z0-9_]`` / ``[^...]``, ``* + ? {m} {m,} {m,n}``, ``|``, groups, the escapes
``\\d \\w \\s \\n \\t`` and escaped metacharacters. The match is whole-string (``InRe``).

Semantics are Z3's (DESIGN.md); the fast path does not re-read the pattern text but
translates the Z3 term itself to RE2 syntax (character classes as explicit code-point
intervals), so both read one thing. RE2 runs in time linear in the input, so no pattern
(``(a+)+$`` on ``"a" * 50000 + "b"``) can hang a check (issue 11).
"""

from __future__ import annotations

from collections.abc import Callable

import z3

from guardgraph.guardrails._errors import CompileError
from guardgraph.guardrails._z3sorts import _string as z3_string
from guardgraph.guardrails._z3sorts import string_val

__all__ = ["RegexUnsupported", "fast_matcher", "re2_pattern", "regex_to_z3"]

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
        if lo == 0 and (not comma or (hi_s != "" and int(hi_s) == 0)):
            # `x{0}` is the empty string; Z3's (_ re.loop 0 0) would read it as `x*`.
            return z3.Re(string_val("", self.ctx))
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


# ------------------------------------------------------------------ Z3 term -> RE2

_MAX_CP = 0x10FFFF
# Code points RE2 (UTF-8) cannot hold; a frozen argument never contains one.
_SURROGATES = (0xD800, 0xDFFF)
Intervals = list[tuple[int, int]]


class RegexUnsupported(Exception):
    """A Z3 regex with no RE2 counterpart (an intersection or complement of non-classes,
    a repetition RE2 refuses); the rule is then evaluated by Z3."""


def _union(parts: list[Intervals]) -> Intervals:
    spans = sorted(span for p in parts for span in p)
    out: Intervals = []
    for lo, hi in spans:
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _minus(keep: Intervals, drop: Intervals) -> Intervals:
    out: Intervals = []
    for lo, hi in keep:
        for dlo, dhi in drop:
            if dhi < lo or dlo > hi:
                continue
            if dlo > lo:
                out.append((lo, dlo - 1))
            lo = dhi + 1
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return out


def _char(e: z3.ExprRef) -> int | None:
    if not z3.is_string_value(e):
        return None
    text = z3_string(e)
    return ord(text) if len(text) == 1 else None


def _chars(r: z3.ExprRef) -> Intervals | None:
    """The code points of a single-character regex, or None if ``r`` is not one."""
    k = r.decl().kind()
    if k == z3.Z3_OP_RE_FULL_CHAR_SET:
        return [(0, _MAX_CP)]
    if k == z3.Z3_OP_RE_EMPTY_SET:
        return []
    if k == z3.Z3_OP_SEQ_TO_RE:
        c = _char(r.arg(0))
        return None if c is None else [(c, c)]
    if k == z3.Z3_OP_RE_RANGE:
        if not (z3.is_string_value(r.arg(0)) and z3.is_string_value(r.arg(1))):
            return None
        lo, hi = _char(r.arg(0)), _char(r.arg(1))
        if lo is None or hi is None:
            return []  # Z3: a range with non-singleton bounds is empty
        return [(lo, hi)] if lo <= hi else []
    kids = r.children()
    if k == z3.Z3_OP_RE_UNION:
        parts = [_chars(c) for c in kids]
        return None if any(p is None for p in parts) else _union(parts)  # type: ignore[arg-type]
    if k == z3.Z3_OP_RE_DIFF:
        keep, drop = _chars(kids[0]), _chars(kids[1])
        return None if keep is None or drop is None else _minus(keep, drop)
    if k == z3.Z3_OP_RE_INTERSECT:
        acc: Intervals = [(0, _MAX_CP)]
        for c in kids:
            if c.decl().kind() == z3.Z3_OP_RE_COMPLEMENT:
                drop = _chars(c.arg(0))
                if drop is None:
                    return None
                acc = _minus(acc, drop)
            else:
                part = _chars(c)
                if part is None:
                    return None
                acc = _minus(acc, _minus([(0, _MAX_CP)], part))
        return acc
    return None


def _cp(c: int) -> str:
    return chr(c) if chr(c).isascii() and chr(c).isalnum() else f"\\x{{{c:X}}}"


def _klass(spans: Intervals) -> str:
    spans = _minus(spans, [_SURROGATES])
    if not spans:
        return f"[^\\x00-\\x{{{_MAX_CP:X}}}]"  # matches nothing
    if spans == [(0, _SURROGATES[0] - 1), (_SURROGATES[1] + 1, _MAX_CP)]:
        return "(?s:.)"
    body = "".join(_cp(lo) if lo == hi else f"{_cp(lo)}-{_cp(hi)}" for lo, hi in spans)
    return f"[{body}]"


def re2_pattern(r: z3.ExprRef) -> str:
    """RE2 syntax for the Z3 regex ``r`` (whole-string match is the caller's anchor);
    `RegexUnsupported` where RE2 has no counterpart.

    >>> c = z3.Context()
    >>> print(re2_pattern(regex_to_z3("[^a-c]x{2,3}", c)))
    (?:[\\x{0}-\\x{60}d-\\x{D7FF}\\x{E000}-\\x{10FFFF}](?:x){2,3})
    """
    spans = _chars(r)
    if spans is not None:
        return _klass(spans) if len(spans) != 1 or spans[0][0] != spans[0][1] else (
            _cp(spans[0][0]) if not _SURROGATES[0] <= spans[0][0] <= _SURROGATES[1]
            else _klass([]))
    k = r.decl().kind()
    if k == z3.Z3_OP_SEQ_TO_RE:
        if not z3.is_string_value(r.arg(0)):
            raise RegexUnsupported("regex from a non-literal string")
        text = z3_string(r.arg(0))
        if any(_SURROGATES[0] <= ord(c) <= _SURROGATES[1] for c in text):
            raise RegexUnsupported("a surrogate code point in a regex literal")
        return "(?:" + "".join(_cp(ord(c)) for c in text) + ")"
    kids = r.children()
    if k == z3.Z3_OP_RE_CONCAT:
        return "(?:" + "".join(re2_pattern(c) for c in kids) + ")"
    if k == z3.Z3_OP_RE_UNION:
        return "(?:" + "|".join(re2_pattern(c) for c in kids) + ")"
    if k == z3.Z3_OP_RE_STAR:
        return f"(?:{re2_pattern(kids[0])})*"
    if k == z3.Z3_OP_RE_PLUS:
        return f"(?:{re2_pattern(kids[0])})+"
    if k == z3.Z3_OP_RE_OPTION:
        return f"(?:{re2_pattern(kids[0])})?"
    if k == z3.Z3_OP_RE_LOOP:
        params = r.decl().params()
        lo = params[0] if params else 0
        # Z3's (_ re.loop lo) with one parameter is "at least lo" (z3 API docs, Z3_mk_re_loop)
        hi = params[1] if len(params) > 1 else None
        return f"(?:{re2_pattern(kids[0])}){{{lo},{'' if hi is None else hi}}}"
    if k == z3.Z3_OP_RE_FULL_SET:
        return "(?s:.)*"
    raise RegexUnsupported(f"regex operator {r.decl().name()} has no RE2 counterpart")


def _compile_re2(pattern: str) -> Callable[[str], bool]:
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print refusals to stderr; we report them
    options.never_capture = True
    try:
        low = re2._re2.RE2(pattern.encode("utf-8"), options)
    except AttributeError:  # pragma: no cover - a google-re2 without its pybind module
        compiled = re2.compile(pattern, options)
        return lambda text: compiled.fullmatch(text) is not None
    if not low.ok():
        raise RegexUnsupported(f"RE2 refuses it: {low.error()}")
    both = re2._re2.RE2.Anchor.ANCHOR_BOTH
    none = (-1, -1)
    match = low.Match

    def fullmatch(text: str) -> bool:
        # The pybind call without the wrapper's Match objects: about 1 µs a call.
        data = text.encode("utf-8")
        return bool(match(both, data, 0, len(data))[0] != none)

    return fullmatch


def fast_matcher(r: z3.ExprRef) -> Callable[[str], bool]:
    """``text -> bool``: whether ``text`` is in the Z3 regex ``r``, in linear time (RE2).
    `RegexUnsupported` where RE2 cannot express ``r``; the caller then asks Z3.

    >>> m = fast_matcher(regex_to_z3("(a+)+", z3.Context()))
    >>> m("a" * 50_000 + "b"), m("aaa")
    (False, True)
    """
    return _compile_re2(re2_pattern(r))
