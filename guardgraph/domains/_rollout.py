"""`play`: one task run end to end — script proposes, guard decides, world changes.

The reference loop the demo and the environments follow, in a few lines: each proposed
call becomes an `Action` for the guard; an allowed (or repaired) call runs on the world
with the arguments the guard checked, its output goes back to the guard (provenance) and
to the script; a deny or an unapproved escalation does not run, and the script reads the
reason. ``guard=None`` runs the same loop with nothing in the way: what the attacks would
achieve unguarded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from guardgraph.domains._domain import Domain
from guardgraph.domains._types import Call, Script, Step, Task, ToolFailure, World

if TYPE_CHECKING:
    from guardgraph.guardrails import Action, Guard, Session, Verdict

__all__ = ["Episode", "play"]

# Simulated time between two proposals, so that windows ("within 1h") see time pass.
STEP_TIME = timedelta(seconds=20)


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """The outcome of `play`: the steps in order, the final world, and the two tests."""

    task: Task
    steps: tuple[Step, ...]
    world: World
    success: bool
    compromised: bool


Approver = Callable[[Call, Any], bool]
"""``approve(call, verdict) -> bool``: a human's answer to an escalation."""


def play(domain: Domain, task: Task, *, guard: Guard | None = None, script: Script | None = None,
         approve: Approver | None = None, session_id: str | None = None,
         max_steps: int = 40) -> Episode:
    """Run ``task`` with ``script`` (default: the domain's naive one) under ``guard``.

    ``approve(call, verdict)`` answers escalations (None: nobody approves, the call does
    not run). The guard's session is ``session_id`` (default: the task id).
    """
    world = domain.new_world(task.seed)
    script = script if script is not None else domain.script(task)
    sid = session_id or task.id
    if guard is not None:
        guard.user_message(sid, task.prompt)
    steps: list[Step] = []
    for i in range(max_steps):
        call = script.propose(tuple(steps))
        if call is None:
            break
        decision, args, message = "allow", dict(call.args), ""
        rules: tuple[str, ...] = ()
        if guard is not None:
            decision, rules, args, message = _decide(guard, domain, task, sid, world, i,
                                                     call, approve)
        if decision not in ("allow", "repair"):
            steps.append(Step(call=call, decision=decision, output=message, rules=rules))
            continue
        ran = Call(tool=call.tool, args=args)
        try:
            output: object = domain.execute(world, ran.tool, ran.args)
        except ToolFailure as exc:
            output = f"error: {exc}"
        if guard is not None:
            guard.record_result(sid, f"c{i}", output)
        steps.append(Step(call=ran, decision=decision, output=output, rules=rules))
    return Episode(task=task, steps=tuple(steps), world=world, success=task.success(world),
                   compromised=task.compromised(world))


def _decide(guard: Guard, domain: Domain, task: Task, sid: str, world: World, i: int,
            call: Call, approve: Approver | None
            ) -> tuple[str, tuple[str, ...], dict[str, object], str]:
    from guardgraph.guardrails import Action

    session = domain.session(task, session_id=sid, at=world.now + i * STEP_TIME)
    action = Action(tool=call.tool, args=dict(call.args), agent=task.specialist,
                    call_id=f"c{i}")
    verdict = guard.check_and_commit(action, session)
    decision = str(verdict.decision)
    if decision == "escalate":
        if approve is None or not approve(call, verdict):
            return ("rejected" if approve is not None else "escalate", verdict.rules,
                    dict(call.args), verdict.message)
        verdict = _approved(guard, action, session, verdict)
        decision = str(verdict.decision)
    if decision not in ("allow", "repair"):
        return decision, verdict.rules, dict(call.args), verdict.message
    return decision, verdict.rules, _executed_args(call, verdict), verdict.message


def _approved(guard: Guard, action: Action, session: Session, verdict: Verdict) -> Verdict:
    from guardgraph.guardrails import Approval

    assert verdict.subject is not None  # an escalation always has its subject
    approval = Approval(approver="play", call_id=verdict.subject.call_id,
                        args_sha256=verdict.subject.args_sha256,
                        at=session.now or verdict.subject.at,
                        reason="approved by the caller of play()")
    return guard.check_and_commit(action, session, approval=approval)


def _executed_args(call: Call, verdict: Verdict) -> dict[str, object]:
    # The executor runs the arguments the guard checked (repaired ones for a repair),
    # never the proposer's objects.
    if verdict.subject is not None:
        return _thawed(verdict.subject.args)
    return {**call.args, **(verdict.repair or {})}


def _thawed(args: Mapping[str, object]) -> dict[str, object]:
    def thaw(value: object) -> object:
        if isinstance(value, Mapping):
            return {k: thaw(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [thaw(v) for v in value]
        if isinstance(value, frozenset | set):
            return sorted((thaw(v) for v in value), key=repr)
        return value

    return {k: thaw(v) for k, v in args.items()}
