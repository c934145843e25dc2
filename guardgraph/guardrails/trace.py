"""The trace file format (DESIGN.md): one recorded session per JSON line.

``parse_trace_line`` validates one line strictly (no coercion: a string is not a number)
and names the first field that is wrong; ``guardgraph check-trace`` and ``guardgraph demo``
replay the sessions through a :class:`~guardgraph.guardrails.Guard`.

>>> text = '{"session": "s1", "events": [{"kind": "user_message", "content": "hi"}]}'
>>> line = parse_trace_line(text)
>>> line.session, type(line.events[0]).__name__
('s1', 'TraceUserMessage')
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardgraph.errors import GuardgraphError
from guardgraph.guardrails.action import Action, Session

__all__ = [
    "TraceCall",
    "TraceContext",
    "TraceError",
    "TraceLine",
    "TraceResult",
    "TraceRoute",
    "TraceTask",
    "TraceUserMessage",
    "action_of",
    "parse_trace_line",
    "session_of",
]


class TraceError(GuardgraphError):
    """A trace line that is not valid JSON or does not follow the trace format."""


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
    time: datetime | None = None


class TraceRoute(_Model):
    kind: Literal["route"]
    id: str
    target: str
    agent: str = ""
    approved: bool = False
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
        return Action.route(event.target, agent=event.agent, call_id=event.id,
                            approved=event.approved)
    return Action(tool=event.tool, args=event.args, agent=event.agent, call_id=event.id,
                  approved=event.approved)


def session_of(line: TraceLine, event: TraceCall | TraceRoute) -> Session:
    """The guard's session context for one event of a trace line (the event's own time
    wins over the line's ``now``)."""
    ctx = line.context
    return Session(id=line.session, user=ctx.user, now=event.time or ctx.now,
                   task_labels=frozenset(ctx.task.labels), task_kind=ctx.task.kind,
                   facts=ctx.facts)
