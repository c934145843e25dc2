"""Owns the one translation of the orchestrator's events into audit records.

Every proposal, verdict, approval request and answer, execution, tool result, route and
task goes through these functions and nowhere else (DESIGN.md: "nobody builds records by
hand"). Each record carries an event id ``{session}/{call id}/{phase}``: LangGraph
re-runs a task from its start after an interrupt, a crash or a replay, and the re-run
must find the record written the first time instead of writing a second one.

>>> from guardgraph.audit import open_log
>>> log = open_log("memory:")
>>> first = record_task(log, session="t1", user="anna", text="Pay my rent")
>>> first == record_task(log, session="t1", user="anna", text="Pay my rent")
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guardgraph.audit.events import (
    ActionExecuted,
    ActionProposed,
    ApprovalAnswered,
    ApprovalRequested,
    ErrorOccurred,
    Payload,
    RouteDecided,
    TaskReceived,
    ToolResult,
    UserMessage,
    VerdictReached,
)
from guardgraph.errors import AuditConflictError

if TYPE_CHECKING:
    from guardgraph.audit.log import AuditLog

__all__ = [
    "SpanIds",
    "record_approval_answer",
    "record_approval_request",
    "record_error",
    "record_execution",
    "record_proposal",
    "record_result",
    "record_route",
    "record_task",
    "record_user_message",
    "record_verdict",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SpanIds:
    """The OpenTelemetry trace and span ids (lower-case hex) a record is written under."""

    trace_id: str | None = None
    span_id: str | None = None


_NO_SPAN = SpanIds()
_RETRIES = 8


def _plain(value: object) -> Any:
    """A JSON-safe copy of a value the guard froze (tuples, frozensets, read-only maps)."""
    from guardgraph.guardrails.verdict import json_value

    return json_value(value)


def _append(log: AuditLog | None, payload: Payload, *, session: str, actor: str,
            event_id: str, after: Sequence[str | None] = (), span: SpanIds = _NO_SPAN,
            verdict: Any = None, spec: tuple[str, int, str] | None = None,
            sensitive: Sequence[str] = ()) -> str | None:
    if log is None:
        return None
    decided = None if verdict is None else (str(verdict.decision), tuple(verdict.rules))
    for attempt in range(_RETRIES):
        key = event_id if attempt == 0 else f"{event_id}/{attempt + 1}"
        try:
            return log.record(payload, session=session, actor=actor, spec=spec,
                              verdict=decided, provenance=tuple(x for x in after if x),
                              event_id=key, trace_id=span.trace_id, span_id=span.span_id,
                              sensitive=tuple(sensitive)).id
        except AuditConflictError:
            # A re-run of the task reached another outcome (the session changed while it
            # waited): a second record under the next id, the first one stands.
            continue
    raise AuditConflictError(f"{event_id}: {_RETRIES} different outcomes of one step")


def _key(session: str, call_id: str, phase: str) -> str:
    return f"{session}/{call_id}/{phase}"


def record_task(log: AuditLog | None, *, session: str, user: str, text: str,
                labels: Sequence[str] = (), kind: str = "", task_id: str = "task",
                span: SpanIds = _NO_SPAN) -> str | None:
    """The user's task (a ``task_received`` record); returns the record id."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    return _append(log, TaskReceived(task=text, user=user, labels=tuple(sorted(labels)),
                                     task_kind=kind),
                   session=session, actor=f"user:{user}" if user else "user",
                   event_id=_key(session, task_id, "task"), span=span)


def record_user_message(log: AuditLog | None, *, session: str, user: str, text: str,
                        message_id: str, span: SpanIds = _NO_SPAN) -> str | None:
    """A later message of the user in the session (``user_message``)."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    return _append(log, UserMessage(text=text, user=user), session=session,
                   actor=f"user:{user}" if user else "user",
                   event_id=_key(session, message_id, "user"), span=span)


def record_route(log: AuditLog | None, verdict: Any, *, session: str, router: str,
                 target: str, call_id: str, after: Sequence[str | None] = (),
                 span: SpanIds = _NO_SPAN) -> str | None:
    """A routing decision as a proposal, the guard's verdict on it, and (when allowed)
    the route taken (``route_decided``); returns the last record's id."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    proposed = _append(log, ActionProposed(tool="route", call_id=call_id, agent=router,
                                           action="route", target=target),
                       session=session, actor=router, after=after, span=span,
                       event_id=_key(session, call_id, "proposed"))
    decided = _append(log, VerdictReached(tool="route", call_id=call_id, agent=router,
                                          message=verdict.message, code=verdict.code,
                                          target=target),
                      session=session, actor="guard", verdict=verdict,
                      spec=_spec_of(verdict), after=(proposed,), span=span,
                      event_id=_key(session, call_id, "verdict"))
    if not verdict.executable:
        return decided
    return _append(log, RouteDecided(target=target, router=router, call_id=call_id),
                   session=session, actor=router, after=(decided,), span=span,
                   event_id=_key(session, call_id, "route"))


def record_proposal(log: AuditLog | None, *, session: str, agent: str, tool: str,
                    call_id: str, args: Mapping[str, object],
                    after: Sequence[str | None] = (),
                    span: SpanIds = _NO_SPAN) -> str | None:
    """An agent proposes a tool call (``action_proposed``), before the guard sees it."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    return _append(log, ActionProposed(tool=tool, call_id=call_id, agent=agent,
                                       args=_plain(args)),
                   session=session, actor=agent, after=after, span=span,
                   event_id=_key(session, call_id, "proposed"))


def record_verdict(log: AuditLog | None, verdict: Any, *, session: str, agent: str,
                   tool: str, call_id: str, after: Sequence[str | None] = (),
                   phase: str = "verdict", span: SpanIds = _NO_SPAN,
                   sensitive: Sequence[str] = ()) -> str | None:
    """The guard's verdict on one action (``verdict``), with the spec that decided it.

    ``phase`` tells apart the first verdict from the re-check after an approval
    (``"verdict:approved"``), which is a second decision and so a second record.
    """
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    subject = verdict.subject
    repair = verdict.repair
    return _append(log, VerdictReached(
        tool=tool, call_id=call_id, agent=agent, message=verdict.message, code=verdict.code,
        args=None if subject is None else _plain(subject.args),
        args_sha256="" if subject is None else subject.args_sha256,
        repair=None if repair is None else _plain(repair)),
        session=session, actor="guard", verdict=verdict, spec=_spec_of(verdict),
        after=after, span=span, event_id=_key(session, call_id, phase),
        sensitive=sensitive)


def record_approval_request(log: AuditLog | None, request: Mapping[str, Any], *,
                            session: str, after: Sequence[str | None] = (),
                            span: SpanIds = _NO_SPAN) -> str | None:
    """The interrupt's value, as shown to the approver (``approval_requested``)."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    call_id = str(request.get("call_id", ""))
    return _append(log, ApprovalRequested(
        tool=str(request.get("tool", "")), call_id=call_id,
        agent=str(request.get("agent", "")), reason=str(request.get("message", "")),
        rules=tuple(str(r) for r in request.get("rules", ())),
        args=request.get("args"), args_sha256=str(request.get("args_sha256", ""))),
        session=session, actor="guard", after=after, span=span,
        event_id=_key(session, call_id, "approval-requested"))


def record_approval_answer(log: AuditLog | None, *, session: str, tool: str, call_id: str,
                           agent: str, approved: bool, approver: str, reason: str,
                           args_sha256: str, after: Sequence[str | None] = (),
                           span: SpanIds = _NO_SPAN) -> str | None:
    """Who answered an approval request, how and why (``approval_answered``); the record's
    timestamp says when."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    return _append(log, ApprovalAnswered(tool=tool, call_id=call_id, approved=approved,
                                         approver=approver, agent=agent, reason=reason,
                                         args_sha256=args_sha256),
                   session=session, actor=f"human:{approver}", after=after, span=span,
                   event_id=_key(session, call_id, "approval-answered"))


def record_execution(log: AuditLog | None, verdict: Any, *, session: str, agent: str,
                     after: Sequence[str | None] = (),
                     span: SpanIds = _NO_SPAN) -> str | None:
    """The arguments a tool is about to run with (``action_executed``): the verdict's
    checked ones, written before the tool runs, so that no executed action is ever
    without its record (write-ahead)."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    subject = verdict.subject
    return _append(log, ActionExecuted(tool=subject.tool, call_id=subject.call_id,
                                       agent=agent, args=_plain(subject.args),
                                       args_sha256=subject.args_sha256),
                   session=session, actor=agent, after=after, span=span,
                   event_id=_key(session, subject.call_id, "executed"))


def record_result(log: AuditLog | None, *, session: str, agent: str, tool: str,
                  call_id: str, output: object, trusted: bool,
                  after: Sequence[str | None] = (),
                  span: SpanIds = _NO_SPAN) -> str | None:
    """A tool's output and whether the spec trusts it (``tool_result``)."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    return _append(log, ToolResult(call_id=call_id, tool=tool, agent=agent,
                                   output=_plain(output), trusted=trusted),
                   session=session, actor=agent, after=after, span=span,
                   event_id=_key(session, call_id, "result"))


def record_error(log: AuditLog | None, *, session: str, actor: str, call_id: str,
                 tool: str, error: BaseException | str, stage: str = "tool",
                 after: Sequence[str | None] = (),
                 span: SpanIds = _NO_SPAN) -> str | None:
    """A failure inside the guarded path (``error``): ``stage`` says whose — the guard
    (the call was denied, fail closed), the tool, the orchestrator, an approval."""
    if log is None:  # nothing to build: payloads validate, and that costs
        return None
    kind = type(error).__name__ if isinstance(error, BaseException) else "error"
    return _append(log, ErrorOccurred(message=str(error) or kind, error_type=kind,
                                      stage=stage, tool=tool, call_id=call_id,
                                      agent=actor),
                   session=session, actor=actor, after=after, span=span,
                   event_id=_key(session, call_id, f"error-{stage}"))


def _spec_of(verdict: Any) -> tuple[str, int, str] | None:
    subject = verdict.subject
    if subject is None:
        return None
    return (subject.spec_name, subject.spec_version, subject.spec_sha256)
