"""Type rules of history terms: aggregates, temporal operators, event patterns.

Inside an event pattern's ``where`` only the past call's arguments and consts are in
scope (docs/language.md): that is what lets the monitor keep one accumulator per term.
History terms cannot nest inside ``where`` for the same reason.
"""

from __future__ import annotations

from guardgraph.specs import ast
from guardgraph.specs._scope import LABELS, Inferrer, Scope, ScopeKind, did_you_mean
from guardgraph.specs._types import BOOL, INT, UNKNOWN, Kind, Ty, set_of

__all__ = ["History"]


class History:
    """Checks ``Aggregate``, ``Temporal`` and ``Since`` nodes on behalf of one Infer."""

    def __init__(self, infer: Inferrer) -> None:
        self._i = infer

    def temporal(self, e: ast.Temporal | ast.Since, scope: Scope) -> Ty:
        what = e.op.value if isinstance(e, ast.Temporal) else "since"
        if not self._no_history_in_where(e, scope, what):
            return BOOL
        if isinstance(e, ast.Temporal):
            self._pattern(e.pattern, scope)
            self._window(e.window, scope)
        else:
            self._pattern(e.held, scope)
            self._pattern(e.anchor, scope)
        return BOOL

    def _no_history_in_where(
        self, e: ast.Expr, scope: Scope, what: str, *, call: bool = True
    ) -> bool:
        if scope.kind is ScopeKind.RULE:
            return True
        self._i.report(
            "GG209",
            f"`{what}{'(...)' if call else ''}` cannot be nested inside `where` or a const",
            e,
            scope,
            help="the monitor keeps one accumulator per term; compare outside the pattern",
        )
        return False

    def aggregate(self, e: ast.Aggregate, scope: Scope) -> Ty:
        if not self._no_history_in_where(e, scope, e.func.value):
            return UNKNOWN
        tool = self._pattern(e.pattern, scope)
        self._window(e.window, scope)
        if e.func is ast.AggregateFunc.COUNT:
            if e.field is not None:
                self._i.report("GG204", "`count` counts calls; it takes no field", e, scope)
            return INT
        if e.field is None:
            self._i.report(
                "GG204",
                f"`{e.func}` needs a field: {e.func}(TOOL.FIELD ...)",
                e,
                scope,
            )
            return UNKNOWN
        if e.pattern.tool is None or e.pattern.negated:
            self._i.report(
                "GG203",
                f"`{e.func}` needs a tool pattern; `any` and `not` patterns have no fields",
                e,
                scope,
            )
            return UNKNOWN
        if tool is None:
            return UNKNOWN  # unknown tool, already reported
        params = self._i.env.params(tool)
        if e.field not in params:
            hint = did_you_mean(e.field, params)
            message = f"tool `{tool.name}` has no argument `{e.field}`"
            self._i.report("GG207", message, e, scope, help=hint)
            return UNKNOWN
        t = params[e.field]
        if t.kind not in (Kind.INT, Kind.REAL):
            self._i.report(
                "GG203",
                f"`{e.func}` adds up numbers: expected int or real, got {t} "
                f"(`{tool.name}.{e.field}`)",
                e,
                scope,
            )
            return UNKNOWN
        return t

    def past_values(self, e: ast.Attribute, scope: Scope) -> Ty:
        """``TOOL.arg``: the set of values ``arg`` took in the session's executed calls of
        TOOL (``order_id in lookup_order.order_id``: the argument equals one of an earlier
        call's). Only a whole argument of a scalar type, and only outside ``where``."""
        assert isinstance(e.value, ast.Name)
        tool = self._i.env.tools[e.value.id]
        if not self._no_history_in_where(e, scope, f"{tool.name}.{e.attr}", call=False):
            return UNKNOWN
        params = self._i.env.params(tool)
        if e.attr not in params:
            hint = did_you_mean(e.attr, params)
            self._i.report("GG207", f"tool `{tool.name}` has no argument `{e.attr}`", e, scope,
                           help=hint or "`TOOL.arg` is the values an argument took in earlier "
                           "calls of the tool")
            return UNKNOWN
        t = params[e.attr]
        if t.kind not in (Kind.INT, Kind.REAL, Kind.BOOL, Kind.STR, Kind.ENUM):
            self._i.report(
                "GG203",
                f"`{tool.name}.{e.attr}` collects the values of a {t} argument; only int, "
                "real, bool, str and enum arguments can be collected",
                e,
                scope,
            )
            return UNKNOWN
        return set_of(t)

    def _pattern(self, p: ast.EventPattern, scope: Scope) -> ast.ToolDecl | None:
        tool: ast.ToolDecl | None = None
        if p.tool is not None:
            tool = self._i.env.tools.get(p.tool)
            if tool is None:
                hint = did_you_mean(p.tool, self._i.env.tools)
                at = self._i.at.word(p.span, p.tool) or scope.fallback
                self._i.sink.emit(
                    "GG202", f"unknown tool `{p.tool}`", at, help=hint, label=LABELS["GG202"]
                )
                return None
        if p.where is not None:
            args = self._i.env.params(tool) if tool is not None else {}
            params = tool.params if tool is not None else ()
            optional = frozenset(q.name for q in params if isinstance(q.type, ast.OptionalType))
            inner = scope.in_where(tool=p.tool, args=args, optional=optional)
            self._i.expect(p.where, BOOL, inner, what="`where` must be a condition")
        return tool

    def _window(self, w: ast.DurationLit | None, scope: Scope) -> None:
        if w is not None and w.seconds <= 0:
            self._i.report("GG215", "a `within` window must be longer than zero", w, scope)
