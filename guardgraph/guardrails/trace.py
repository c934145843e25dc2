"""The trace file format (docs/trace-format.md) and its replay through a guard.

A trace is JSON Lines, one recorded session per line. ``parse_trace_line`` validates one
line strictly (no coercion: a string is not a number) and names the first field that is
wrong. `Replay` feeds the lines' events to a `Guard` in order and yields one `ReplayStep`
per tool call or route, plus a `TraceIssue` for each thing in the trace that does not add
up (a result for an unknown call, a call id used twice); ``guardgraph check-trace`` prints
them.

Semantics of a replay (stated once, here and in docs/trace-format.md):

- A call the guard does not allow (deny; escalate without approval) counts as not
  executed for the rest of its session: it spends no budget, and a ``tool_result`` for it
  is reported and ignored. A repaired call is executed with the repaired arguments.
- A call marked ``"approved": true`` was approved by a human before it was proposed: it
  is checked with an `Approval` bound to that call id and its checked arguments (the
  rules' ``approved`` holds for it and for nothing else).
- An escalated call that the trace shows was executed — a ``tool_result`` for its id
  follows it — was approved by a human when it escalated: it is checked again with such an
  `Approval`. When that check allows it, it is committed and its output is labelled like
  any other, so an injection read through an approved call still taints what follows.
- A session id names one session: the same id on a second line is an error naming both
  lines, unless the replay is told that lines continue their session.

>>> text = '{"session": "s1", "events": [{"kind": "user_message", "content": "hi"}]}'
>>> line = parse_trace_line(text)
>>> line.session, type(line.events[0]).__name__
('s1', 'TraceUserMessage')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardgraph.errors import GuardgraphError
from guardgraph.guardrails.action import Action, Session
from guardgraph.guardrails.approval import Approval
from guardgraph.guardrails.verdict import Decision, Verdict, json_value

if TYPE_CHECKING:
    from guardgraph.guardrails.guard import Guard

__all__ = [
    "Replay",
    "ReplayStep",
    "TraceCall",
    "TraceContext",
    "TraceError",
    "TraceIssue",
    "TraceLine",
    "TraceResult",
    "TraceRoute",
    "TraceTask",
    "TraceUserMessage",
    "action_of",
    "parse_trace_line",
    "session_of",
]

TRACE_APPROVER = "trace"  # the approver named when the trace does not say who approved


class TraceError(GuardgraphError):
    """A trace line that is not valid JSON, does not follow the trace format, or repeats a
    session id. ``line`` and ``first_line`` are set by `Replay` (1-based; 0 unknown)."""

    def __init__(self, message: str, *, line: int = 0, first_line: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.first_line = first_line


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TraceTask(_Model):
    labels: list[str] = []
    kind: str = ""


class TraceContext(_Model):
    user: str = ""
    now: datetime | None = None
    facts: dict[str, Any] = {}
    task: TraceTask = TraceTask()


class TraceCall(_Model):
    kind: Literal["tool_call"]
    id: str
    tool: str
    agent: str = ""
    args: dict[str, Any] = {}
    approved: bool = False
    approver: str = ""
    time: datetime | None = None


class TraceRoute(_Model):
    kind: Literal["route"]
    id: str
    target: str
    agent: str = ""
    approved: bool = False
    approver: str = ""
    time: datetime | None = None


class TraceResult(_Model):
    kind: Literal["tool_result"]
    call_id: str
    output: Any = None
    trusted: bool | None = None


class TraceUserMessage(_Model):
    kind: Literal["user_message"]
    content: str


_Event = Annotated[
    TraceCall | TraceRoute | TraceResult | TraceUserMessage, Field(discriminator="kind")
]


class TraceLine(_Model):
    session: str
    context: TraceContext = TraceContext()
    events: list[_Event]


def parse_trace_line(text: str) -> TraceLine:
    """One trace line as a value; :class:`TraceError` names the first bad field."""
    try:
        # JSON mode: ISO timestamps become datetimes; nothing else is coerced (strict).
        return TraceLine.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TraceError(f"{where + ': ' if where else ''}{first['msg']}") from None


def action_of(event: TraceCall | TraceRoute) -> Action:
    """The proposed action a trace event records."""
    if isinstance(event, TraceRoute):
        return Action.route(event.target, agent=event.agent, call_id=event.id)
    return Action(tool=event.tool, args=event.args, agent=event.agent, call_id=event.id)


def session_of(line: TraceLine, event: TraceCall | TraceRoute) -> Session:
    """The guard's session context for one event of a trace line (the event's own time
    wins over the line's ``now``)."""
    ctx = line.context
    return Session(id=line.session, user=ctx.user, now=event.time or ctx.now,
                   task_labels=frozenset(ctx.task.labels), task_kind=ctx.task.kind,
                   facts=ctx.facts)


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceIssue:
    """Something in a trace that does not add up; the replay goes on.

    ``event``: the event's 1-based position in its line's ``events``.
    """

    line: int
    event: int
    session: str
    call_id: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayStep:
    """The guard's answer to one recorded call (or route).

    ``verdict``: the answer to the proposal as recorded (under its approval when the trace
    marks it approved). ``approval``: the `Approval` the replay applied, if any.
    ``approved``: when the approval came after an escalation (a result followed), the
    verdict of the check under it, which decided whether the call ran. ``warnings``:
    (rule, message) for each ``warn`` rule that fired.
    """

    line: int
    session: str
    call_id: str
    tool: str
    verdict: Verdict
    approval: Approval | None = None
    approved: Verdict | None = None
    warnings: tuple[tuple[str, str], ...] = ()

    @property
    def final(self) -> Verdict:
        """The verdict that decided whether the call ran."""
        return self.approved if self.approved is not None else self.verdict

    @property
    def executed(self) -> bool:
        return self.final.executable

    def to_json(self) -> dict[str, object]:
        """The check-trace line: DESIGN.md's keys first, then ``code``, ``warnings`` and
        ``approval`` (null, or who approved and the verdict under the approval)."""
        row = _verdict_json(self.verdict)
        row = {"session": self.session, "call_id": self.call_id, "tool": self.tool, **row}
        row["warnings"] = [{"rule": r, "message": m} for r, m in self.warnings]
        row["approval"] = None
        if self.approval is not None:
            row["approval"] = {"approver": self.approval.approver,
                               "args_sha256": self.approval.args_sha256,
                               "after_escalation": self.approved is not None,
                               **_verdict_json(self.final)}
        return row


def _verdict_json(v: Verdict) -> dict[str, object]:
    return {"decision": str(v.decision), "rules": list(v.rules), "message": v.message,
            "repair": None if v.repair is None
            else {k: json_value(x) for k, x in v.repair.items()},
            "code": v.code}


@dataclass(slots=True)
class _Calls:
    """What a replay knows about one session's calls: id -> (event number, executed)."""

    seen: dict[str, tuple[int, bool]] = field(default_factory=dict)
    results: set[str] = field(default_factory=set)


class Replay:
    """Replays trace lines through ``guard``, in order, one session per line.

    ``continue_sessions``: a session id on a later line continues that session (its state
    is kept until the end) instead of being an error. Without it each session's state is
    dropped after its line, so memory stays flat for any trace length.
    """

    def __init__(self, guard: Guard, *, continue_sessions: bool = False) -> None:
        self._guard = guard
        self._continue = continue_sessions
        self._first_line: dict[str, int] = {}
        self._calls: dict[str, _Calls] = {}
        self._warn = {r.name: r.message or f"rule {r.name}" for r in guard.policy.spec.rules}

    def line(self, number: int, line: TraceLine) -> Iterator[ReplayStep | TraceIssue]:
        """The steps and issues of trace line ``number``; `TraceError` for a session id
        seen on an earlier line (unless sessions continue)."""
        sid = line.session
        first = self._first_line.get(sid)
        if first is not None and not self._continue:
            raise TraceError(f"session {sid!r} already appeared on line {first}; a session "
                             "is one line", line=number, first_line=first)
        self._first_line.setdefault(sid, number)
        calls = self._calls.setdefault(sid, _Calls())
        # A result later in the line shows that the call ran (the approval semantics).
        result_at: dict[str, list[int]] = {}
        for i, event in enumerate(line.events, start=1):
            if isinstance(event, TraceResult):
                result_at.setdefault(event.call_id, []).append(i)
        for i, event in enumerate(line.events, start=1):
            if isinstance(event, TraceUserMessage):
                self._guard.user_message(sid, event.content)
            elif isinstance(event, TraceResult):
                yield from self._result(number, i, sid, event, calls)
            else:
                ran = any(j > i for j in result_at.get(event.id, ()))
                yield from self._call(number, i, line, event, calls, ran)
        if not self._continue:
            self._guard.drop_session(sid)
            del self._calls[sid]

    def _call(self, number: int, i: int, line: TraceLine, event: TraceCall | TraceRoute,
              calls: _Calls, ran: bool) -> Iterator[ReplayStep | TraceIssue]:
        """``ran``: a result for this call follows it in the line (so it was executed)."""
        sid = line.session
        tool = "route" if isinstance(event, TraceRoute) else event.tool
        if not event.id:
            yield TraceIssue(line=number, event=i, session=sid, call_id="",
                             message=f"event {i} ({tool}) has an empty call id; its result "
                                     "cannot be matched")
        elif event.id in calls.seen:
            yield TraceIssue(line=number, event=i, session=sid, call_id=event.id,
                             message=f"call id {event.id!r} is used again (first by event "
                                     f"{calls.seen[event.id][0]})")
        action, session = action_of(event), session_of(line, event)
        verdict = self._guard.evaluate(action, session)
        approval: Approval | None = None
        approved: Verdict | None = None
        if event.approved and verdict.subject is not None:
            approval = self._approval(event, verdict, "approved in the trace")
            verdict = self._guard.evaluate(action, session, approval=approval)
        if approval is None and verdict.decision is Decision.ESCALATE and ran \
                and verdict.subject is not None:
            approval = self._approval(event, verdict, "the trace shows it ran")
            approved = self._guard.check_and_commit(action, session, approval=approval)
            final = approved
        else:
            final = self._guard.commit(verdict) if verdict.executable else verdict
        if event.id and event.id not in calls.seen:
            calls.seen[event.id] = (i, final.executable)
        step = ReplayStep(line=number, session=sid, call_id=event.id, tool=tool,
                          verdict=verdict, approval=approval, approved=approved,
                          warnings=tuple((r, self._warn.get(r, r)) for r in final.warnings))
        yield step
        if approval is not None and ran and not final.executable:
            yield TraceIssue(line=number, event=i, session=sid, call_id=event.id,
                             message=f"call {event.id!r} ran after approval, but the guard "
                                     f"does not allow it even approved ({final.decision}: "
                                     f"{', '.join(final.rules) or final.code}); it counts as "
                                     "not executed")

    @staticmethod
    def _approval(event: TraceCall | TraceRoute, verdict: Verdict, reason: str) -> Approval:
        assert verdict.subject is not None
        return Approval(approver=event.approver or TRACE_APPROVER,
                        call_id=verdict.subject.call_id,
                        args_sha256=verdict.subject.args_sha256, at=verdict.subject.at,
                        reason=reason)

    def _result(self, number: int, i: int, sid: str, event: TraceResult,
                calls: _Calls) -> Iterator[TraceIssue]:
        cid = event.call_id
        known = calls.seen.get(cid)
        if known is None:
            yield TraceIssue(line=number, event=i, session=sid, call_id=cid,
                             message=f"tool_result for unknown call id {cid!r} (no earlier "
                                     "call of this session has it); ignored")
            return
        if not known[1]:
            yield TraceIssue(line=number, event=i, session=sid, call_id=cid,
                             message=f"tool_result for call {cid!r}, which the guard did not "
                                     "allow; ignored (the call counts as not executed)")
            return
        if cid in calls.results:
            yield TraceIssue(line=number, event=i, session=sid, call_id=cid,
                             message=f"a second tool_result for call {cid!r}; both outputs "
                                     "are labelled")
        calls.results.add(cid)
        self._guard.record_result(sid, cid, event.output, trusted=event.trusted)
