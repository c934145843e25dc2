"""What the checker knows while it walks: declarations, the names in scope, the sink.

A :class:`Scope` is a value: entering a quantifier or an event pattern's ``where`` makes a
new one. The :class:`Sink` collects diagnostics up to a cap and then stops the walk by
raising :class:`TooManyErrors`, which the checker turns into GG107.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from guardgraph.specs import ast
from guardgraph.specs._context import CONTEXT_NAMES
from guardgraph.specs._locate import Locator
from guardgraph.specs._types import Ty, resolve
from guardgraph.specs.diagnostics import Diagnostic, Severity

__all__ = [
    "CONTEXT",
    "CONTEXT_FIELDS",
    "LABELS",
    "Env",
    "Inferrer",
    "Scope",
    "ScopeKind",
    "Sink",
    "TargetKind",
    "TooManyErrors",
    "did_you_mean",
    "where_is",
]


# The context names as the checker's types, read off the one table in `_context`.
def _context_types() -> tuple[Mapping[str, Ty], Mapping[str, Mapping[str, Ty]]]:
    top: dict[str, Ty] = {}
    fields: dict[str, dict[str, Ty]] = {}
    for path, texpr in CONTEXT_NAMES.items():
        ty = resolve(texpr, records={}, enums={})
        if len(path) == 1:
            top[path[0]] = ty
        else:
            fields.setdefault(path[0], {})[path[1]] = ty
    return MappingProxyType(top), MappingProxyType(
        {k: MappingProxyType(v) for k, v in fields.items()})


CONTEXT, CONTEXT_FIELDS = _context_types()


# The short text under the caret, per code, where the message has no better one.
LABELS: Mapping[str, str] = MappingProxyType(
    {
        "GG201": "not found in this scope",
        "GG202": "not a declared tool",
        "GG207": "unknown field",
        "GG209": "not in scope here",
        "GG210": "invalid regex",
        "GG215": "not a `within` window",
    }
)


class TooManyErrors(Exception):
    """Raised by :class:`Sink` once the cap is reached; never escapes the checker."""


class Sink:
    """Collects diagnostics for one check; stops the walk after ``cap`` errors."""

    def __init__(self, *, cap: int) -> None:
        self._cap = cap
        self._errors = 0
        self.items: list[Diagnostic] = []

    def emit(
        self,
        code: str,
        message: str,
        span: ast.Span | None,
        *,
        help: str | None = None,
        notes: Iterable[str] = (),
        label: str | None = None,
    ) -> None:
        """Record one diagnostic; ``label`` is the short text the renderer puts after the
        caret (``^^^ expected real``)."""
        data: tuple[tuple[str, object], ...] = (("label", label),) if label else ()
        diag = Diagnostic(
            code=code, message=message, span=span, help=help, notes=tuple(notes), data=data
        )
        self.items.append(diag)
        if diag.level is Severity.ERROR:
            self._errors += 1
            if self._errors >= self._cap:
                raise TooManyErrors

    @property
    def errors(self) -> int:
        return self._errors


def did_you_mean(name: str, candidates: Iterable[str], *, literal: bool = False) -> str | None:
    """``did you mean `x`?`` for the closest candidate, or None when nothing is close.

    >>> did_you_mean("amonut", ["amount", "recipient"])
    'did you mean `amount`?'
    >>> did_you_mean("EURO", ["EUR", "USD"], literal=True)
    'did you mean "EUR"?'
    """
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    if not close:
        return None
    return f'did you mean "{close[0]}"?' if literal else f"did you mean `{close[0]}`?"


def where_is(span: ast.Span | None) -> str:
    if span is None:
        return "declared from Python"
    return f"{span.file}:{span.line}:{span.column}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Env:
    """The merged declarations of a spec, by name."""

    records: Mapping[str, ast.RecordDecl]
    enums: Mapping[str, ast.EnumDecl]
    tools: Mapping[str, ast.ToolDecl]
    facts: Mapping[str, ast.FactDecl]
    consts: Mapping[str, Ty]

    def resolve(self, texpr: ast.TypeExpr) -> Ty:
        return resolve(texpr, records=self.records, enums=self.enums)

    def params(self, tool: ast.ToolDecl) -> dict[str, Ty]:
        return {p.name: self.resolve(p.type) for p in tool.params}

    def record_fields(self, name: str) -> dict[str, tuple[Ty, bool]]:
        """Field name → (type, declared optional) for a record."""
        record = self.records.get(name)
        if record is None:
            return {}
        return {
            f.name: (self.resolve(f.type), isinstance(f.type, ast.OptionalType))
            for f in record.fields
        }

    def all_params(self) -> set[str]:
        return {p.name for t in self.tools.values() for p in t.params}


class ScopeKind(StrEnum):
    RULE = "rule"  # a rule's `when` / `require`
    WHERE = "where"  # an event pattern's `where`: the past call's arguments
    CONST = "const"  # a const's value: literals only


class TargetKind(StrEnum):
    TOOLS = "tools"
    ROUTE = "route"
    ANY = "any"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """The names an expression may use.

    ``args`` are the arguments bare names resolve to: the current action's in a rule, the
    past call's inside ``where``. ``outer_args`` keeps the current action's arguments while
    inside ``where`` so that using one gets GG209 instead of GG201.
    """

    kind: ScopeKind
    target: TargetKind
    tools: tuple[str, ...] = ()
    args: Mapping[str, Ty] = field(default_factory=dict)
    optional_args: frozenset[str] = frozenset()
    # arg → a target tool that lacks it; arg → how its types differ across the targets
    missing: Mapping[str, str] = field(default_factory=dict)
    conflicting: Mapping[str, str] = field(default_factory=dict)
    outer_args: Mapping[str, Ty] = field(default_factory=dict)
    outer_variables: frozenset[str] = frozenset()
    variables: Mapping[str, Ty] = field(default_factory=dict)
    fallback: ast.Span | None = None

    def with_variable(self, name: str, ty: Ty) -> Scope:
        return replace(self, variables={**self.variables, name: ty})

    def in_where(
        self, *, tool: str | None, args: Mapping[str, Ty], optional: frozenset[str]
    ) -> Scope:
        """The scope of a pattern's ``where``: the past call's arguments, consts only."""
        return Scope(
            kind=ScopeKind.WHERE,
            target=self.target,
            tools=(tool,) if tool is not None else (),
            args=args,
            optional_args=optional,
            outer_args={**self.outer_args, **self.args},
            outer_variables=self.outer_variables | frozenset(self.variables),
            variables={},
            fallback=self.fallback,
        )


class Inferrer(Protocol):
    """What the checks of built-in calls and history terms (``_builtins``, ``_history``)
    need from the expression walker; ``_infer.Infer`` is the one implementation. A
    protocol here, rather than an import of ``_infer``, keeps those modules free of an
    import cycle with the walker that calls them."""

    env: Env
    sink: Sink

    @property
    def at(self) -> Locator: ...

    def expr(self, e: ast.Expr, scope: Scope) -> Ty: ...

    def expect(self, expr: ast.Expr, want: Ty, scope: Scope, *, what: str) -> Ty: ...

    def name(self, e: ast.Name, scope: Scope) -> Ty: ...

    def args_attr(self, e: ast.Attribute, scope: Scope) -> Ty: ...

    def is_context(self, n: str, scope: Scope) -> bool: ...

    def report(
        self,
        code: str,
        message: str,
        node: ast.Expr | ast.EventPattern,
        scope: Scope,
        *,
        help: str | None = None,
        label: str | None = None,
    ) -> None: ...
