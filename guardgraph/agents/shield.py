"""The shield: the guard decides, before anything runs, which candidate actions may run.

One `GuardPort.check_many` per step over all candidate actions gives a mask; the policy's
distribution is renormalised over the allowed ones (the masked softmax in
`guardgraph.agents.policies`), so no denied action is ever sampled, and a denied proposal
from an unmasked policy is not executed (the agent sees the reason). An escalation is
allowed only when the simulated human approves it (`user_asked`: every argument is a value
the user gave in the task), and the approved call is re-checked in full with the approval.
A repair is allowed and runs the repaired arguments (``repair=False`` masks it instead,
for the ablation).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from guardgraph.agents._port import GuardPort, executable, run_args
from guardgraph.guardrails import Action, Decision, Session, Verdict

__all__ = ["Approver", "Mask", "Shield", "user_asked"]

# (task, action, escalate verdict) -> whether the simulated human approves the call.
Approver = Callable[[Any, Action, Verdict], bool]


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float | Fraction) and isinstance(b, int | float | Fraction):
        return float(a) == float(b)
    return a == b


def user_asked(task: Any, action: Action, verdict: Verdict) -> bool:
    """The simulated human: approve an escalated call that is one of the task's reference
    calls marked "escalate" (the user confirms what they asked for), or whose every
    argument the user gave in the task; refuse anything else (an injected payee)."""
    for call, expected in zip(getattr(task, "reference", ()), getattr(task, "expected", ()),
                              strict=False):
        if expected == "escalate" and call.tool == action.tool and _same_map(
                call.args, action.args):
            return True
    return _typed_by_user(task, action)


def _same_map(a: Mapping[str, object], b: Mapping[str, object]) -> bool:
    return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)


def _typed_by_user(task: Any, action: Action) -> bool:
    given = list(getattr(task, "params", {}).values())
    prompt = str(getattr(task, "prompt", ""))
    for value in action.args.values():
        if any(_same(value, g) for g in given):
            continue
        if isinstance(value, str) and value and value in prompt:
            continue
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Mask:
    """The shield's answer for one step's candidates, index by index."""

    allowed: tuple[bool, ...]
    verdicts: tuple[Verdict, ...]
    approved: tuple[bool, ...]            # escalations the approver accepted
    runs: tuple[Mapping[str, object] | None, ...] = field(default=())  # args that would run

    @property
    def attempted_if(self) -> tuple[bool, ...]:
        """Which candidates would be an attempted violation if proposed."""
        return tuple(not a for a in self.allowed)


class Shield:
    """Masks and executes candidate actions through a guard.

    ``repair``: whether a repair verdict counts as allowed (running the repaired args).
    ``approver``: who answers escalations (default `user_asked`; None refuses them all).
    """

    def __init__(self, port: GuardPort, *, repair: bool = True,
                 approver: Approver | None = user_asked) -> None:
        self.port = port
        self.repair = repair
        self.approver = approver

    def mask(self, actions: Sequence[Action], session: Session, task: Any, *,
             cache: dict[Hashable, Verdict] | None = None,
             key: Callable[[Action], Hashable] | None = None) -> Mask:
        """One `check_many` over the candidates not in ``cache`` (``key(action)`` names a
        candidate under the current session state; the caller clears the cache when the
        state changes). The mask is advisory: `execute` re-checks the chosen one."""
        if cache is None or key is None:
            verdicts = self.port.check_many(actions, session)
        else:
            keys = [key(a) for a in actions]
            todo = [i for i, k in enumerate(keys) if k not in cache]
            for i, v in zip(todo, self.port.check_many([actions[i] for i in todo], session),
                            strict=True):
                cache[keys[i]] = v
            verdicts = tuple(cache[k] for k in keys)
        allowed: list[bool] = []
        approved: list[bool] = []
        runs: list[Mapping[str, object] | None] = []
        for action, verdict in zip(actions, verdicts, strict=True):
            ok = executable(verdict) and (self.repair or verdict.decision is Decision.ALLOW)
            yes = False
            if verdict.decision is Decision.ESCALATE and self.approver is not None:
                yes = bool(self.approver(task, action, verdict))
            allowed.append(ok or yes)
            approved.append(yes)
            runs.append(run_args(verdict, action.args) if ok or yes else None)
        return Mask(allowed=tuple(allowed), verdicts=verdicts, approved=tuple(approved),
                    runs=tuple(runs))

    def execute(self, action: Action, session: Session, mask: Mask, index: int,
                at: datetime) -> Verdict:
        """Re-check candidate ``index`` and commit it atomically; the returned verdict is
        what the executor obeys (a state change since the mask is caught here)."""
        if mask.approved[index]:
            verdict = self.port.execute(action, session, approver="simulated-user",
                                        escalation=mask.verdicts[index], at=at)
        else:
            verdict = self.port.execute(action, session)
        return verdict

