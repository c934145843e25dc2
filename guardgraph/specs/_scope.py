"""What the checker knows while it walks: declarations, the names in scope, the sink.

A :class:`Scope` is a value: entering a quantifier or an event pattern's ``where`` makes a
new one. The :class:`Sink` collects diagnostics up to a cap and then stops the walk by
raising :class:`TooManyErrors`, which the checker turns into GG107.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from guardgraph.specs import ast
from guardgraph.specs._types import BOOL, STR, Kind, Ty, resolve, set_of
from guardgraph.specs.diagnostics import Diagnostic, Severity

__all__ = [
    "CONTEXT",
    "Env",
    "Scope",
    "ScopeKind",
    "Sink",
    "TargetKind",
    "TooManyErrors",
    "did_you_mean",
    "where_is",
]

_EMPTY: Mapping[str, Ty] = MappingProxyType({})

# Context names (docs/language.md, "Names in scope", item 4). `target` is only in scope in
# an `on route` rule; `task` and `session` are only reachable through their fields.
CONTEXT: Mapping[str, Ty] = MappingProxyType(
    {"agent": STR, "tool": STR, "target": STR, "approved": BOOL}
)
CONTEXT_FIELDS: Mapping[str, Mapping[str, Ty]] = MappingProxyType(
    {
        "task": MappingProxyType({"labels": set_of(STR), "kind": STR}),
        "session": MappingProxyType({"user": STR}),
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
    ) -> None:
        diag = Diagnostic(code=code, message=message, span=span, help=help, notes=tuple(notes))
        self.items.append(diag)
        if diag.level is Severity.ERROR:
            self._errors += 1
            if self._errors >= self._cap:
                raise TooManyErrors

    @property
    def errors(self) -> int:
        return self._errors


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """``did you mean `x`?`` for the closest candidate, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


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

    def value_names(self) -> set[str]:
        return set(self.consts) | set(self.facts)

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
    args: Mapping[str, Ty] = _EMPTY
    optional_args: frozenset[str] = frozenset()
    missing: Mapping[str, str] = _EMPTY  # arg → a target tool that lacks it
    conflicting: Mapping[str, str] = _EMPTY  # arg → how its types differ across targets
    outer_args: Mapping[str, Ty] = _EMPTY
    variables: Mapping[str, Ty] = field(default_factory=dict)
    fallback: ast.Span | None = None

    def with_variable(self, name: str, ty: Ty) -> Scope:
        from dataclasses import replace

        return replace(self, variables={**self.variables, name: ty})

    def in_where(self, *, tool: str | None, args: Mapping[str, Ty], optional: frozenset[str]) -> Scope:
        """The scope of a pattern's ``where``: the past call's arguments, consts only."""
        return Scope(
            kind=ScopeKind.WHERE,
            target=self.target,
            tools=(tool,) if tool is not None else (),
            args=args,
            optional_args=optional,
            outer_args={**self.outer_args, **self.args} if self.kind is ScopeKind.RULE else self.outer_args,
            variables={},
            fallback=self.fallback,
        )

    def is_record(self, ty: Ty) -> bool:
        return ty.kind is Kind.RECORD
