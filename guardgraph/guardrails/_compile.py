"""Compilation of a type-checked Spec to Z3: each rule's `applies` and `require` terms,
the inputs they read, and the well-formedness (`domain`) of a tool's calls.

The contract is docs/internal/compile-contract.md; the meaning of each construct is in
:mod:`guardgraph.guardrails._translate`. Each policy owns its own ``z3.Context`` (never
Z3's global one), so policies can be built and used from different threads.

>>> from guardgraph.specs import ast
>>> spec = ast.Spec(name="s", version=1, content_hash="", files=(),
...     tools=(ast.ToolDecl(name="pay", params=(ast.Param(name="amount",
...         type=ast.PrimType(name=ast.Primitive.INT)),)),),
...     rules=(ast.Rule(name="cap", targets=("pay",), require=ast.Binary(
...         op=ast.BinOp.LE, left=ast.Name(id="amount"), right=ast.IntLit(value=10))),))
>>> policy = compile_policy(spec)
>>> (rule,) = policy.rules_for("pay")
>>> rule.require
10 >= arg:pay.amount
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import z3

from guardgraph.guardrails._errors import CompileError
from guardgraph.guardrails._inputs import Input, InputKind, InputTable
from guardgraph.guardrails._translate import Scope, Translator
from guardgraph.guardrails._z3sorts import Sorts, string_val
from guardgraph.specs import ast

__all__ = ["CompiledPolicy", "CompiledRule", "Input", "InputKind", "compile_policy"]

ROUTE = "route"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledRule:
    """One rule compiled for one target (a tool name, or ``"route"``).

    The rule fires iff ``applies ∧ ¬require``. ``indicator`` is ``rule:<name>@<tool>``,
    for assumption literals and unsat cores.
    """

    rule: ast.Rule
    tool: str
    indicator: z3.BoolRef
    applies: z3.BoolRef
    require: z3.BoolRef
    inputs: tuple[Input, ...]
    # The top-level conjuncts of `require` as written, each with its own term (`require`
    # is their conjunction); empty for a rule built by hand.
    conjuncts: tuple[tuple[ast.Expr, z3.BoolRef], ...] = ()

    @property
    def fires(self) -> z3.BoolRef:
        """``applies ∧ ¬require``: the calls this rule stops."""
        return z3.And(self.applies, z3.Not(self.require))


class CompiledPolicy:
    """A spec compiled into its own Z3 context. Build with :func:`compile_policy`."""

    __slots__ = ("_by_tool", "_domain_parts", "_domains", "_global_domain", "_sorts", "_table",
                 "_translator", "ctx", "inputs", "spec")

    def __init__(
        self,
        *,
        spec: ast.Spec,
        ctx: z3.Context,
        sorts: Sorts,
        table: InputTable,
        translator: Translator,
        by_tool: dict[str, tuple[CompiledRule, ...]],
    ) -> None:
        self.spec = spec
        self.ctx = ctx
        self._sorts = sorts
        self._table = table
        self._translator = translator
        self._by_tool = by_tool
        self.inputs: Mapping[str, Input] = MappingProxyType(table.by_key)
        self._domains: dict[str, z3.BoolRef] = {}
        self._domain_parts: dict[str, tuple[tuple[z3.BoolRef, frozenset[str]], ...]] = {}
        self._global_domain = self._build_global_domain()

    # ------------------------------------------------------------------ contract

    @property
    def tools(self) -> tuple[str, ...]:
        """Every target with compiled rules or a declaration: tool names, then ``route``
        when the spec has route rules."""
        return tuple(self._by_tool)

    def rules_for(self, tool: str) -> tuple[CompiledRule, ...]:
        """Rules on ``tool`` plus ``on any`` rules (``"route"``: the route rules), in
        spec order."""
        found = self._by_tool.get(tool)
        if found is None:
            if tool == ROUTE:
                return ()
            known = ", ".join(t for t in self._by_tool if t != ROUTE) or "none"
            raise CompileError(f"unknown tool {tool!r}; declared tools: {known}")
        return found

    def domain(self, tool: str) -> z3.BoolRef:
        """Well-formedness of the inputs of a call of ``tool``: enum arguments within
        their values, an absent optional argument equal to its zero value, the context's
        ``tool`` equal to the tool's name, counts and sizes non-negative."""
        cached = self._domains.get(tool)
        if cached is not None:
            return cached
        parts = [formula for formula, _ in self.domain_parts(tool)]
        result = z3.And(z3.BoolVal(True, self.ctx), *parts)
        self._domains[tool] = result
        return result

    def domain_parts(self, tool: str) -> tuple[tuple[z3.BoolRef, frozenset[str]], ...]:
        """The conjuncts of ``domain(tool)``, each with the keys of the inputs it reads
        (lint decides a question with only the conjuncts that touch it)."""
        cached = self._domain_parts.get(tool)
        if cached is not None:
            return cached
        self.rules_for(tool)  # rejects an unknown tool
        parts = [*self._global_domain[None], *self._global_domain.get(tool, [])]
        if tool != ROUTE:
            ctx_tool = self._table.context(("tool",), ast.PrimType(name=ast.Primitive.STR))
            parts.append((ctx_tool.const == string_val(tool, self.ctx),
                          frozenset((ctx_tool.key,))))
            decl = self.spec.tool(tool)
            for p in decl.params if decl is not None else ():
                arg = self._table.args[(tool, p.name)]
                own = frozenset((arg.key,))
                parts.extend((f, own) for f in self._type_domain(arg.const, p.type))
                present = self._table.present.get((tool, p.name))
                if present is not None:
                    zero = self._sorts.zero(p.type)
                    parts.append((z3.Implies(z3.Not(present.const), arg.const == zero),
                                  frozenset((present.key, arg.key))))
        result = tuple(parts)
        self._domain_parts[tool] = result
        return result

    def arg(self, tool: str, name: str) -> Input:
        found = self._table.args.get((tool, name))
        if found is None:
            decl = self.spec.tool(tool)
            if decl is None:
                raise CompileError(f"unknown tool {tool!r}")
            names = ", ".join(p.name for p in decl.params) or "none"
            raise CompileError(f"tool {tool} has no argument {name!r}; its arguments: {names}")
        return found

    def to_z3(self, value: object, type: ast.TypeExpr) -> z3.ExprRef:
        """A Python value as a Z3 literal: int, Fraction/float/Decimal (exact; a float
        by its shortest decimal), str, bool, set, list/tuple, dict for records."""
        return self._sorts.to_z3(value, type)

    def from_z3(self, value: z3.ExprRef, type: ast.TypeExpr) -> object:
        """A model value as Python (reals as Fraction, or int when integral)."""
        return self._sorts.from_z3(value, type)

    # ------------------------------------------------------------------ extensions

    def where(self, pattern: ast.EventPattern) -> z3.BoolRef:
        """The ``where`` filter of an event pattern, over the ARG inputs of
        ``pattern.tool`` (substitute a past call's arguments to evaluate it)."""
        return self._translator.where(pattern)

    def input_of(self, const: z3.ExprRef) -> Input | None:
        """The input whose free constant is ``const``."""
        return self._table.by_const(const)

    def enum_values(self, type: ast.TypeExpr) -> tuple[str, ...] | None:
        """The values of an enum type (also through ``?``), else None."""
        return self._sorts.enum_values(type)

    def zero(self, type: ast.TypeExpr) -> z3.ExprRef:
        """The value an absent optional argument reads as."""
        return self._sorts.zero(type)

    # ------------------------------------------------------------------ internals

    def _type_domain(self, const: z3.ExprRef, t: ast.TypeExpr) -> list[z3.BoolRef]:
        """Enum values stay within their enum wherever they sit: the value itself, the
        fields of a record (a tool's result included), the elements of a list or set."""
        return self._within(const, t, depth=0)

    def _within(self, term: z3.ExprRef, t: ast.TypeExpr, *, depth: int) -> list[z3.BoolRef]:
        if isinstance(t, ast.OptionalType):
            t = t.inner
        values = self._sorts.enum_values(t)
        if values is not None:
            return [z3.Or(*[term == string_val(v, self.ctx) for v in values])]
        if depth > 8:  # records may nest (or refer to themselves through lists)
            return []
        if isinstance(t, ast.NamedType):
            info = self._sorts.record(t.name)
            return [f for name, ft in info.fields
                    for f in self._within(info.accessors[name](term), ft, depth=depth + 1)]
        if isinstance(t, ast.ListType | ast.SetType):
            var = z3.Const(f"elem!{depth}", self._sorts.sort(t.element))
            inner = self._within(var, t.element, depth=depth + 1)
            if not inner:
                return []
            body = z3.And(*inner) if len(inner) > 1 else inner[0]
            if isinstance(t, ast.SetType):
                return [z3.ForAll([var], z3.Implies(z3.IsMember(var, term), body))]
            i = z3.Int(f"i!{depth}", self.ctx)
            at = z3.substitute(body, (var, term[i]))
            in_range = z3.And(i >= 0, i < z3.Length(term))
            return [z3.ForAll([i], z3.Implies(in_range, at))]
        return []

    def _build_global_domain(
        self,
    ) -> dict[str | None, list[tuple[z3.BoolRef, frozenset[str]]]]:
        # Keyed by the tool an input belongs to (None: facts, history, context), so that
        # domain(t) carries no constraint about another tool's arguments.
        parts: dict[str | None, list[tuple[z3.BoolRef, frozenset[str]]]] = {None: []}
        for inp in list(self._table.by_key.values()):
            out = parts.setdefault(inp.tool, [])
            own = frozenset((inp.key,))
            if inp.kind in (InputKind.FACT, InputKind.MONITOR):
                out.extend((f, own) for f in self._type_domain(inp.const, inp.type))
            node = inp.node
            is_count = isinstance(node, ast.Aggregate) and node.func is ast.AggregateFunc.COUNT
            if inp.kind is InputKind.MONITOR and is_count:
                out.append((inp.const >= 0, own))
            if inp.kind is InputKind.SIZE:
                base = self._table.by_key[inp.path[0]]
                empty = z3.K(base.const.sort().domain(), z3.BoolVal(False, self.ctx))
                out.append((inp.const >= 0, own))
                out.append(((inp.const == 0) == (base.const == empty), own | {base.key}))
        return parts


def compile_policy(spec: ast.Spec) -> CompiledPolicy:
    """Compile a type-checked spec; raises CompileError (a GuardgraphError) on a spec the
    checker would have rejected."""
    ctx = z3.Context()
    sorts = Sorts(spec, ctx)
    table = InputTable(sorts)
    for decl in spec.tools:
        table.declare_tool(decl)
    table.context(("tool",), ast.PrimType(name=ast.Primitive.STR))  # domain() pins it
    translator = Translator(spec, sorts, table)
    by_tool: dict[str, list[CompiledRule]] = {t.name: [] for t in spec.tools}
    for rule in spec.rules:
        if rule.on_route:
            by_tool.setdefault(ROUTE, []).append(_compile_rule(translator, rule, ROUTE, None))
        elif rule.on_any:
            # `on any` sees only the context: one translation, shared by every tool.
            shared = _compile_rule(translator, rule, "", None)
            for tool, rules in by_tool.items():
                if tool != ROUTE:
                    rules.append(_with_tool(shared, tool, ctx))
        else:
            for tool in rule.targets:
                if tool not in by_tool or tool == ROUTE:
                    raise CompileError(f"rule {rule.name}: unknown tool {tool!r}")
                by_tool[tool].append(_compile_rule(translator, rule, tool, tool))
    frozen = {tool: tuple(rules) for tool, rules in by_tool.items()}
    return CompiledPolicy(
        spec=spec, ctx=ctx, sorts=sorts, table=table, translator=translator, by_tool=frozen
    )


def _compile_rule(tr: Translator, rule: ast.Rule, target: str, tool: str | None) -> CompiledRule:
    scope = Scope(tool=tool, route=target == ROUTE)
    applies, read_a = tr.formula(rule.when, scope)
    require, conjuncts, read_r = tr.formula_parts(rule.require, scope)
    inputs = {i.key: i for i in (*read_a, *read_r)}
    return CompiledRule(
        rule=rule,
        tool=target,
        indicator=z3.Bool(f"rule:{rule.name}@{target}", tr.ctx),
        applies=applies,
        require=require,
        inputs=tuple(inputs.values()),
        conjuncts=conjuncts,
    )


def _with_tool(rule: CompiledRule, tool: str, ctx: z3.Context) -> CompiledRule:
    return CompiledRule(
        rule=rule.rule,
        tool=tool,
        indicator=z3.Bool(f"rule:{rule.rule.name}@{tool}", ctx),
        applies=rule.applies,
        require=rule.require,
        inputs=rule.inputs,
        conjuncts=rule.conjuncts,
    )
