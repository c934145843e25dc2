"""Owns the guarded path of one tool call inside LangGraph, shared by `GuardedToolNode`
and `GuardMiddleware` (the flow of one action, DESIGN.md):

propose -> guard check (and atomic commit) -> deny | repair | escalate (``interrupt()``,
re-check with the `Approval` bound to the arguments) | allow -> execute the checked
arguments once (the ledger) -> label the output in the guard's session -> audit each step.

The sync core is written once; the async path runs it in a worker thread around the
awaited tool, so the event loop never waits on the guard, its store or the audit log.
Fail closed: an exception from the guard, its store, the audit log or a fact provider is a
deny with a reason, never an allow and never a crashed graph — except LangGraph's
``GraphBubbleUp`` (``interrupt()``, ``ParentCommand``), which is re-raised first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import ToolMessage
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command, interrupt

from guardgraph.orchestrator import _records as rec
from guardgraph.orchestrator._ledger import Ledger
from guardgraph.orchestrator._tracing import ToolSpan, tool_span
from guardgraph.orchestrator.approval import approval_request, parse_answer

if TYPE_CHECKING:
    from langgraph.prebuilt.tool_node import ToolCallRequest

    from guardgraph.audit.log import AuditLog
    from guardgraph.guardrails import Guard, Session, Verdict

__all__ = ["GuardedCalls", "SessionFactory", "default_session", "thread_of"]

SessionFactory = Callable[[str, Any, Mapping[str, Any]], "Session"]
"""Builds the guard's `Session` of a check from (thread id, graph state, run config)."""

Execute = Callable[["ToolCallRequest"], "ToolMessage | Command[Any]"]
AExecute = Callable[["ToolCallRequest"], Awaitable["ToolMessage | Command[Any]"]]

_NO_THREAD = "default"
_GUARD_FAILED = "GG408"


def thread_of(config: Mapping[str, Any] | None) -> str:
    """The guard session id of a run: its ``thread_id`` (documented), else ``"default"``,
    so that runs without a checkpointer share one session (the conservative choice for
    budgets)."""
    configurable = (config or {}).get("configurable") or {}
    thread = configurable.get("thread_id")
    return str(thread) if thread not in (None, "") else _NO_THREAD


def default_session(thread: str, state: Any, config: Mapping[str, Any]) -> Session:
    """The session of a check: the thread id; user, labels and kind from the state's
    ``task`` entry (AgentGraph puts it there) or the run's ``configurable``."""
    from guardgraph.guardrails import Session

    task = state.get("task") if isinstance(state, Mapping) else getattr(state, "task", None)
    configurable = (config or {}).get("configurable") or {}
    task = task if isinstance(task, Mapping) else {}
    user = task.get("user", configurable.get("user", ""))
    labels = task.get("labels", configurable.get("task_labels", ()))
    kind = task.get("kind", configurable.get("task_kind", ""))
    return Session(id=thread, user=str(user), task_labels=frozenset(labels),
                   task_kind=str(kind))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Go:
    """A call cleared to run: the request with the checked arguments, and its context."""

    request: ToolCallRequest
    thread: str
    session_id: str  # the guard's session: the thread id unless a session factory says
    agent: str
    tool: str
    call_id: str
    verdict: Verdict
    ledger: Ledger
    executed_id: str | None


def _now() -> datetime:
    return datetime.now(UTC)


class GuardedCalls:
    """The guarded path of tool calls for one agent (or, with ``agent=None``, for the agent
    named in the state's ``active_agent``)."""

    def __init__(self, *, guard: Guard, audit: AuditLog | None = None,
                 agent: str | None = None, session: SessionFactory | None = None,
                 ledger: Ledger | None = None,
                 clock: Callable[[], datetime] = _now) -> None:
        self.guard = guard
        self.audit = audit
        self._agent = agent
        self._session = session or default_session
        self._ledger = ledger or Ledger()
        self._clock = clock
        # Called with (thread id, state) before each call: AgentGraph restores the guard's
        # session from the checkpoint here after a restart.
        self.on_enter: Callable[[str, Any], None] | None = None
        # Called with the guard session id after each commit and each recorded result.
        self.on_commit: Callable[[str], None] | None = None

    # -- the two halves around the tool --------------------------------------------------
    def run(self, request: ToolCallRequest, execute: Execute) -> ToolMessage | Command[Any]:
        ctx = self._context(request)
        with tool_span(ctx[2], ctx[3], ctx[1], ctx[0]) as span:
            go = self._before(request, ctx, span)
            if not isinstance(go, _Go):
                return go
            try:
                result = execute(go.request)
            except GraphBubbleUp:
                raise
            except Exception as exc:
                return self._failed(go, exc, span)
            return self._after(go, result, span)

    async def arun(self, request: ToolCallRequest, execute: AExecute) -> ToolMessage | Command[Any]:
        ctx = self._context(request)
        with tool_span(ctx[2], ctx[3], ctx[1], ctx[0]) as span:
            # The guard, the store and the audit log are synchronous (and may wait on a
            # Redis or PostgreSQL round trip): run them in a worker thread so the event loop
            # is never blocked. to_thread copies the context, so LangGraph's config (and
            # interrupt()) and the current span are seen there as here.
            go = await asyncio.to_thread(self._before, request, ctx, span)
            if not isinstance(go, _Go):
                return go
            try:
                result = await execute(go.request)
            except GraphBubbleUp:
                raise
            except Exception as exc:
                return await asyncio.to_thread(self._failed, go, exc, span)
            return await asyncio.to_thread(self._after, go, result, span)

    # -- internals -------------------------------------------------------------------------
    def _context(self, request: ToolCallRequest) -> tuple[str, str, str, str]:
        runtime = request.runtime
        config = getattr(runtime, "config", None) or {}
        state = request.state
        agent = self._agent
        if agent is None:
            agent = str(state.get("active_agent", "") if isinstance(state, Mapping) else "")
        call = request.tool_call
        return thread_of(config), agent or "agent", str(call.get("name", "")), \
            str(call.get("id") or "")

    def _ledger_of(self, request: ToolCallRequest) -> Ledger:
        store = getattr(request.runtime, "store", None)
        return Ledger(store) if store is not None else self._ledger

    def _before(self, request: ToolCallRequest, ctx: tuple[str, str, str, str],
                span: ToolSpan) -> _Go | ToolMessage:
        thread, agent, tool, call_id = ctx
        call = request.tool_call
        ids = span.ids
        try:
            if self.on_enter is not None:
                self.on_enter(thread, request.state)
            ledger = self._ledger_of(request)
            seen = ledger.lookup(thread, call_id) if call_id else None
            if seen is not None:
                # A re-run of a call that already ran: its recorded message, not a second
                # execution (interrupt, resume, replay, restart).
                if seen.done:
                    return ToolMessage(content=seen.content, tool_call_id=call_id, name=tool,
                                       status="error" if seen.status == "error" else "success",
                                       response_metadata=seen.metadata or {})
                return self._message(call_id, tool, (
                    f"not run again: an earlier attempt of call {call_id} started {tool} and "
                    "its outcome is unknown (at most once)"), error=True)
            from guardgraph.guardrails import Action

            config = getattr(request.runtime, "config", None) or {}
            session = self._session(thread, request.state, config)
            args = call.get("args") or {}
            proposal = rec.record_proposal(self.audit, session=thread, agent=agent, tool=tool,
                                           call_id=call_id, args=args, span=ids)
            action = Action(tool=tool, args=args, agent=agent, call_id=call_id)
            verdict = self.guard.check_and_commit(action, session)
            decided = rec.record_verdict(self.audit, verdict, session=thread, agent=agent,
                                         tool=tool, call_id=call_id, after=(proposal,),
                                         span=ids)
            if str(verdict.decision) == "escalate":
                answered = self._approve(verdict, action, session, ctx, decided, span)
                if isinstance(answered, ToolMessage):
                    return answered
                verdict, decided = answered
            span.decided(str(verdict.decision), tuple(verdict.rules))
            if not verdict.executable or verdict.subject is None:
                return self._message(call_id, tool, _denial(verdict), error=True,
                                     decision=str(verdict.decision),
                                     rules=tuple(verdict.rules))
            if self.on_commit is not None:
                self.on_commit(session.id)
            ledger.start(thread, call_id, tool)
            executed = rec.record_execution(self.audit, verdict, session=thread, agent=agent,
                                            after=(decided,), span=ids)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._guard_failed(ctx, exc, span)
        from guardgraph.guardrails.verdict import json_value

        checked = cast("dict[str, Any]", json_value(verdict.subject.args))
        run = request.override(tool_call={**call, "args": checked})
        return _Go(request=run, thread=thread, session_id=session.id, agent=agent, tool=tool,
                   call_id=call_id,
                   verdict=verdict, ledger=ledger, executed_id=executed)

    def _approve(self, verdict: Verdict, action: Any, session: Session,
                 ctx: tuple[str, str, str, str], decided: str | None,
                 span: ToolSpan) -> tuple[Verdict, str | None] | ToolMessage:
        """Ask a human (``interrupt()``), then re-check with the approval bound to the
        arguments, against the spec, facts and budgets in force now."""
        from guardgraph.guardrails import Approval

        thread, agent, tool, call_id = ctx
        subject = verdict.subject
        if subject is None:
            return self._message(call_id, tool, _denial(verdict), error=True)
        request = approval_request(call_id=subject.call_id, tool=subject.tool,
                                   args=subject.args, agent=agent, rules=verdict.rules,
                                   message=verdict.message, args_sha256=subject.args_sha256)
        asked = rec.record_approval_request(self.audit, request, session=thread,
                                            after=(decided,), span=span.ids)
        answer = parse_answer(interrupt(request))  # GraphBubbleUp on the first run
        at = self._clock()
        answered = rec.record_approval_answer(
            self.audit, session=thread, tool=tool, call_id=call_id, agent=agent,
            approved=answer.approved, approver=answer.approver, reason=answer.reason,
            args_sha256=subject.args_sha256, after=(asked,),
            span=span.ids)
        if not answer.approved:
            span.decided("rejected", tuple(verdict.rules))
            return self._message(call_id, tool,
                                 f"rejected by {answer.approver}: {answer.reason}", error=True,
                                 decision="rejected", rules=tuple(verdict.rules))
        approval = Approval(approver=answer.approver, call_id=subject.call_id,
                            args_sha256=subject.args_sha256, at=at, reason=answer.reason)
        again = self.guard.check_and_commit(action, session, approval=approval)
        decided_again = rec.record_verdict(self.audit, again, session=thread, agent=agent,
                                           tool=tool, call_id=call_id,
                                           after=(answered, decided),
                                           phase="verdict:approved", span=span.ids)
        return again, decided_again

    def _after(self, go: _Go, result: ToolMessage | Command[Any],
               span: ToolSpan) -> ToolMessage | Command[Any]:
        message = _tool_message(result)
        content: Any = message.content if message is not None else None
        status = message.status if message is not None else "success"
        note = _repair_note(go.verdict)
        # The tool's own value when it gives one (``content_and_artifact``), so that
        # per-field taint sees the record, not its rendering.
        output = message.artifact if message is not None and message.artifact is not None \
            else content
        try:
            trusted = self.guard.record_result(go.session_id, go.call_id, output)
            rec.record_result(self.audit, session=go.thread, agent=go.agent, tool=go.tool,
                              call_id=go.call_id, output=output, trusted=bool(trusted),
                              after=(go.executed_id,), span=span.ids)
            if self.on_commit is not None:
                self.on_commit(go.session_id)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            # The tool ran; what failed is remembering its output. The output is kept
            # from the agent: unlabelled, it could carry untrusted text past taint rules.
            failure = exc
            rec_safe(lambda: rec.record_error(self.audit, session=go.thread, actor="guard",
                                              call_id=go.call_id, tool=go.tool,
                                              error=failure, stage="orchestrator"))
            text = (f"denied by guardgraph [{_GUARD_FAILED}]: the output of {go.tool} could "
                    f"not be labelled ({type(exc).__name__}: {exc}); it is withheld")
            go.ledger.finish(go.thread, go.call_id, go.tool, text, "error")
            return self._message(go.call_id, go.tool, text, error=True)
        if message is None:
            go.ledger.finish(go.thread, go.call_id, go.tool, None, "success")
            return result
        if note and isinstance(content, str):
            content = f"{note}\n{content}"
        message = ToolMessage(content=content, tool_call_id=message.tool_call_id,
                              name=message.name, status=message.status,
                              artifact=message.artifact,
                              response_metadata=_meta(str(go.verdict.decision),
                                                      tuple(go.verdict.rules)))
        go.ledger.finish(go.thread, go.call_id, go.tool, content, status,
                         dict(message.response_metadata))
        if isinstance(result, Command):
            return result
        return message

    def _failed(self, go: _Go, exc: Exception, span: ToolSpan) -> ToolMessage:
        """The tool itself raised: the agent is told, and the call counts as run."""
        text = f"error: {go.tool} failed: {type(exc).__name__}: {exc}"
        rec_safe(lambda: rec.record_error(self.audit, session=go.thread, actor=go.agent,
                                          call_id=go.call_id, tool=go.tool, error=exc,
                                          after=(go.executed_id,)))
        rec_safe(lambda: go.ledger.finish(go.thread, go.call_id, go.tool, text, "error"))
        span.decided("error", ())
        return self._message(go.call_id, go.tool, text, error=True)

    def _guard_failed(self, ctx: tuple[str, str, str, str], exc: Exception,
                      span: ToolSpan) -> ToolMessage:
        thread, _agent, tool, call_id = ctx
        span.decided("deny", ())
        rec_safe(lambda: rec.record_error(self.audit, session=thread, actor="guard",
                                          call_id=call_id, tool=tool, error=exc,
                                          stage="guard"))
        return self._message(call_id, tool, (
            f"denied by guardgraph [{_GUARD_FAILED}]: the guard could not decide "
            f"({type(exc).__name__}: {exc}); the tool did not run"), error=True)

    @staticmethod
    def _message(call_id: str, tool: str, text: str, *, error: bool,
                 decision: str = "deny", rules: tuple[str, ...] = ()) -> ToolMessage:
        return ToolMessage(content=text, tool_call_id=call_id, name=tool,
                           status="error" if error else "success",
                           response_metadata=_meta(decision, rules))


def rec_safe(write: Callable[[], object]) -> None:
    """Best effort for a record about a failure: the failure is already being reported to
    the agent, and a second failure (the audit log itself is down) must not hide it."""
    try:
        write()
    except Exception:
        return


def _meta(decision: str, rules: tuple[str, ...]) -> dict[str, Any]:
    """What the guard decided, for the agent's code (``response_metadata["guardgraph"]``)."""
    return {"guardgraph": {"decision": decision, "rules": list(rules)}}


def _tool_message(result: object) -> ToolMessage | None:
    if isinstance(result, ToolMessage):
        return result
    if isinstance(result, Command) and isinstance(result.update, Mapping):
        for m in result.update.get("messages", ()) or ():
            if isinstance(m, ToolMessage):
                return m
    return None


def _denial(verdict: Verdict) -> str:
    rules = ",".join(verdict.rules) or (verdict.code or "GG400")
    return f"denied by guardgraph [{rules}]: {verdict.message}"


def _repair_note(verdict: Verdict) -> str:
    if str(verdict.decision) != "repair" or not verdict.repair:
        return ""
    from guardgraph.guardrails.verdict import json_value

    changed = ", ".join(f"{k}={json_value(v)!r}" for k, v in verdict.repair.items())
    return (f"note: guardgraph repaired the call to comply with "
            f"{','.join(verdict.rules)}: it ran with {changed}")
