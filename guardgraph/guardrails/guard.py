"""The runtime guard: every tool call and routing decision passes `Guard.evaluate`, and
an executable verdict becomes history only through `Guard.commit`.

Flow of a check: read the action and the session into exact values (fail closed on
anything unexpected) -> take one snapshot of the session's state -> refuse a call id
already used for another action, and a time before the session's last committed event
-> fill the inputs the tool's rules read -> fast path (Z3 for what it cannot decide) ->
a verdict with its `Subject`. Any exception on the way — from a fact provider or a store
too, even a `SystemExit` — is a deny with a code; only `KeyboardInterrupt` propagates.

Budgets are never overspent: `evaluate` changes nothing; `commit` re-checks the call
against the state at that moment unless nothing was committed since the evaluation, and
is idempotent by call id (see docs/internal/session-contracts.md).
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from guardgraph.guardrails._check import (
    ROUTE,
    Checker,
    Context,
    Deny,
    Prepared,
    Shared,
    read_context,
)
from guardgraph.guardrails._errors import GuardError, StoreError
from guardgraph.guardrails._facts import FactError, FactProvider, Facts
from guardgraph.guardrails._monitor import MonitorState
from guardgraph.guardrails._session_state import Codec, executed_tool, read_blob, write_blob
from guardgraph.guardrails._store import Event, InMemoryStore, SessionStore
from guardgraph.guardrails.action import Action, Session
from guardgraph.guardrails.approval import Approval, args_sha256
from guardgraph.guardrails.policy import Policy, load_policy
from guardgraph.guardrails.verdict import Decision, PlanVerdict, Subject, Verdict
from guardgraph.specs import ast

__all__ = ["FactProvider", "Guard", "GuardError"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_FIRST_VERDICTS = 65_536  # first verdict per committed call id, kept for duplicate commits


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class _Basis(NamedTuple):
    """What commit needs to record, or re-check, a verdict (never leaves the process).
    A named tuple, not a dataclass: one is made per check, on the hot path."""

    policy_sha256: str
    prepared: Prepared
    call_id: str
    ctx: Context
    facts: Mapping[str, object]
    now: int
    seq: int  # the state version the verdict was decided on


class Guard:
    r"""Checks actions against a `Policy`; one guard serves many sessions and threads.

    ``facts``: fact name -> value, or a callable ``f(session) -> value`` run with
    ``fact_timeout_s``. ``store``: where session state lives (default in-memory;
    `RedisStore` to share budgets between replicas). ``clock``: the time of a check when
    the session gives no ``now``; a session ``now`` further ahead of it than
    ``max_clock_skew`` is denied (None: no bound). ``ids`` makes call ids for actions
    that have none. ``solver_timeout_ms`` bounds every Z3 call (fallback, repair, plan).

    >>> from guardgraph.guardrails import Policy
    >>> g = Guard(Policy.from_text('spec s version 1\ntool pay(amount: int)\n'
    ...                            'rule cap:\n  on pay\n  require amount <= 10\n'))
    >>> g.evaluate(Action(tool="pay", args={"amount": 12}), Session(id="s")).message
    'cap: rule cap violated [failed: amount <= 10 (amount = 12)]'
    """

    def __init__(self, policy: Policy, *, facts: Mapping[str, object] | None = None,
                 store: SessionStore | None = None,
                 clock: Callable[[], datetime] | None = None,
                 ids: Callable[[], str] | None = None, fact_timeout_s: float = 1.0,
                 solver_timeout_ms: int = 2000,
                 max_clock_skew: timedelta | None = timedelta(minutes=5)) -> None:
        if not isinstance(policy, Policy):
            raise GuardError(f"Guard needs a Policy (guardgraph.guardrails.load_policy), got "
                             f"{type(policy).__name__}")
        self._policy = policy
        self._rt = policy.runtime()
        self._checker = Checker(self._rt, solver_timeout_ms=solver_timeout_ms)
        self._codec = Codec(self._rt)
        self._store: SessionStore = store if store is not None else InMemoryStore()
        self._clock = clock if clock is not None else _utc_now
        self._ids = ids if ids is not None else _new_id
        self._skew = max_clock_skew
        self._solver_timeout = solver_timeout_ms
        self._first: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self._first_lock = threading.Lock()
        try:
            self._facts = Facts(policy.spec, facts, timeout_s=fact_timeout_s)
        except FactError as exc:
            raise GuardError(str(exc)) from None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_files(cls, *paths: str | os.PathLike[str], **options: Any) -> Guard:
        """``Guard(load_policy(*paths), **options)``: `SpecLoadError` on a bad spec."""
        return cls(load_policy(*paths), **options)

    @classmethod
    def from_text(cls, text: str, *, path: str = "<string>", **options: Any) -> Guard:
        """``Guard(Policy.from_text(text), **options)``: `SpecLoadError` on a bad spec."""
        return cls(Policy.from_text(text, path=path), **options)

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def spec(self) -> ast.Spec:
        return self._policy.spec

    def close(self) -> None:
        """Stop the fact-provider threads (a guard is usable until then)."""
        self._facts.close()

    # ------------------------------------------------------------------ checking

    def evaluate(self, action: Action, session: Session, approval: Approval | None = None,
                 ) -> Verdict:
        """The verdict on ``action`` in ``session``; changes no state."""
        return self._check(action, session, approval, commit=False)

    def check_and_commit(self, action: Action, session: Session,
                         approval: Approval | None = None) -> Verdict:
        """Evaluate and, for an executable verdict, commit, atomically: two concurrent
        calls cannot both spend the last of a budget."""
        return self._check(action, session, approval, commit=True)

    def commit(self, verdict: Verdict) -> Verdict:
        """Record an executable verdict of this guard as executed; return what holds.

        Idempotent by call id: a second commit of the same call returns the first
        verdict and spends nothing; another action under a used call id is a GG412 deny.
        When the session changed since the evaluation the call is checked again first,
        and a verdict that no longer holds is returned uncommitted. A non-executable
        verdict commits nothing and is returned as it is.
        """
        if not isinstance(verdict, Verdict):
            return _deny("GG415", f"commit needs a Verdict, got {type(verdict).__name__}")
        if not verdict.executable:
            return verdict
        basis = verdict.basis
        if not isinstance(basis, _Basis) or basis.policy_sha256 != self._policy.sha256 \
                or verdict.subject is None:
            return _deny("GG415", "this verdict was not made by a guard of this policy in "
                         "this process (or it was pickled): evaluate the action again",
                         verdict.subject)
        subject = verdict.subject

        def txn(state: MonitorState) -> tuple[Verdict, list[Event]]:
            early = self._screen(state, basis.prepared, basis.call_id, basis.now, subject)
            if early is not None:
                return early, []
            if state.seq != basis.seq:
                fresh = self._decide(state, basis.prepared, basis.call_id, basis.ctx,
                                     basis.now, basis.facts, subject.at, None)
                if not fresh.executable or fresh.subject is None or \
                        dict(fresh.subject.args) != dict(subject.args):
                    return fresh, []
            return verdict, [self._event(basis.prepared, basis.call_id, subject, basis.now)]

        return self._transact(subject.session_id, txn, subject, remember=True)

    def check_many(self, actions: Sequence[Action], session: Session) -> tuple[Verdict, ...]:
        """The verdicts on K candidate actions against one snapshot of the session (one
        store read, one fact resolution, one read of each monitor term); commits nothing.
        Built for action masks: the same answers as K `evaluate` calls on that state."""
        try:
            ctx = read_context(session, None)
            at, now = self._at(session)
        except Deny as d:
            return tuple(d.verdict() for _ in actions)
        prepared: list[Prepared | Verdict] = []
        for action in actions:
            try:
                prepared.append(self._checker.prepare(action))
            except Deny as d:
                prepared.append(d.verdict())
        needed: dict[str, ast.TypeExpr] = {}
        for p in prepared:
            if isinstance(p, Prepared):
                needed.update((name, t) for _, name, t in self._rt.programs[p.tool].facts)
        try:
            facts = self._resolve(needed.items(), session)
        except Deny as d:  # the shared facts failed: every action that needs one is denied
            facts, failed = None, d
        ids = [p.call_id or self._ids() if isinstance(p, Prepared) else "" for p in prepared]

        def txn(state: MonitorState) -> tuple[tuple[Verdict, ...], list[Event]]:
            reads: Shared = {}
            out: list[Verdict] = []
            for p, call_id in zip(prepared, ids, strict=True):
                if isinstance(p, Verdict):
                    out.append(p)
                    continue
                subject = self._subject(p, call_id, ctx, at, p.args)
                if facts is None and self._rt.programs[p.tool].facts:
                    out.append(replace(failed.verdict(), subject=subject))
                    continue
                try:
                    early = self._screen(state, p, call_id, now, subject)
                    out.append(early if early is not None else self._decide(
                        state, p, call_id, ctx, now, facts or {}, at, reads, subject))
                except Deny as d:
                    out.append(replace(d.verdict(), subject=subject))
            return tuple(out), []

        try:
            out: tuple[Verdict, ...] = self._guarded(
                lambda: self._store.transact(ctx.session_id, txn, self._codec))
        except _Failed as f:
            return tuple(f.verdict for _ in actions)
        return out

    # ------------------------------------------------------------------ async twins
    # The sync core, run in a worker thread: a fact provider, a store round trip or a Z3
    # fallback never blocks the event loop, and the answers are the sync answers.

    async def aevaluate(self, action: Action, session: Session,
                        approval: Approval | None = None) -> Verdict:
        return await asyncio.to_thread(self.evaluate, action, session, approval)

    async def acommit(self, verdict: Verdict) -> Verdict:
        return await asyncio.to_thread(self.commit, verdict)

    async def acheck_and_commit(self, action: Action, session: Session,
                                approval: Approval | None = None) -> Verdict:
        return await asyncio.to_thread(self.check_and_commit, action, session, approval)

    async def acheck_many(self, actions: Sequence[Action], session: Session,
                          ) -> tuple[Verdict, ...]:
        return await asyncio.to_thread(self.check_many, actions, session)

    async def arecord_result(self, session_id: str, call_id: str, output: object, *,
                             trusted: bool | None = None) -> bool:
        return await asyncio.to_thread(self.record_result, session_id, call_id, output,
                                       trusted=trusted)

    async def auser_message(self, session_id: str, text: str) -> None:
        await asyncio.to_thread(self.user_message, session_id, text)

    # ------------------------------------------------------------------ history

    def record_result(self, session_id: str, call_id: str, output: object, *,
                      trusted: bool | None = None) -> bool:
        """Label and remember the output of an executed call; False when the call id is
        not one of the session's executed calls (e.g. it was denied)."""
        if type(session_id) is not str or type(call_id) is not str or \
                trusted not in (None, True, False):
            raise GuardError("record_result needs str session and call ids and trusted "
                             f"None/True/False, got {session_id!r:.40}, {call_id!r:.40}, "
                             f"{trusted!r}")
        event: Event = ("result", call_id, output, trusted)

        def txn(state: MonitorState) -> tuple[bool, list[Event]]:
            known = executed_tool(state, call_id) is not None
            return known, [event] if known else []

        return self._store.transact(session_id, txn, self._codec)

    def user_message(self, session_id: str, text: str) -> None:
        """Remember what the user said (for ``from_user``)."""
        if type(session_id) is not str or not isinstance(text, str):
            raise GuardError(f"user_message needs a str session id and text, got "
                             f"{type(session_id).__name__}, {type(text).__name__}")
        event: Event = ("user", str.__str__(text))
        self._store.transact(session_id, lambda state: (None, [event]), self._codec)

    def check_plan(self, actions: Sequence[Action], session: Session) -> PlanVerdict:
        """Whether some execution of ``actions`` (arguments may be `Symbolic`) can make
        a rule fire, with a witness; ``unknown`` counts as a possible violation."""
        from guardgraph.guardrails import _plan

        try:
            ctx = read_context(session, None)
            _, now = self._at(session)
            facts = self._resolve(((f.name, f.type) for f in self.spec.facts), session)
        except Deny as d:
            return PlanVerdict(safe=False, code=d.code, message=f"{d.code}: {d}")
        # A snapshot, so that no store lock is held while Z3 works (the check path takes
        # the store lock first and the Z3 lock second).
        state = self._codec.decode(self._store.transact(
            ctx.session_id, lambda st: (self._codec.encode(st), []), self._codec))
        with self._rt.z3_lock:
            return _plan.check_plan(self._rt.compiled, self._rt.programs, self._rt.names,
                                    actions, session, state, now, facts,
                                    timeout_ms=self._solver_timeout)

    # ------------------------------------------------------------------ session state

    def export_session(self, session_id: str) -> bytes:
        """The session's state as an opaque, versioned blob naming the policy sha256
        (small: the monitor's accumulators, not the history)."""
        state = self._store.transact(session_id, lambda st: (self._codec.encode(st), []),
                                     self._codec)
        return write_blob(session_id, self._policy.sha256, state)

    def restore_session(self, blob: bytes) -> None:
        """Replace the state of the session named inside ``blob``; `SessionStateError`
        for a blob of another policy or format."""
        session_id, state = read_blob(blob, self._policy.sha256)
        self._store.restore(session_id, state, self._codec)
        with self._first_lock:
            for key in [k for k in self._first if k[0] == session_id]:
                del self._first[key]

    def drop_session(self, session_id: str) -> None:
        """Forget a session's state. The session stays closed (checks are denied with
        GG414) until a blob is restored, so dropping can never reopen a budget."""
        self._store.drop(session_id)

    # ------------------------------------------------------------------ internals

    def _check(self, action: Action, session: Session, approval: Approval | None, *,
               commit: bool) -> Verdict:
        subject: Subject | None = None
        try:
            p = self._checker.prepare(action)
            ctx = read_context(session, approval)
            at, now = self._at(session)
            call_id = p.call_id or self._ids()
            subject = self._subject(p, call_id, ctx, at, p.args)
            facts = self._resolve(((name, t) for _, name, t in self._rt.programs[p.tool].facts),
                                  session)
        except Deny as d:
            return replace(d.verdict(), subject=subject)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return _internal(exc, subject)

        def txn(state: MonitorState) -> tuple[Verdict, list[Event]]:
            early = self._screen(state, p, call_id, now, subject)
            if early is not None:
                return early, []
            verdict = self._decide(state, p, call_id, ctx, now, facts, at, None, subject)
            if commit and verdict.executable:
                assert verdict.subject is not None
                return verdict, [self._event(p, call_id, verdict.subject, now)]
            return verdict, []

        return self._transact(ctx.session_id, txn, subject, remember=commit)

    def _transact(self, session_id: str,
                  txn: Callable[[MonitorState], tuple[Verdict, list[Event]]],
                  subject: Subject | None, *, remember: bool) -> Verdict:
        try:
            verdict: Verdict = self._guarded(
                lambda: self._store.transact(session_id, txn, self._codec))
        except _Failed as f:
            return replace(f.verdict, subject=subject)
        if remember and verdict.executable and verdict.subject is not None:
            key = (session_id, verdict.subject.call_id)
            with self._first_lock:
                if key not in self._first:
                    self._first[key] = verdict
                    while len(self._first) > _FIRST_VERDICTS:
                        self._first.popitem(last=False)
        return verdict

    def _guarded(self, run: Callable[[], Any]) -> Any:
        """``run()``, with every failure turned into a `_Failed` deny."""
        try:
            return run()
        except Deny as d:
            raise _Failed(d.verdict()) from None
        except StoreError as exc:
            hint = f" (hint: {exc.hint})" if exc.hint else ""
            raise _Failed(_deny(exc.code, f"session store: {exc}{hint}")) from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise _Failed(_internal(exc, None)) from None

    def _screen(self, state: MonitorState, p: Prepared, call_id: str, now: int,
                subject: Subject | None) -> Verdict | None:
        """A verdict decided before the rules run: a reused call id, or a time before
        the session's last committed event."""
        used = state.committed.get(call_id)
        if used is not None:
            if used == _fingerprint(p):
                with self._first_lock:
                    first = self._first.get((state_key(subject), call_id))
                if first is not None:
                    return first
                return Verdict(decision=Decision.ALLOW, code="GG412", subject=subject,
                               message=f"GG412: call {call_id} was already committed with "
                                       "these arguments; not counted again")
            return _deny("GG412", f"call id {call_id!r} was already committed for another "
                         "action; a call id names one call", subject)
        if now < state.last_us:
            last = (_EPOCH + state.last_us * _US).isoformat()
            return _deny("GG413", f"the check's time is earlier than the session's last "
                         f"committed event ({last}); history is never rewound", subject)
        return None

    def _decide(self, state: MonitorState, p: Prepared, call_id: str, ctx: Context, now: int,
                facts: Mapping[str, object], at: datetime,
                reads: Shared | None,
                subject: Subject | None = None) -> Verdict:
        """The verdict with its subject (``subject``, when given, is the one of the
        proposed arguments: reused unless a repair changed them) and commit basis."""
        v, run = self._checker.decide(p, call_id, ctx, facts, state, now, reads)
        if subject is None or (run is not None and run is not p.args):
            subject = self._subject(p, call_id, ctx, at, run if run is not None else p.args)
        basis = _Basis(policy_sha256=self._policy.sha256, prepared=p, call_id=call_id, ctx=ctx,
                       facts=facts, now=now, seq=state.seq)
        # The constructor, not dataclasses.replace: this is the hot path of every check.
        return Verdict(decision=v.decision, rules=v.rules, message=v.message, code=v.code,
                       failures=v.failures, repair=v.repair, warnings=v.warnings,
                       subject=subject, basis=basis)

    def _subject(self, p: Prepared, call_id: str, ctx: Context, at: datetime,
                 args: Mapping[str, object]) -> Subject:
        policy = self._policy
        # ``args`` is the guard's own checked copy (never the caller's): wrapped, not copied
        frozen = args if type(args) is MappingProxyType else MappingProxyType(dict(args))
        return Subject(tool=p.tool, args=frozen, call_id=call_id,
                       agent=p.agent, kind=p.kind, target=p.target, session_id=ctx.session_id,
                       at=at, spec_name=policy.name, spec_version=policy.version,
                       spec_sha256=policy.sha256)

    @staticmethod
    def _event(p: Prepared, call_id: str, subject: Subject, now: int) -> Event:
        if p.tool == ROUTE:
            return ("route", call_id, _fingerprint(p), now)
        return ("call", p.tool, dict(subject.args), now, call_id, _fingerprint(p))

    def _at(self, session: Session) -> tuple[datetime, int]:
        given = session.now
        if given is None:
            at = self._clock()
        elif not isinstance(given, datetime):
            raise Deny("GG404", f"session.now must be a datetime, got {type(given).__name__}")
        else:
            at = given
        if not isinstance(at, datetime):
            raise Deny("GG408", f"the guard's clock returned a {type(at).__name__}")
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if given is not None and self._skew is not None:
            ahead = at - self._aware(self._clock())
            if ahead > self._skew:
                raise Deny("GG413", f"session.now {at.isoformat()} is {ahead} ahead of the "
                           f"guard's clock (allowed skew {self._skew})")
        return at, (at - _EPOCH) // _US

    @staticmethod
    def _aware(t: datetime) -> datetime:
        return t if t.tzinfo is not None else t.replace(tzinfo=UTC)

    def _resolve(self, needed: Iterable[tuple[str, ast.TypeExpr]], session: Session,
                 ) -> dict[str, object]:
        try:
            return self._facts.resolve(needed, session)
        except FactError as exc:
            raise Deny(exc.code, str(exc)) from None


class _Failed(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


def state_key(subject: Subject | None) -> str:
    return subject.session_id if subject is not None else ""


def _fingerprint(p: Prepared) -> str:
    """What a call id is bound to: the tool and the proposed (not repaired) arguments.
    64 bits of the SHA-256 keep a session blob small; passing another action off as a
    committed one would take a second preimage of them (about 2**64 tries)."""
    if p.tool == ROUTE:
        return f"route:{args_sha256({'target': p.target})[:16]}"
    return f"{p.tool}:{args_sha256(p.args)[:16]}"


def _deny(code: str, message: str, subject: Subject | None = None) -> Verdict:
    return Verdict(decision=Decision.DENY, code=code, message=f"{code}: {message}",
                   subject=subject)


def _internal(exc: BaseException, subject: Subject | None) -> Verdict:
    return _deny("GG408", f"internal guard error: {type(exc).__name__}: {exc}", subject)
