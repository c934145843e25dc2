"""The runtime guard: every tool call and routing decision passes `Guard.check`.

Flow of a check: validate and normalise the action (fail closed on anything unexpected)
-> read the inputs its tool's rules need (arguments, context, facts, monitor values,
provenance) -> run the tool's fast path (Python compiled from the Z3 terms; Z3 itself for
any rule the fast path cannot decide) -> on a firing rule: the failing conjunct with its
values, a minimal repair where the rules permit one. Any exception on the way is a deny
with a code (GG401-GG409), never an allow.

A guard whose spec failed to load denies everything with GG407 (``fail_closed=True``, the
default) and keeps the loader's diagnostics in `Guard.diagnostics`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from guardgraph.errors import GuardgraphError
from guardgraph.guardrails import _plan
from guardgraph.guardrails._compile import CompiledPolicy, compile_policy
from guardgraph.guardrails._evaluate import decide
from guardgraph.guardrails._explain import Conjunct, explain, rule_conjuncts
from guardgraph.guardrails._facts import FactError, FactProvider, Facts
from guardgraph.guardrails._monitor import MonitorState, Track
from guardgraph.guardrails._program import ToolProgram, build_program, build_tracks, z3_assignment
from guardgraph.guardrails._provenance import (
    output_leaves,
    taint_keys,
    text_tokens,
    user_keys,
    value_keys,
)
from guardgraph.guardrails._repair import find_repair
from guardgraph.guardrails._store import (
    Event,
    InMemoryStore,
    SessionStore,
    decode_state,
    encode_state,
)
from guardgraph.guardrails._validate import BadValue, normalize, validate, validator, zero
from guardgraph.guardrails.action import Action, ActionKind, Session
from guardgraph.guardrails.verdict import Decision, Failure, PlanVerdict, Verdict
from guardgraph.specs import LoadResult, ast, load_file, load_text
from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["FactProvider", "Guard", "GuardError", "load_specs"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class GuardError(GuardgraphError):
    """Misuse of the guard's API (an undeclared fact, a result for an unknown session)."""


class _Deny(Exception):
    def __init__(self, code: str, message: str, rules: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.verdict = Verdict(decision=Decision.DENY, code=code, message=f"{code}: {message}",
                               rules=rules)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Guard:
    r"""Checks actions against a compiled spec; one guard serves many sessions and threads.

    Build with `Guard.from_files`, `Guard.from_text` or `Guard.from_spec`. ``facts``: fact
    name -> value, or a callable ``f(session) -> value`` run with ``fact_timeout_s``.
    ``store``: where session state lives (default in-memory; `RedisStore` to share budgets
    between replicas). ``clock``: the time of a check when the session does not give
    ``now``. ``solver_timeout_ms`` bounds every Z3 call (fallback, repair, plan).

    The host either calls `check_and_commit` (atomic; an allowed call is recorded as
    executed, a repaired one with the repaired arguments), or `check`, runs the tool, then
    `commit`. Tool outputs go to `record_result`, user messages to `user_message`, so that
    ``result(t)``, ``tainted`` and ``from_user`` see them.

    >>> g = Guard.from_text('spec s version 1\ntool pay(amount: int)\n'
    ...                     'rule cap:\n  on pay\n  require amount <= 10\n')
    >>> g.check(Action(tool="pay", args={"amount": 12}), Session(id="s")).message
    'cap: rule cap violated [failed: amount <= 10 (amount = 12)]'
    """

    def __init__(self, spec: ast.Spec | None, *, diagnostics: Sequence[Diagnostic] = (),
                 facts: Mapping[str, object] | None = None, store: SessionStore | None = None,
                 clock: Callable[[], datetime] = _utc_now, fact_timeout_s: float = 1.0,
                 solver_timeout_ms: int = 2000) -> None:
        self.diagnostics = tuple(diagnostics)
        self._store: SessionStore = store if store is not None else InMemoryStore()
        self._clock = clock
        self._solver_timeout = solver_timeout_ms
        # Z3 contexts are not thread-safe: every solver call on this policy holds the lock.
        self._z3 = threading.Lock()
        self._policy: CompiledPolicy | None = None
        self._programs: dict[str, ToolProgram] = {}
        self._tracks: tuple[Track, ...] = ()
        self._names: dict[str, str] = {}
        self._params: dict[str, dict[str, tuple[Callable[[object, str], object], bool]]] = {}
        self._conjuncts: dict[tuple[str, str], tuple[Conjunct, ...]] = {}
        self._fact_values: Facts | None = None
        self.load_error: str | None = None
        if spec is None:
            self.load_error = "; ".join(d.message for d in self.diagnostics) or "no spec"
            return
        self._policy = compile_policy(spec)
        tracks = build_tracks(self._policy)
        self._tracks = tuple(tracks.values())
        for tool in self._policy.tools:
            self._programs[tool] = build_program(self._policy, tool, tracks)
            for rule in self._programs[tool].rules:
                self._conjuncts[(tool, rule.rule.name)] = rule_conjuncts(rule)
        self._names = {normalize(t.name).casefold(): t.name for t in spec.tools}
        # per tool: argument name -> (validator, optional), in declaration order
        self._params = {t.name: {p.name: (validator(p.type, spec),
                                          isinstance(p.type, ast.OptionalType))
                                 for p in t.params} for t in spec.tools}
        try:
            self._fact_values = Facts(spec, facts, timeout_s=fact_timeout_s)
        except FactError as exc:
            raise GuardError(str(exc)) from None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_spec(cls, spec: ast.Spec, **options: Any) -> Guard:
        return cls(spec, **options)

    @classmethod
    def from_text(cls, text: str, *, path: str = "<string>", fail_closed: bool = True,
                  **options: Any) -> Guard:
        return cls._loaded(load_text(text, path=path), fail_closed, **options)

    @classmethod
    def from_files(cls, *paths: str | os.PathLike[str], fail_closed: bool = True,
                   **options: Any) -> Guard:
        """A guard for one spec file, or several (combined as if one file included all).

        With ``fail_closed`` (default) a spec that does not load gives a guard that
        denies every action with GG407; otherwise `GuardError` is raised.
        """
        return cls._loaded(load_specs(*paths), fail_closed, **options)

    @classmethod
    def _loaded(cls, result: LoadResult, fail_closed: bool, **options: Any) -> Guard:
        if result.spec is None and not fail_closed:
            raise GuardError("spec did not load: " + "; ".join(
                f"{d.code}: {d.message}" for d in result.errors))
        return cls(result.spec, diagnostics=result.diagnostics, **options)

    @property
    def spec(self) -> ast.Spec | None:
        return self._policy.spec if self._policy is not None else None

    @property
    def policy(self) -> CompiledPolicy | None:
        return self._policy

    def close(self) -> None:
        """Stop the fact-provider threads (a guard is usable until then)."""
        if self._fact_values is not None:
            self._fact_values.close()

    # ------------------------------------------------------------------ checking

    def check(self, action: Action, session: Session) -> Verdict:
        """The verdict on ``action``; the session's state is not changed."""
        return self._run(action, session, commit=False)

    def check_and_commit(self, action: Action, session: Session) -> Verdict:
        """Check, and if the action may run (allow, or repair with the repaired
        arguments) record it as executed, atomically: two concurrent calls cannot both
        spend the last of a budget."""
        return self._run(action, session, commit=True)

    def commit(self, action: Action, session: Session) -> None:
        """Record ``action`` as executed (after a separate `check`)."""
        prepared = self._prepare(action)
        if isinstance(prepared, Verdict):
            raise GuardError(f"cannot commit an invalid action: {prepared.message}")
        tool, args = prepared
        if tool == "route":
            return  # routing decisions are not events of the history
        event: Event = ("call", tool, args, self._now_us(session), action.call_id)
        self._store.transact(session.id, lambda state: (None, [event]), self._apply)

    def record_result(self, session_id: str, call_id: str, output: object, *,
                      trusted: bool | None = None) -> bool:
        """Label and remember the output of an executed call; False when the call id is
        not one of the session's executed calls (e.g. it was denied)."""
        if self._policy is None:
            return False
        event: Event = ("result", call_id, output, trusted)

        def txn(state: MonitorState) -> tuple[bool, list[Event]]:
            known = call_id in state.calls
            return known, [event] if known else []

        return self._store.transact(session_id, txn, self._apply)

    def user_message(self, session_id: str, text: str) -> None:
        """Remember what the user said (for ``from_user``)."""
        event: Event = ("user", text)
        self._store.transact(session_id, lambda state: (None, [event]), self._apply)

    def check_plan(self, actions: Sequence[Action], session: Session) -> PlanVerdict:
        """Whether some execution of ``actions`` (arguments may be `Symbolic`) can make
        a rule fire, with a witness; ``unknown`` counts as a possible violation."""
        if self._policy is None:
            return PlanVerdict(safe=False, code="GG407", message=f"GG407: {self.load_error}")
        policy = self._policy
        now = self._now_us(session)
        try:
            facts = self._facts(((f.name, f.type) for f in policy.spec.facts), session)
        except _Deny as deny:
            return PlanVerdict(safe=False, code=deny.verdict.code, message=deny.verdict.message)
        # A snapshot of the session, so that no store lock is held while Z3 works (the
        # check path takes the store lock first and the Z3 lock second).
        state = decode_state(self.export_session(session.id))
        with self._z3:
            return _plan.check_plan(policy, self._programs, self._names, actions, session,
                                    state, now, facts, timeout_ms=self._solver_timeout)

    def export_session(self, session_id: str) -> bytes:
        """The session's state as bytes (e.g. inside a LangGraph checkpoint)."""
        return self._store.transact(session_id, lambda state: (encode_state(state), []),
                                    self._apply)

    def restore_session(self, session_id: str, data: bytes) -> None:
        self._store.restore(session_id, data)

    # ------------------------------------------------------------------ internals

    def _run(self, action: Action, session: Session, *, commit: bool) -> Verdict:
        try:
            if self._policy is None:
                return Verdict(decision=Decision.DENY, code="GG407",
                               message=f"GG407: spec not loaded: {self.load_error}")
            prepared = self._prepare(action)
            if isinstance(prepared, Verdict):
                return prepared
            tool, args = prepared
            prog = self._programs[tool]
            now = self._now_us(session)
            facts = self._facts(((k, t) for _, k, t in prog.facts), session)

            def txn(state: MonitorState) -> tuple[Verdict, list[Event]]:
                verdict, run_args = self._decide(prog, action, args, session, state, now, facts)
                if commit and run_args is not None and tool != "route":
                    return verdict, [("call", tool, run_args, now, action.call_id)]
                return verdict, []

            return self._store.transact(session.id, txn, self._apply)
        except _Deny as deny:
            return deny.verdict
        except Exception as exc:  # fail closed: an internal error is a deny, not a crash
            return Verdict(decision=Decision.DENY, code="GG408",
                           message=f"GG408: internal guard error: {type(exc).__name__}: {exc}")

    def _now_us(self, session: Session) -> int:
        now = session.now if session.now is not None else self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return (now - _EPOCH) // _US

    def _prepare(self, action: Action) -> tuple[str, dict[str, object]] | Verdict:
        """(canonical tool, validated args) or a fail-closed deny."""
        policy = self._policy
        assert policy is not None
        if action.kind is ActionKind.ROUTE:
            if not isinstance(action.target, str) or not action.target:
                return _deny("GG404",
                             f"route target must be a non-empty str, got {action.target!r}")
            return "route", {}
        if not isinstance(action.tool, str):
            return _deny("GG401", f"tool name must be a str, got {type(action.tool).__name__}")
        tool = self._names.get(action.tool) or self._names.get(normalize(action.tool).casefold())
        if tool is None:
            return _deny("GG401", f"unknown tool {action.tool!r}; declared tools: "
                         f"{', '.join(sorted(self._names.values()))}")
        if not isinstance(action.approved, bool):
            return _deny("GG404", f"approved must be a bool, got {action.approved!r}")
        params = self._params[tool]
        given = action.args
        if not all(type(k) is str and k.isascii() for k in given):
            renamed: dict[str, object] = {}
            for key, value in given.items():
                if not isinstance(key, str):
                    return _deny("GG403", f"{tool}: argument names must be str, got {key!r}")
                name = normalize(key)
                if name in renamed:
                    return _deny("GG403", f"{tool}: argument {name!r} given twice "
                                 "(after Unicode normalisation)")
                renamed[name] = value
            given = renamed
        for key in given:
            if key not in params:
                return _deny("GG403", f"{tool}: undeclared argument {key!r}; expected "
                             f"{', '.join(params) or 'no arguments'}")
        args: dict[str, object] = {}
        for name, (check, optional) in params.items():
            value = given.get(name)
            if value is None:
                if optional:
                    continue
                return _deny("GG402", f"{tool}: missing argument {name!r}")
            try:
                args[name] = check(value, f"{tool}.{name}")
            except BadValue as exc:
                return _deny("GG404", str(exc))
        return tool, args

    def _facts(self, needed: Iterable[tuple[str, ast.TypeExpr]], session: Session,
               ) -> dict[str, object]:
        try:
            return self._fact_values.resolve(needed, session)  # type: ignore[union-attr]
        except FactError as exc:
            raise _Deny(exc.code, str(exc)) from None

    def _context(self, path: tuple[str, ...], action: Action, session: Session,
                 tool: str) -> object:
        match path:
            case ("agent",):
                return normalize(action.agent)
            case ("tool",):
                return tool
            case ("target",):
                return normalize(action.target or "")
            case ("approved",):
                return action.approved
            case ("task", "labels"):
                return frozenset(normalize(x) for x in session.task_labels)
            case ("task", "kind"):
                return normalize(session.task_kind)
            case ("session", "user"):
                return normalize(session.user)
        raise GuardError(f"unknown context input {'.'.join(path)}")

    def _env(self, prog: ToolProgram, action: Action, args: Mapping[str, object],
             session: Session, state: MonitorState, now: int,
             facts: Mapping[str, object]) -> dict[str, object]:
        spec = self._policy.spec  # type: ignore[union-attr]
        env: dict[str, object] = dict(facts)
        for key, name in prog.args:
            if name in args:
                env[key] = args[name]
            else:
                env[key] = zero(self._policy.arg(prog.tool, name).type, spec)  # type: ignore[union-attr]
        for key, name in prog.present:
            env[key] = name in args
        for key, path in prog.context:
            env[key] = self._context(path, action, session, prog.tool)
        poisoned = state.poisoned
        for key, track, is_flag in prog.monitor:
            if poisoned and track.key in poisoned:
                raise _Deny("GG409", f"{track.key[4:]} could not be evaluated for call "
                                     f"{poisoned[track.key]}")
            value, defined = state.read(track, now)
            env[key] = defined if is_flag else (value if defined else prog.zeros[key])
        for key, func, path in prog.provenance:
            env[key] = self._label(func, path, args, action, state)
        for key, base in prog.sizes:
            env[key] = len(env[base])  # type: ignore[arg-type]
        return env

    def _label(self, func: str, path: tuple[str, ...], args: Mapping[str, object],
               action: Action, state: MonitorState) -> object:
        value: object = args.get(path[0])
        for part in path[1:]:
            value = value[part] if isinstance(value, Mapping) else None
        given = action.provenance.get(path[0])
        keys = value_keys(value)
        if func == "tainted":
            if given is not None and given.tainted is not None:
                return given.tainted
            return any(state.tainted(k) for k in taint_keys(value))
        if func == "from_user":
            if given is not None and given.from_user is not None:
                return given.from_user
            return bool(keys) and (all(state.from_user(k) for k in keys)
                                   or all(state.from_user(k) for k in user_keys(value)))
        if given is not None and given.sources is not None:
            return frozenset(normalize(s) for s in given.sources)
        return frozenset(t for k in taint_keys(value) for t in state.sources(k))

    def _decide(self, prog: ToolProgram, action: Action, args: dict[str, object],
                session: Session, state: MonitorState, now: int,
                facts: Mapping[str, object]) -> tuple[Verdict, dict[str, object] | None]:
        env = self._env(prog, action, args, session, state, now, facts)
        fired = self._fired(prog, env)
        if not fired:
            return _ALLOW, args
        deny = [r for r in fired if r.rule.otherwise is ast.Decision.DENY]
        escalate = [r for r in fired if r.rule.otherwise is ast.Decision.ESCALATE]
        warn = tuple(r.rule.name for r in fired if r.rule.otherwise is ast.Decision.WARN)
        ids = tuple(r.rule.name for r in fired)
        failures = tuple(explain(r, self._conjuncts[(prog.tool, r.rule.name)], env)
                         for r in (*deny, *escalate))
        if deny:
            if all(r.rule.repair for r in deny):
                repaired = self._repair(prog, action, args, session, state, now, facts, env,
                                        deny, failures)
                if repaired is not None:
                    return repaired
            return Verdict(decision=Decision.DENY, rules=ids, code="GG400",
                           message=_message(deny, failures[:len(deny)]), failures=failures,
                           warnings=warn), None
        if escalate:
            return Verdict(decision=Decision.ESCALATE, rules=ids, code="GG400",
                           message=_message(escalate, failures[len(deny):]), failures=failures,
                           warnings=warn), None
        return Verdict(decision=Decision.ALLOW, rules=ids, message="allowed with warnings: "
                       + ", ".join(warn), warnings=warn), args

    def _fired(self, prog: ToolProgram, env: Mapping[str, object]) -> list[Any]:
        fired = []
        for rule, got in zip(prog.rules, prog.fires(env), strict=True):
            if got is None:  # the fast path cannot decide: Z3 does
                policy = self._policy
                assert policy is not None
                with self._z3:
                    got = decide(rule.fires, z3_assignment(policy, rule.inputs, env),
                                 timeout_ms=self._solver_timeout)
                if got is None:
                    raise _Deny("GG409", f"rule {rule.rule.name}: the solver could not decide "
                                         "(unknown or time-out)", (rule.rule.name,))
            if got:
                fired.append(rule)
        return fired

    def _repair(self, prog: ToolProgram, action: Action, args: dict[str, object],
                session: Session, state: MonitorState, now: int,
                facts: Mapping[str, object], env: Mapping[str, object],
                deny: list[Any], failures: tuple[Failure, ...],
                ) -> tuple[Verdict, dict[str, object] | None] | None:
        policy = self._policy
        assert policy is not None
        with self._z3:
            changes = find_repair(policy, prog, env, deny, timeout_ms=self._solver_timeout)
        if changes is None:
            return None
        new_args = {**args, **changes}
        # The repaired call is checked like any other, so a repair is never weaker than
        # the rules (and an escalate rule it still meets is reported).
        verdict, _ = self._decide_plain(prog, action, new_args, session, state, now, facts)
        if verdict.decision is Decision.DENY:
            return None
        names = [r.rule.name for r in deny]
        shown = ", ".join(f"{k} {_fmt(args.get(k))} -> {_fmt(v)}" for k, v in changes.items())
        reason = _message(deny, failures[: len(deny)])
        decision = Decision.ESCALATE if verdict.decision is Decision.ESCALATE else Decision.REPAIR
        extra = f"; then {verdict.message}" if decision is Decision.ESCALATE else ""
        result = Verdict(decision=decision, rules=(*names, *verdict.rules), code="GG400",
                         message=f"repaired {shown}: {reason}{extra}", repair=changes,
                         failures=(*failures[: len(deny)], *verdict.failures))
        return result, (new_args if decision is Decision.REPAIR else None)

    def _decide_plain(self, prog: ToolProgram, action: Action, args: dict[str, object],
                      session: Session, state: MonitorState, now: int,
                      facts: Mapping[str, object]) -> tuple[Verdict, None]:
        env = self._env(prog, action, args, session, state, now, facts)
        fired = self._fired(prog, env)
        if any(r.rule.otherwise is ast.Decision.DENY for r in fired):
            return Verdict(decision=Decision.DENY, rules=tuple(r.rule.name for r in fired)), None
        escalate = [r for r in fired if r.rule.otherwise is ast.Decision.ESCALATE]
        if escalate:
            failures = tuple(explain(r, self._conjuncts[(prog.tool, r.rule.name)], env)
                             for r in escalate)
            return Verdict(decision=Decision.ESCALATE, rules=tuple(r.rule.name for r in escalate),
                           message=_message(escalate, failures), failures=failures), None
        return _ALLOW, None

    def _apply(self, state: MonitorState, event: Event) -> None:
        """Fold one committed event into a session's state. Deterministic, so replicas
        that replay the same event log reach the same state (see `RedisStore`)."""
        kind = event[0]
        if kind == "call":
            _, tool, args, now, call_id = event
            state.observe(self._tracks, tool, args, now, describe=call_id or tool)
            if call_id:
                state.executed(call_id, tool)
        elif kind == "result":
            _, call_id, output, trusted = event
            tool = state.calls.get(call_id)
            spec = self.spec
            if tool is None or spec is None:
                return
            decl = spec.tool(tool)
            state.label_output(tool, output_leaves(output, decl, trusted=trusted))
            if decl is not None and decl.returns is not None:
                try:
                    state.record_result(tool, validate(output, decl.returns, spec, "result"))
                except BadValue:
                    state.results.pop(tool, None)  # result(t) stays undefined: fail closed
        elif kind == "user":
            state.label_user(text_tokens(event[1]))


_ALLOW = Verdict(decision=Decision.ALLOW, message="allowed")


def _deny(code: str, message: str) -> Verdict:
    return Verdict(decision=Decision.DENY, code=code, message=f"{code}: {message}")


def _message(rules: Sequence[Any], failures: Sequence[Failure]) -> str:
    parts = []
    for rule, failure in zip(rules, failures, strict=True):
        said = rule.rule.message or f"rule {rule.rule.name} violated"
        parts.append(f"{rule.rule.name}: {said} [failed: {failure.describe()}]")
    return "; ".join(parts)


def _fmt(value: object) -> str:
    from guardgraph.guardrails.verdict import json_value

    return str(json_value(value))


def load_specs(*paths: str | os.PathLike[str]) -> LoadResult:
    """Load one spec file, or several combined as if one root file included them all."""
    if not paths:
        raise GuardError("at least one spec file is needed")
    if len(paths) == 1:
        return load_file(paths[0])
    includes = "".join(f"include {_quote(os.path.abspath(p))}\n" for p in paths)
    root = os.path.join(os.path.dirname(os.path.abspath(paths[0])), "<combined>")
    return load_text(f"spec combined version 1\n{includes}", path=root)


def _quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
