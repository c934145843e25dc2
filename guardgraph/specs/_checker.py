"""The type checker: merges a root file and its includes into one checked :class:`Spec`.

Merging: files are taken in load order (the root first, then includes depth-first in the
order they are written); the root's ``spec NAME version N`` names the result, an included
file's header only names that file. All declarations (types, enums, tools, facts, consts)
share one namespace across all files, and rules another, so a name declared twice is a
duplicate (GG206 / GG205) reported at the later one, with a note pointing at the first.
Declarations generated from Python (``extra_*``) come before every file.

Checking never raises on any AST: every problem becomes a GG2xx diagnostic; after
``MAX_ERRORS`` errors it stops with GG107. The result's ``Spec`` is None when there is
any error; warnings alone still give a Spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from guardgraph.specs import ast
from guardgraph.specs._declarations import DeclarationChecker, Tables, const_scope
from guardgraph.specs._infer import Infer
from guardgraph.specs._locate import Locator
from guardgraph.specs._scope import (
    Env,
    Scope,
    ScopeKind,
    Sink,
    TargetKind,
    TooManyErrors,
    did_you_mean,
    where_is,
)
from guardgraph.specs._types import BOOL, UNKNOWN, Kind, Ty, to_type_expr
from guardgraph.specs.diagnostics import Diagnostic, Severity

__all__ = ["MAX_ERRORS", "Types", "check_spec", "type_of"]

MAX_ERRORS = 50


def check_spec(
    files: Sequence[ast.SpecFile],
    *,
    content_hash: str,
    extra_tools: Sequence[ast.ToolDecl] = (),
    extra_records: Sequence[ast.RecordDecl] = (),
    extra_enums: Sequence[ast.EnumDecl] = (),
    sources: Mapping[str, str] | None = None,
) -> tuple[ast.Spec | None, tuple[Diagnostic, ...]]:
    """Merge ``files`` (root first) and type-check them; (Spec or None, diagnostics).

    ``extra_*`` are declarations that did not come from spec text (e.g. generated from
    Python tools by :func:`guardgraph.specs.declare_tools`). A spec declaration equal to
    an extra one is accepted; a different one with the same name is a duplicate.
    ``sources`` (path → text, as spans name files) lets diagnostics point at the exact
    word of a rule or declaration; without it they point at the item's first line.
    """
    if not files:
        raise ValueError("check_spec needs at least the root SpecFile")
    sink = Sink(cap=MAX_ERRORS)
    checker = _Checker(sink, Locator(sources))
    try:
        merged = checker.run(files, extra_tools, extra_records, extra_enums)
    except TooManyErrors:
        merged = None
        sink.items.append(
            Diagnostic(
                code="GG107",
                message=f"too many errors ({MAX_ERRORS}); stopped checking",
                span=None,
                help="fix the errors above and run again",
            )
        )
    diagnostics = tuple(sink.items)
    if merged is None or any(d.level is Severity.ERROR for d in diagnostics):
        return None, diagnostics
    root, (tables, rules) = files[0], merged
    spec = ast.Spec(
        name=root.name,
        version=root.version,
        content_hash=content_hash,
        files=tuple(files),
        records=tuple(tables.records.values()),
        enums=tuple(tables.enums.values()),
        tools=tuple(tables.tools.values()),
        facts=tuple(tables.facts.values()),
        consts=tuple(tables.consts.values()),
        rules=rules,
    )
    return spec, diagnostics


class Types:
    """The checker's types of a checked spec's expressions, for compilers and evaluators:
    the Z3 translation takes the type of every history term from here rather than working
    it out again. The declarations are resolved once per spec.

    >>> from guardgraph.specs import ast
    >>> s = ast.Spec(name="s", version=1, content_hash="", files=())
    >>> Types(s).of(ast.Binary(op=ast.BinOp.ADD, left=ast.IntLit(value=1),
    ...         right=ast.RealLit(value=1)))
    PrimType(name=<Primitive.REAL: 'real'>)
    """

    __slots__ = ("_checker", "_env", "_sink")

    def __init__(self, spec: ast.Spec) -> None:
        self._sink = Sink(cap=1_000_000)
        self._checker = _Checker(self._sink, Locator(None))
        self._env = self._checker.env_of(spec)

    def of(
        self,
        expr: ast.Expr,
        *,
        rule: ast.Rule | None = None,
        pattern: ast.EventPattern | None = None,
    ) -> ast.TypeExpr | None:
        """The type of ``expr`` inside ``rule`` (or at top level, where consts, facts,
        context names and history terms resolve), or inside ``pattern``'s ``where`` (bare
        names are then the past call's arguments); None where it is unknown. Optional
        arguments read as their inner type (``note: str?`` -> ``str``)."""
        env = self._env
        scope = self._checker.rule_scope(rule, env) if rule is not None else _top_scope()
        if pattern is not None:
            tool = env.tools.get(pattern.tool) if pattern.tool is not None else None
            params = tool.params if tool is not None else ()
            scope = scope.in_where(
                tool=pattern.tool,
                args=env.params(tool) if tool is not None else {},
                optional=frozenset(p.name for p in params
                                   if isinstance(p.type, ast.OptionalType)),
            )
        self._sink.items.clear()  # the spec is checked: nothing here is news
        return to_type_expr(Infer(env, self._sink).expr(expr, scope))


def type_of(
    expr: ast.Expr,
    *,
    spec: ast.Spec,
    rule: ast.Rule | None = None,
    pattern: ast.EventPattern | None = None,
) -> ast.TypeExpr | None:
    """``Types(spec).of(expr, rule=rule, pattern=pattern)`` for one expression (assumes
    ``spec`` already checked).

    >>> from guardgraph.specs import ast
    >>> s = ast.Spec(name="s", version=1, content_hash="", files=())
    >>> type_of(ast.BoolLit(value=True), spec=s)
    PrimType(name=<Primitive.BOOL: 'bool'>)
    """
    return Types(spec).of(expr, rule=rule, pattern=pattern)


def _top_scope() -> Scope:
    return Scope(kind=ScopeKind.RULE, target=TargetKind.ANY)


class _Checker:
    def __init__(self, sink: Sink, locator: Locator) -> None:
        self._sink = sink
        self._at = locator

    # ------------------------------------------------------------------ merging

    def run(
        self,
        files: Sequence[ast.SpecFile],
        extra_tools: Sequence[ast.ToolDecl],
        extra_records: Sequence[ast.RecordDecl],
        extra_enums: Sequence[ast.EnumDecl],
    ) -> tuple[Tables, tuple[ast.Rule, ...]]:
        items = [item for f in files for item in f.items]
        decls: list[ast.Decl] = [*extra_records, *extra_enums, *extra_tools]
        decls += [i for i in items if not isinstance(i, ast.Rule)]
        tables = self._tables(decls)
        env = DeclarationChecker(self._sink, self._at).check(tables)
        rules = self._check_rules([i for i in items if isinstance(i, ast.Rule)], env)
        return tables, rules

    def _tables(self, decls: Iterable[ast.Decl]) -> Tables:
        seen: dict[str, ast.Decl] = {}
        t = Tables(records={}, enums={}, tools={}, facts={}, consts={})
        for d in decls:
            if isinstance(d, ast.Rule):  # pragma: no cover - rules are split off earlier
                continue
            first = seen.get(d.name)
            if first is not None:
                if first == d and first.span is None:
                    continue  # the same declaration, once from Python and once pasted
                self._sink.emit(
                    "GG206",
                    f"`{d.name}` is declared twice",
                    self._at.word(d.span, d.name),
                    label="declared again here",
                    help="every type, enum, tool, fact and const needs its own name",
                    notes=(f"first declared at {where_is(self._at.word(first.span, first.name))}",),
                )
                continue
            seen[d.name] = d
            match d:
                case ast.RecordDecl():
                    t.records[d.name] = d
                case ast.EnumDecl():
                    t.enums[d.name] = d
                case ast.ToolDecl():
                    t.tools[d.name] = d
                case ast.FactDecl():
                    t.facts[d.name] = d
                case ast.ConstDecl():
                    t.consts[d.name] = d
        return t

    def env_of(self, spec: ast.Spec) -> Env:
        infer_env = Env(
            records={r.name: r for r in spec.records},
            enums={e.name: e for e in spec.enums},
            tools={t.name: t for t in spec.tools},
            facts={f.name: f for f in spec.facts},
            consts={},
        )
        infer = Infer(infer_env, self._sink)
        consts = {c.name: infer.expr(c.value, const_scope(c)) for c in spec.consts}
        return replace(infer_env, consts=consts)

    # ------------------------------------------------------------------ rules

    def _check_rules(self, rules: list[ast.Rule], env: Env) -> tuple[ast.Rule, ...]:
        infer = Infer(env, self._sink, self._at)
        first: dict[str, ast.Rule] = {}
        for rule in rules:
            if rule.name in first:
                self._sink.emit(
                    "GG205",
                    f"rule `{rule.name}` is defined twice",
                    self._name_span(rule),
                    label="defined again here",
                    help="rule names identify verdicts in the audit log; rename one",
                    notes=(f"first defined at {where_is(self._name_span(first[rule.name]))}",),
                )
                continue
            first[rule.name] = rule
            scope = self.rule_scope(rule, env, report=True)
            try:
                if rule.when is not None:
                    infer.expect(rule.when, BOOL, scope, what="`when` must be a condition")
                infer.expect(rule.require, BOOL, scope, what="`require` must be a condition")
            except RecursionError:
                # Left-associative chains are walked in a loop; only a pathological
                # right-nested expression (thousands of `implies`) gets here.
                self._sink.emit(
                    "GG217",
                    f"rule `{rule.name}` nests its expression too deeply to check",
                    self._name_span(rule),
                    help="split the condition into several rules or use `in {...}`",
                )
            self._repair(rule, env, scope)
        return tuple(first.values())

    def _name_span(self, rule: ast.Rule) -> ast.Span | None:
        return self._at.word(rule.span, rule.name, after="rule")

    def rule_scope(self, rule: ast.Rule, env: Env, *, report: bool = False) -> Scope:
        """The names a rule's expressions see (docs/language.md, "Names in scope")."""
        targets = rule.targets
        head = self._at.head(rule.span, length=len("rule"))
        special = [t for t in targets if t in ("route", "any")]
        if special and len(targets) > 1:
            if report:
                self._sink.emit(
                    "GG216",
                    f"`{special[0]}` cannot be combined with other targets",
                    self._at.word(rule.span, special[0], after="on"),
                    help=f"write a separate rule for `on {special[0]}`",
                )
            return Scope(kind=ScopeKind.RULE, target=TargetKind.ANY, fallback=head)
        if targets in (("route",), ("any",)):
            kind = TargetKind.ROUTE if targets == ("route",) else TargetKind.ANY
            return Scope(kind=ScopeKind.RULE, target=kind, fallback=head)
        tools: list[ast.ToolDecl] = []
        for name in dict.fromkeys(targets):
            tool = env.tools.get(name)
            if tool is not None:
                tools.append(tool)
            elif report:
                self._sink.emit(
                    "GG202",
                    f"unknown tool `{name}`",
                    self._at.word(rule.span, name, after="on"),
                    label="not a declared tool",
                    help=did_you_mean(name, [*env.tools, "route", "any"])
                    or "declare it with `tool NAME(...)`",
                )
        return self._args_scope(rule, env, tools, complete=len(tools) == len(set(targets)))

    def _args_scope(
        self, rule: ast.Rule, env: Env, tools: list[ast.ToolDecl], *, complete: bool
    ) -> Scope:
        args: dict[str, Ty] = {}
        missing: dict[str, str] = {}
        conflicting: dict[str, str] = {}
        optional: set[str] = set()
        per_tool = [env.params(t) for t in tools]
        for name in dict.fromkeys(n for params in per_tool for n in params):
            lacking = [t.name for t, ps in zip(tools, per_tool, strict=True) if name not in ps]
            if lacking:
                missing[name] = lacking[0]
                continue
            types = {t.name: ps[name] for t, ps in zip(tools, per_tool, strict=True)}
            distinct = set(types.values())
            if len(distinct) > 1 and UNKNOWN not in distinct:
                shown = ", ".join(f"{ty} in `{tn}`" for tn, ty in types.items())
                conflicting[name] = f"has different types in the rule's targets: {shown}"
                continue
            args[name] = next(iter(distinct))
            declared = (p.type for t in tools for p in t.params if p.name == name)
            if any(isinstance(d, ast.OptionalType) for d in declared):
                optional.add(name)
        if not complete:
            # A target is unknown (already reported): treat every argument of the known ones
            # as present rather than cascading "not a parameter of" errors.
            args.update({n: UNKNOWN for n in missing})
            missing = {}
        return Scope(
            kind=ScopeKind.RULE,
            target=TargetKind.TOOLS,
            tools=tuple(t.name for t in tools),
            args=args,
            optional_args=frozenset(optional),
            missing=missing,
            conflicting=conflicting,
            fallback=self._at.head(rule.span, length=len("rule")),
        )

    def _repair(self, rule: ast.Rule, env: Env, scope: Scope) -> None:
        if not rule.repair:
            return
        if scope.target is not TargetKind.TOOLS:
            self._sink.emit(
                "GG211",
                f"`repair` changes tool arguments; an `on {scope.target}` rule has none",
                self._at.word(rule.span, "repair"),
            )
            return
        if rule.otherwise is not ast.Decision.DENY:
            self._sink.emit(
                "GG211",
                f"`repair` only applies to deny rules; this rule's decision is "
                f"`{rule.otherwise}`",
                self._at.word(rule.span, "repair"),
                help="drop the repair clause, or make the rule `else deny`",
            )
        for name in dict.fromkeys(rule.repair):
            t = scope.args.get(name)
            if t is None:
                where = f"`{scope.tools[0]}`" if len(scope.tools) == 1 else "every target"
                if name in scope.missing:
                    where = f"`{scope.missing[name]}`"
                self._sink.emit(
                    "GG211",
                    f"cannot repair `{name}`: it is not an argument of {where}",
                    self._at.word(rule.span, name, after="repair"),
                    help=did_you_mean(name, scope.args),
                )
            elif t.kind not in (Kind.INT, Kind.REAL, Kind.UNKNOWN):
                self._sink.emit(
                    "GG211",
                    f"cannot repair `{name}`: it is a {t}; only int and real arguments can "
                    "be repaired",
                    self._at.word(rule.span, name, after="repair"),
                    help="the guard searches the nearest compliant number (Z3 Optimize)",
                )
