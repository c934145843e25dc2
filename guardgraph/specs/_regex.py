"""The regular-expression subset that ``matches(s, "regex")`` accepts.

``matches`` is a whole-string match compiled to a Z3 regular expression, so only
constructs with a direct Z3 counterpart are allowed: literal characters, ``.``,
character classes ``[a-z0-9_]`` / ``[^...]``, the quantifiers ``* + ? {m} {m,} {m,n}``,
alternation ``|``, groups ``( )``, the escapes ``\\d \\w \\s`` and escaped
metacharacters, ``\\n``, ``\\t``. Anchors are unnecessary (the match is whole), and
look-arounds, back-references, lazy quantifiers and inline flags have no Z3 meaning.

The guard's fast path runs every pattern on RE2, whose time is linear in the input, so a
pattern is accepted only if RE2 accepts it too: RE2 refuses, for one, a counted repetition
beyond 1000 (``a{1001}``, ``(a{100}){11}``) and a program beyond its memory budget; such a
pattern is an error at load (GG210) naming what RE2 refused, never a slow check.
"""

from __future__ import annotations

import re
import warnings

__all__ = ["CLASS_ESCAPES", "regex_error"]

CLASS_ESCAPES = frozenset("dws")
_META = frozenset(".^$*+?{}[]()|\\/-")
_ESCAPES = CLASS_ESCAPES | _META | frozenset("nt")
_COUNT = re.compile(r"\{[0-9]+(,[0-9]*)?\}")


def regex_error(pattern: str) -> str | None:
    """Why ``pattern`` is outside the supported subset, or None when it is fine.

    >>> regex_error("[A-Z]{2}[0-9]{2}[A-Z0-9]+") is None
    True
    >>> regex_error("^abc")
    'anchor `^` at position 0 is not needed: matches() is a whole-string match'
    """
    try:
        with warnings.catch_warnings():
            # Python warns about constructs it may change later (nested sets); the subset
            # scanner below reports what we reject, so the warning is noise here.
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except re.error as exc:
        return f"{exc.msg} at position {exc.pos}"
    return _Scanner(pattern).run() or _re2_refusal(pattern)


def _re2_refusal(pattern: str) -> str | None:
    """Why RE2 would not compile ``pattern`` (already inside the subset), or None. The
    subset's syntax is RE2's, so the text is compiled as it is."""
    import re2  # only specs that use matches() pay for the import

    options = re2.Options()
    options.log_errors = False  # the refusal is reported as a diagnostic, not on stderr
    options.never_capture = True
    try:
        re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return (f"the linear-time engine (RE2) refuses it: {reason} (repetition counts "
                "are limited to 1000, nested ones together)")
    return None


class _Scanner:
    """A single pass over a pattern Python already accepted, rejecting extras."""

    def __init__(self, pattern: str) -> None:
        self._p = pattern
        self._i = 0

    def run(self) -> str | None:
        p = self._p
        while self._i < len(p):
            c = p[self._i]
            error = self._step(c)
            if error is not None:
                return error
        return None

    def _step(self, c: str) -> str | None:
        p, i = self._p, self._i
        if c in "^$":
            return (
                f"anchor `{c}` at position {i} is not needed: matches() is a "
                "whole-string match"
            )
        if c == "(":
            if p.startswith("(?", i):
                return f"`(?` constructs (at position {i}) are not supported; use a plain group"
            self._i += 1
            return None
        if c == "\\":
            return self._escape(in_class=False)
        if c == "[":
            return self._klass()
        if c in "*+?}":
            self._i += 1
            return self._after_quantifier()
        if c == "{":
            m = _COUNT.match(p, i)
            if m is None:
                return (
                    f"`{{` at position {i} starts no `{{m}}`, `{{m,}}` or `{{m,n}}`; "
                    "escape it as `\\{`"
                )
            self._i = m.end()
            return self._after_quantifier()
        self._i += 1
        return None

    def _after_quantifier(self) -> str | None:
        # Python accepted the pattern, so a quantifier followed by `?` or `+` is the lazy
        # or possessive form: meaningless for a whole match and absent from Z3.
        if self._i < len(self._p) and self._p[self._i] in "?+":
            extra = self._p[self._i]
            return (
                f"lazy or possessive quantifier at position {self._i} is not supported; "
                f"drop the trailing `{extra}`"
            )
        return None

    def _escape(self, *, in_class: bool) -> str | None:
        p, i = self._p, self._i
        nxt = p[i + 1] if i + 1 < len(p) else ""
        if nxt in _ESCAPES or (in_class and nxt == "]"):
            self._i += 2
            return None
        return (
            f"escape `\\{nxt}` at position {i} is not supported; allowed: \\d \\w \\s \\n \\t "
            "and escaped metacharacters"
        )

    def _klass(self) -> str | None:
        p = self._p
        self._i += 1
        if self._i < len(p) and p[self._i] == "^":
            self._i += 1
        first = True
        while self._i < len(p) and (p[self._i] != "]" or first):
            first = False
            if p[self._i] == "\\":
                error = self._escape(in_class=True)
                if error is not None:
                    return error
                continue
            if p.startswith("[:", self._i):
                return f"POSIX class at position {self._i} is not supported"
            self._i += 1
        self._i += 1  # the closing bracket
        return None
