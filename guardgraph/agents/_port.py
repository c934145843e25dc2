"""The learners' one door into the guard: build it from a domain, check many candidates,
execute one, forget a finished episode.

Written against the guard API of docs/internal/session-contracts.md (`Guard(policy, ...)`,
`check_many`, `check_and_commit(..., approval=)`, `Verdict.subject`, `drop_session`), and
falling back to the older surface (`Guard.from_files`, `check`, `Action(approved=True)`)
where a method is missing, so the learners run on either side of the refit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from guardgraph.guardrails import Action, Decision, Guard, Session, Verdict
from guardgraph.specs import ast

__all__ = ["GuardPort", "executable", "run_args"]


def executable(verdict: Verdict) -> bool:
    """Whether the guard lets the action run (allow, or repair with the repaired args)."""
    return verdict.decision in (Decision.ALLOW, Decision.REPAIR)


def run_args(verdict: Verdict, proposed: Mapping[str, object]) -> dict[str, object]:
    """The arguments the executor runs: the guard's frozen checked copy when it gives one
    (for a repair, the repaired ones), else the proposal with the repair applied."""
    subject = getattr(verdict, "subject", None)
    if subject is not None:
        return dict(subject.args)
    if verdict.decision is Decision.REPAIR and verdict.repair is not None:
        return {**proposed, **verdict.repair}
    return dict(proposed)


class GuardPort:
    """A guard as the environments use it; one port per environment (not thread-safe)."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._many = callable(getattr(guard, "check_many", None))
        self._evaluate = callable(getattr(guard, "evaluate", None))

    @classmethod
    def for_domain(cls, domain: Any, *, clock: Callable[[], datetime] | None = None,
                   ) -> GuardPort:
        """The guard for a domain's spec pack and facts. ``clock``: the simulated time,
        so the guard's clock-skew check compares the sessions' times with the
        environment's own clock, not the machine's."""
        options: dict[str, Any] = {} if clock is None else {"clock": clock}
        make = getattr(domain, "guard", None)
        if callable(make):
            return cls(make(**options))
        return cls(Guard(domain.policy(), facts=dict(domain.facts), **options))

    @property
    def spec(self) -> ast.Spec:
        policy = getattr(self.guard, "policy", None)
        spec = getattr(policy, "spec", None)
        if spec is None:
            spec = getattr(self.guard, "spec", None)
        if spec is None:
            raise ValueError("the guard holds no loaded spec")
        return spec  # type: ignore[no-any-return]

    @property
    def spec_sha256(self) -> str:
        policy = getattr(self.guard, "policy", None)
        digest = getattr(policy, "sha256", None)
        return str(digest) if digest else self.spec.content_hash

    def check_many(self, actions: Sequence[Action], session: Session) -> tuple[Verdict, ...]:
        """One snapshot of the session; commits nothing."""
        if not actions:
            return ()
        if self._many:
            return tuple(self.guard.check_many(actions, session))
        check: Any = self.guard.check  # type: ignore[attr-defined]  # the pre-refit API
        return tuple(check(a, session) for a in actions)

    def execute(self, action: Action, session: Session, *, approver: str = "",
                escalation: Verdict | None = None, at: datetime | None = None) -> Verdict:
        """Check and commit atomically; with ``approver`` the escalation in ``escalation``
        is approved for exactly this call id and these arguments."""
        if not approver:
            return self.guard.check_and_commit(action, session)
        if self._evaluate:
            from guardgraph.guardrails import Approval

            subject = escalation.subject if escalation is not None else None
            if subject is None or at is None:
                return self.guard.check_and_commit(action, session)
            approval = Approval(approver=approver, call_id=subject.call_id,
                                args_sha256=subject.args_sha256, at=at)
            fixed = Action(tool=action.tool, args=action.args, agent=action.agent,
                           call_id=subject.call_id, kind=action.kind, target=action.target,
                           provenance=action.provenance)
            return self.guard.check_and_commit(fixed, session, approval=approval)
        approved = Action(tool=action.tool, args=action.args, agent=action.agent,
                          call_id=action.call_id, kind=action.kind, target=action.target,
                          provenance=action.provenance, approved=True)  # type: ignore[call-arg]
        return self.guard.check_and_commit(approved, session)

    def record_result(self, session_id: str, call_id: str, output: object) -> None:
        self.guard.record_result(session_id, call_id, output)

    def user_message(self, session_id: str, text: str) -> None:
        self.guard.user_message(session_id, text)

    def drop(self, session_id: str) -> None:
        """Forget a finished episode's session, so a long run does not grow the store."""
        drop = getattr(self.guard, "drop_session", None)
        if callable(drop):
            drop(session_id)
        # Before the refit a guard cannot forget a session; its small state stays until
        # the guard is dropped (one guard per environment, so at the end of the run).
