"""Type rules of the built-in functions: string tests, regex, len, present, provenance, result.

See docs/language.md, "Built-in functions". ``tainted``, ``from_user`` and ``source`` take
an argument name or a path into one (``arg.field``, ``args.arg``), since provenance is
tracked per argument (and per field where a tool declares untrusted fields).
"""

from __future__ import annotations

from guardgraph.specs import ast
from guardgraph.specs._regex import regex_error
from guardgraph.specs._scope import Inferrer, Scope, ScopeKind, did_you_mean
from guardgraph.specs._types import BOOL, INT, STR, UNKNOWN, Kind, Ty, set_of

__all__ = ["BUILTINS", "KNOWN_CALLS", "Builtins"]

# Built-in function → number of arguments.
BUILTINS: dict[str, int] = {
    "startswith": 2,
    "endswith": 2,
    "contains": 2,
    "matches": 2,
    "len": 1,
    "present": 1,
    "tainted": 1,
    "from_user": 1,
    "source": 1,
    "result": 1,
}
_HISTORY = ("count", "sum", "min", "max", "once", "historically", "previously", "since")
KNOWN_CALLS = (*BUILTINS, *_HISTORY)


class Builtins:
    """Checks ``Call`` nodes on behalf of one :class:`Infer`."""

    def __init__(self, infer: Inferrer) -> None:
        self._i = infer

    def call(self, e: ast.Call, scope: Scope) -> Ty:
        f = e.func
        if f not in BUILTINS:
            hint = did_you_mean(f, KNOWN_CALLS)
            self._i.report("GG201", f"unknown function `{f}`", e, scope, help=hint)
            for a in e.args:
                self._i.expr(a, scope)
            return UNKNOWN
        want = BUILTINS[f]
        if len(e.args) != want:
            plural = "argument" if want == 1 else "arguments"
            self._i.report("GG204", f"`{f}` takes {want} {plural}, got {len(e.args)}", e, scope)
            return BOOL if f not in ("len", "source", "result") else UNKNOWN
        if f in ("startswith", "endswith", "contains"):
            self._i.expect(e.args[0], STR, scope, what=f"`{f}` tests a string")
            self._i.expect(e.args[1], STR, scope, what=f"`{f}` tests a string")
            return BOOL
        if f == "matches":
            return self._matches(e, scope)
        if f == "len":
            t = self._i.expr(e.args[0], scope)
            if t.kind not in (Kind.STR, Kind.ENUM, Kind.LIST, Kind.SET, Kind.UNKNOWN):
                message = f"`len` measures a str, list or set, got {t}"
                self._i.report("GG203", message, e.args[0], scope)
            return INT
        if f == "result":
            return self._result(e, scope)
        if f == "present":
            found = self._arg_path(e, scope)
            if found is not None and not found[1]:
                self._i.report(
                    "GG203",
                    f"`present` needs an optional argument (declared `T?`), got {found[0]}",
                    e.args[0],
                    scope,
                )
            return BOOL
        self._arg_path(e, scope)
        return set_of(STR) if f == "source" else BOOL

    def _matches(self, e: ast.Call, scope: Scope) -> Ty:
        self._i.expect(e.args[0], STR, scope, what="`matches` tests a string")
        pattern = e.args[1]
        if not isinstance(pattern, ast.StrLit):
            self._i.expr(pattern, scope)
            self._i.report(
                "GG203",
                "`matches` needs a regex literal: expected a string literal",
                pattern,
                scope,
            )
            return BOOL
        problem = regex_error(pattern.value)
        if problem is not None:
            self._i.report(
                "GG210",
                f"invalid regex: {problem}",
                pattern,
                scope,
                help="supported: literals, `.`, classes `[a-z]`, `* + ? {m,n}`, `|`, groups, "
                "\\d \\w \\s",
            )
        return BOOL

    def _result(self, e: ast.Call, scope: Scope) -> Ty:
        arg = e.args[0]
        if scope.kind is not ScopeKind.RULE:
            self._i.report("GG209", "`result(...)` is not in scope inside `where`", e, scope)
            return UNKNOWN
        if not isinstance(arg, ast.Name):
            self._i.report("GG203", "`result` takes a tool name", arg, scope)
            return UNKNOWN
        tool = self._i.env.tools.get(arg.id)
        if tool is None:
            hint = did_you_mean(arg.id, self._i.env.tools)
            self._i.report("GG202", f"unknown tool `{arg.id}`", arg, scope, help=hint)
            return UNKNOWN
        if tool.returns is None:
            self._i.report(
                "GG203",
                f"tool `{arg.id}` declares no return type, so it has no result",
                arg,
                scope,
                help=f"declare one: tool {arg.id}(...) -> TYPE",
            )
            return UNKNOWN
        return self._i.env.resolve(tool.returns)

    def _arg_path(self, e: ast.Call, scope: Scope) -> tuple[Ty, bool] | None:
        """Check ``f(x)`` / ``f(x.field)`` / ``f(args.x)``: (type, optional) or None."""
        arg = e.args[0]
        if scope.kind is not ScopeKind.RULE:
            self._i.report(
                "GG209",
                f"`{e.func}(...)` is not in scope inside `where`",
                e,
                scope,
                help="provenance is known for the current action's arguments only",
            )
            return None
        return self._path(arg, scope, e.func)

    def _path(self, x: ast.Expr, scope: Scope, func: str) -> tuple[Ty, bool] | None:
        if (
            isinstance(x, ast.Attribute)
            and isinstance(x.value, ast.Name)
            and x.value.id == "args"
            and self._i.is_context("args", scope)
        ):
            t = self._i.args_attr(x, scope)
            return None if t.unknown else (t, x.attr in scope.optional_args)
        if isinstance(x, ast.Name):
            if x.id in scope.args and x.id not in scope.variables:
                return scope.args[x.id], x.id in scope.optional_args
            t = self._i.name(x, scope)  # reports unknown / out-of-scope names
            if not t.unknown:
                self._i.report(
                    "GG203",
                    f"`{func}` takes an argument name, and `{x.id}` is not an argument",
                    x,
                    scope,
                )
            return None
        if isinstance(x, ast.Attribute):
            owner = self._path(x.value, scope, func)
            if owner is None:
                return None
            ty = owner[0]
            if ty.kind is not Kind.RECORD or ty.name is None:
                self._i.report("GG207", f"type {ty} has no field `{x.attr}`", x, scope)
                return None
            fields = self._i.env.record_fields(ty.name)
            if x.attr not in fields:
                hint = did_you_mean(x.attr, fields)
                message = f"record {ty.name} has no field `{x.attr}`"
                self._i.report("GG207", message, x, scope, help=hint)
                return None
            return fields[x.attr]
        self._i.expr(x, scope)
        self._i.report(
            "GG203",
            f"`{func}` takes an argument name or a path like `arg.field`",
            x,
            scope,
        )
        return None
