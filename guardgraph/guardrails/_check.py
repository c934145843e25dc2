"""One check: read an action into exact values, fill the inputs its rules read, run the
fast path (Z3 for what it cannot decide), and turn the fired rules into a verdict.

The fired-rule split (deny, then escalate, then warn) is written once, in `_split`; the
repair re-check uses it too, so a repaired call is judged by the same rules as any other.
Everything here is pure: it reads a session state and never changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple

from guardgraph.guardrails._compile import CompiledRule
from guardgraph.guardrails._evaluate import decide
from guardgraph.guardrails._explain import explain
from guardgraph.guardrails._monitor import MonitorState
from guardgraph.guardrails._program import ToolProgram, z3_assignment
from guardgraph.guardrails._provenance import taint_keys, user_keys, value_keys
from guardgraph.guardrails._repair import find_repair
from guardgraph.guardrails._runtime import Runtime
from guardgraph.guardrails._validate import (
    BadValue,
    canonical_tool,
    exact_text,
    exact_text_set,
    zero,
)
from guardgraph.guardrails.action import Action, ActionKind, ArgProvenance, Session
from guardgraph.guardrails.approval import Approval, args_sha256
from guardgraph.guardrails.verdict import Decision, Failure, Verdict, json_value
from guardgraph.specs import ast

__all__ = ["ROUTE", "Checker", "Context", "Deny", "Prepared", "Shared"]

ROUTE = "route"


class Deny(Exception):
    """A fail-closed reason found while reading a check's inputs."""

    def __init__(self, code: str, message: str, rules: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.rules = rules

    def verdict(self) -> Verdict:
        return Verdict(decision=Decision.DENY, code=self.code, rules=self.rules,
                       message=f"{self.code}: {self}")


class Prepared(NamedTuple):
    """An action read into exact values: what is checked, committed and executed.
    (Named tuples, not dataclasses, for the guard's private per-check values: one of each
    is made per check, and a tuple is built several times faster.)"""

    tool: str  # canonical tool name, or "route"
    args: Mapping[str, object]
    agent: str
    kind: ActionKind
    target: str | None
    call_id: str  # may be "" here; the guard generates one
    provenance: Mapping[str, ArgProvenance]


class Context(NamedTuple):
    """The session's side of a check, read once (also once for all of `check_many`)."""

    session_id: str
    user: str
    labels: frozenset[str]
    task_kind: str
    facts: Mapping[str, object]
    approval: Approval | None


def text(value: object, where: str, *, nfkc: bool = True) -> str:
    """An exact str (NFKC unless ``nfkc=False``), or a deny with the value's code."""
    if type(value) is str and value.isascii():
        return value  # the common case: exact and already in NFKC
    try:
        return exact_text(value, where, nfkc=nfkc)
    except BadValue as exc:
        raise Deny(exc.code, str(exc)) from None


def read_context(session: Session, approval: Approval | None) -> Context:
    if not isinstance(session, Session):
        raise Deny("GG415", f"session must be a Session, got {type(session).__name__}")
    labels = session.task_labels
    if not (type(labels) is frozenset and all(type(x) is str and x.isascii() for x in labels)):
        try:  # anything but exact ASCII labels (the common case) takes the full reading
            labels = exact_text_set(labels, "session.task_labels")
        except BadValue as exc:
            raise Deny(exc.code, str(exc)) from None
    if approval is not None:
        if not isinstance(approval, Approval):
            raise Deny("GG415", f"approval must be an Approval, got {type(approval).__name__}")
        for name in ("approver", "call_id", "args_sha256", "reason"):
            text(getattr(approval, name), f"approval.{name}", nfkc=False)
        if not isinstance(approval.at, datetime):
            raise Deny("GG415", "approval.at must be a datetime")
    sid, user, kind = session.id, session.user, session.task_kind
    return Context(
        session_id=sid if type(sid) is str and sid.isascii() else text(sid, "session.id",
                                                                       nfkc=False),
        user=user if type(user) is str and user.isascii() else text(user, "session.user"),
        labels=labels,
        task_kind=kind if type(kind) is str and kind.isascii() else text(
            kind, "session.task_kind"),
        facts=session.facts, approval=approval)


class Checker:
    """The per-action work of a check, over one policy's runtime."""

    __slots__ = ("rt", "solver_timeout")

    def __init__(self, runtime: Runtime, *, solver_timeout_ms: int) -> None:
        self.rt = runtime
        self.solver_timeout = solver_timeout_ms

    # ------------------------------------------------------------------ reading

    def prepare(self, action: Action) -> Prepared:
        """The action in exact values, or `Deny` (fail closed on anything unexpected)."""
        if not isinstance(action, Action):
            raise Deny("GG415", f"expected an Action, got {type(action).__name__}")
        kind = action.kind
        if type(kind) is not ActionKind:
            try:
                kind = ActionKind(text(kind, "action.kind"))
            except ValueError:
                raise Deny("GG415", f"action kind must be one of "
                           f"{', '.join(k.value for k in ActionKind)}, got {kind!r:.40}") from None
        agent = text(action.agent, "action.agent")
        call_id = text(action.call_id, "action.call_id", nfkc=False)
        if kind is ActionKind.ROUTE:
            tool = text(action.tool, "action.tool")
            if tool != ROUTE:
                raise Deny("GG415", f"a route carries no tool: tool must be 'route', got "
                           f"{tool!r} (check a tool call as kind=TOOL_CALL)")
            if action.args:
                raise Deny("GG415", "a route carries no arguments")
            target = text(action.target, "route target")
            if not target:
                raise Deny("GG404", "route target must be a non-empty str")
            if ROUTE not in self.rt.programs:
                raise Deny("GG416", f"spec {self.rt.spec.name} has no route rules, so it "
                           "does not say which routes are allowed; a route is denied (add "
                           "`rule routes: on route require ...` to allow some)")
            return Prepared(tool=ROUTE, args={}, agent=agent, kind=kind, target=target,
                            call_id=call_id, provenance=action.provenance)
        if action.target is not None:
            raise Deny("GG415", "a tool call has no route target (use Action.route)")
        name = text(action.tool, "action.tool")
        found, hint = canonical_tool(name, self.rt.names)
        if found is None:
            if name.casefold() == ROUTE:
                hint = "a route is Action.route(target), of kind ROUTE"
            raise Deny("GG401", f"unknown tool {name!r}; declared tools: "
                       f"{', '.join(sorted(self.rt.names.values()))}"
                       + (f" ({hint})" if hint else ""))
        return Prepared(tool=found, args=MappingProxyType(self._args(found, action.args)),
                        agent=agent,
                        kind=kind, target=None, call_id=call_id,
                        provenance=action.provenance)

    def _args(self, tool: str, given: Mapping[str, object]) -> dict[str, object]:
        params = self.rt.params[tool]
        if not isinstance(given, Mapping):
            raise Deny("GG404", f"{tool}: arguments must be a mapping, got "
                       f"{type(given).__name__}")
        named: Mapping[str, object] = given
        if not all(type(k) is str and k.isascii() for k in given):
            renamed: dict[str, object] = {}
            for key, value in given.items():
                key = text(key, f"{tool}: argument name")
                if key in renamed:
                    raise Deny("GG403", f"{tool}: argument {key!r} given twice (after "
                               "Unicode normalisation)")
                renamed[key] = value
            named = renamed
        if not named.keys() <= params.keys():
            extra = next(k for k in named if k not in params)
            raise Deny("GG403", f"{tool}: undeclared argument {extra!r}; expected "
                       f"{', '.join(params) or 'no arguments'}")
        args: dict[str, object] = {}
        for name, (check, optional, where) in params.items():
            value = named.get(name)
            if value is None:
                if optional:
                    continue
                raise Deny("GG402", f"{tool}: missing argument {name!r}")
            try:
                args[name] = check(value, where)
            except BadValue as exc:
                raise Deny(getattr(exc, "code", "GG404"), str(exc)) from None
        return args

    # ------------------------------------------------------------------ deciding

    def decide(self, p: Prepared, call_id: str, ctx: Context, facts: Mapping[str, object],
               state: MonitorState, now: int,
               reads: Shared | None = None,
               ) -> tuple[Verdict, Mapping[str, object] | None]:
        """(verdict without subject, the arguments to run or None). ``facts``: resolved
        values by input key; ``reads``: monitor values shared by the checks of one
        snapshot (`Guard.check_many`)."""
        prog = self.rt.programs[p.tool]
        env = self._env(prog, p, p.args, call_id, ctx, facts, state, now, reads)
        deny, escalate, warn = self._split(prog, env)
        approved: list[CompiledRule] = []
        if escalate and _bound(ctx, call_id, p.args):
            # `else escalate` asks a human; an Approval bound to this call and these
            # arguments is that human's answer, so it satisfies every escalate rule that
            # fired. Deny rules still hold: an approval never overrides a deny.
            approved, escalate = escalate, []
        if not deny and not escalate and not warn and not approved:
            return _ALLOW, p.args
        ids = tuple(r.rule.name for r in self._in_order(prog, deny, escalate, warn, approved))
        warned = tuple(r.rule.name for r in warn)
        failures = tuple(explain(r, self.rt.conjuncts[(prog.tool, r.rule.name)], env)
                         for r in (*deny, *escalate))
        if deny:
            if all(r.rule.repair for r in deny):
                repaired = self._repair(prog, p, call_id, ctx, facts, state, now, reads, env,
                                        deny, failures)
                if repaired is not None:
                    return repaired
            return Verdict(decision=Decision.DENY, rules=ids, code="GG400",
                           message=_message(deny, failures[:len(deny)]), failures=failures,
                           warnings=warned), None
        if escalate:
            return Verdict(decision=Decision.ESCALATE, rules=ids, code="GG400",
                           message=_message(escalate, failures), failures=failures,
                           warnings=warned), None
        if approved:
            approver = ctx.approval.approver if ctx.approval is not None else ""
            said = f"allowed: approved by {approver} ({', '.join(r.rule.name for r in approved)})"
            if warned:
                said += "; warnings: " + ", ".join(warned)
            return Verdict(decision=Decision.ALLOW, rules=ids, message=said,
                           warnings=warned), p.args
        return Verdict(decision=Decision.ALLOW, rules=ids, message="allowed with warnings: "
                       + ", ".join(warned), warnings=warned), p.args

    @staticmethod
    def _in_order(prog: ToolProgram, *groups: list[CompiledRule]) -> list[CompiledRule]:
        fired = {id(r) for g in groups for r in g}
        return [r for r in prog.rules if id(r) in fired]

    def _split(self, prog: ToolProgram, env: Mapping[str, object],
               ) -> tuple[list[CompiledRule], list[CompiledRule], list[CompiledRule]]:
        """The fired rules as (deny, escalate, warn): the one place the split is made."""
        deny: list[CompiledRule] = []
        escalate: list[CompiledRule] = []
        warn: list[CompiledRule] = []
        for rule, got in zip(prog.rules, prog.fires(env), strict=True):
            if got is None:  # the fast path cannot decide: Z3 does
                with self.rt.z3_lock:
                    got = decide(rule.fires, z3_assignment(self.rt.compiled, rule.inputs, env),
                                 timeout_ms=self.solver_timeout)
                if got is None:
                    raise Deny("GG409", f"rule {rule.rule.name}: the solver could not decide "
                               "(unknown or time-out)", (rule.rule.name,))
            if got:
                otherwise = rule.rule.otherwise
                (deny if otherwise is ast.Decision.DENY else
                 escalate if otherwise is ast.Decision.ESCALATE else warn).append(rule)
        return deny, escalate, warn

    def _repair(self, prog: ToolProgram, p: Prepared, call_id: str, ctx: Context,
                facts: Mapping[str, object], state: MonitorState, now: int,
                reads: Shared | None,
                env: Mapping[str, object], deny: list[CompiledRule],
                failures: tuple[Failure, ...],
                ) -> tuple[Verdict, Mapping[str, object] | None] | None:
        with self.rt.z3_lock:
            changes = find_repair(self.rt.compiled, prog, env, deny,
                                  timeout_ms=self.solver_timeout)
        if changes is None:
            return None
        new_args = {**p.args, **changes}
        # The repaired call is checked like any other, so a repair is never weaker than
        # the rules (and an escalate rule it still meets is reported).
        env2 = self._env(prog, p, new_args, call_id, ctx, facts, state, now, reads)
        deny2, escalate2, _ = self._split(prog, env2)
        if deny2:
            return None
        if escalate2 and _bound(ctx, call_id, new_args):
            escalate2 = []
        names = [r.rule.name for r in deny]
        shown = ", ".join(f"{k} {_fmt(p.args.get(k))} -> {_fmt(v)}" for k, v in changes.items())
        reason = _message(deny, failures[: len(deny)])
        if escalate2:
            more = tuple(explain(r, self.rt.conjuncts[(prog.tool, r.rule.name)], env2)
                         for r in escalate2)
            return Verdict(decision=Decision.ESCALATE,
                           rules=(*names, *(r.rule.name for r in escalate2)), code="GG400",
                           message=f"repaired {shown}: {reason}; then "
                                   f"{_message(escalate2, more)}",
                           repair=changes, failures=(*failures[: len(deny)], *more)), new_args
        return Verdict(decision=Decision.REPAIR, rules=tuple(names), code="GG400",
                       message=f"repaired {shown}: {reason}", repair=changes,
                       failures=failures[: len(deny)]), new_args

    # ------------------------------------------------------------------ inputs

    def _env(self, prog: ToolProgram, p: Prepared, args: Mapping[str, object], call_id: str,
             ctx: Context, facts: Mapping[str, object], state: MonitorState, now: int,
             reads: Shared | None) -> dict[str, object]:
        """Every input the tool's rules read. With ``reads`` (one snapshot shared by the
        checks of `Guard.check_many`) the facts and monitor values of a tool are read
        once, and provenance labels once per value."""
        if reads is None:
            env = self._base(prog, facts, state, now)
        else:
            base = reads.get(prog.tool)
            if base is None:
                base = reads[prog.tool] = self._base(prog, facts, state, now)
            env = dict(base)  # type: ignore[call-overload]
        compiled = self.rt.compiled
        spec = self.rt.spec
        for key, name in prog.args:
            env[key] = args[name] if name in args else zero(compiled.arg(prog.tool, name).type,
                                                            spec)
        for key, name in prog.present:
            env[key] = name in args
        for key, path in prog.context:
            env[key] = self._context(path, p, args, call_id, ctx)
        for key, func, path in prog.provenance:
            if reads is None or p.provenance.get(path[0]) is not None:
                env[key] = self._label(func, path, args, p, state)
                continue
            value = args.get(path[0])
            try:
                memo = ("prov", func, path, value)
                hash(memo)
            except TypeError:  # a record or list of records: not a memo key
                env[key] = self._label(func, path, args, p, state)
                continue
            got = reads.get(memo, _NONE)
            if got is _NONE:
                got = reads[memo] = self._label(func, path, args, p, state)
            env[key] = got
        for key, base_key in prog.sizes:
            env[key] = len(env[base_key])  # type: ignore[arg-type]
        return env

    @staticmethod
    def _base(prog: ToolProgram, facts: Mapping[str, object], state: MonitorState, now: int,
              ) -> dict[str, object]:
        """The inputs of a tool that depend only on the session snapshot."""
        env: dict[str, object] = dict(facts)
        poisoned = state.poisoned
        for key, track, is_flag in prog.monitor:
            if poisoned and track.key in poisoned:
                raise Deny("GG409", f"{track.key[4:]} could not be evaluated for call "
                           f"{poisoned[track.key]}")
            value, defined = state.read(track, now)
            env[key] = defined if is_flag else (value if defined else prog.zeros[key])
        return env

    def _context(self, path: tuple[str, ...], p: Prepared, args: Mapping[str, object],
                 call_id: str, ctx: Context) -> object:
        match path:
            case ("agent",):
                return p.agent
            case ("tool",):
                return p.tool
            case ("target",):
                return p.target or ""
            case ("approved",):
                return _bound(ctx, call_id, args)
            case ("task", "labels"):
                return ctx.labels
            case ("task", "kind"):
                return ctx.task_kind
            case ("session", "user"):
                return ctx.user
        raise Deny("GG408", f"unknown context input {'.'.join(path)}")

    @staticmethod
    def _label(func: str, path: tuple[str, ...], args: Mapping[str, object], p: Prepared,
               state: MonitorState) -> object:
        value: object = args.get(path[0])
        for part in path[1:]:
            value = value[part] if isinstance(value, Mapping) else None
        given = p.provenance.get(path[0])
        if given is not None and not isinstance(given, ArgProvenance):
            raise Deny("GG404", f"provenance of {path[0]!r} must be an ArgProvenance")
        keys = value_keys(value)
        if func == "tainted":
            if given is not None and given.tainted is not None:
                return given.tainted is True
            return any(state.tainted(k) for k in taint_keys(value))
        if func == "from_user":
            if given is not None and given.from_user is not None:
                return given.from_user is True
            return bool(keys) and (all(state.from_user(k) for k in keys)
                                   or all(state.from_user(k) for k in user_keys(value)))
        if given is not None and given.sources is not None:
            if isinstance(given.sources, str) or not isinstance(
                    given.sources, frozenset | set | tuple | list):
                raise Deny("GG404", f"provenance sources of {path[0]!r} must be a set of str")
            return frozenset(text(s, "provenance source") for s in given.sources)
        return frozenset(t for k in taint_keys(value) for t in state.sources(k))


_ALLOW = Verdict(decision=Decision.ALLOW, message="allowed")
_NONE = object()  # "not memoised yet" (a label can be False or an empty set)

# What the checks of one snapshot share: per tool, its snapshot inputs; per value, its
# provenance labels.
Shared = dict[object, object]


def _bound(ctx: Context, call_id: str, args: Mapping[str, object]) -> bool:
    """Whether the context's approval is for this very call with exactly these arguments."""
    a = ctx.approval
    return (a is not None and bool(call_id) and a.call_id == call_id
            and a.args_sha256 == args_sha256(args))


def _message(rules: list[CompiledRule], failures: tuple[Failure, ...]) -> str:
    parts = []
    for rule, failure in zip(rules, failures, strict=True):
        said = rule.rule.message or f"rule {rule.rule.name} violated"
        parts.append(f"{rule.rule.name}: {said} [failed: {failure.describe()}]")
    return "; ".join(parts)


def _fmt(value: object) -> str:
    return str(json_value(value))

