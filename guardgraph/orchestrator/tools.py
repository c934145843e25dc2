"""Owns the two ways to guard the tool calls of a LangGraph agent: `GuardedToolNode`, a
drop-in for ``langgraph.prebuilt.ToolNode``, and `GuardMiddleware`, for
``langchain.agents.create_agent(..., middleware=[...])``.

Both run every call through the same guarded path (`_guarded.GuardedCalls`): a deny or a
rejected approval becomes a ``ToolMessage`` with the rule ids and the reason (status
``error``) and the tool does not run; a repair runs the repaired arguments and the message
says what changed; an escalation is an ``interrupt()`` with the approval request
(`guardgraph.orchestrator.approval`). The guard session id is the run's ``thread_id``.

For exactly-once execution, give each tool call its own task (``Send``, as
``create_agent`` does, and as `AgentGraph` does): LangGraph then keeps the finished calls
of a turn when another call of the same turn interrupts; the ledger (in the graph's
``store``, or in memory) keeps a re-run task from running a tool twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.config import get_config
from langgraph.prebuilt import ToolNode
from langgraph.types import Command

from guardgraph.orchestrator import _records as rec
from guardgraph.orchestrator._guarded import GuardedCalls, SessionFactory, thread_of

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool
    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.runtime import Runtime

    from guardgraph.audit.log import AuditLog
    from guardgraph.guardrails import Guard

__all__ = ["GuardMiddleware", "GuardedToolNode"]


class GuardedToolNode(ToolNode):
    """``ToolNode(tools)`` whose every call is checked by ``guard`` and audited in ``audit``.

    ``agent`` names the acting agent for ``agent ==`` rules (default: the state's
    ``active_agent``, else ``"agent"``). ``session`` builds the guard's `Session` from
    (thread id, state, config); the default takes user and task labels from the state's
    ``task`` entry or the run's ``configurable``. Tool errors become error messages
    (``handle_tool_errors=True``) so that a failing tool never crashes the graph.
    """

    def __init__(self, tools: Sequence[BaseTool | Callable[..., Any]], *, guard: Guard,
                 audit: AuditLog | None = None, agent: str | None = None,
                 session: SessionFactory | None = None, name: str = "tools",
                 tags: list[str] | None = None, messages_key: str = "messages") -> None:
        calls = GuardedCalls(guard=guard, audit=audit, agent=agent, session=session)
        super().__init__(tools, name=name, tags=tags, handle_tool_errors=True,
                         messages_key=messages_key, wrap_tool_call=calls.run,
                         awrap_tool_call=calls.arun)
        self.guarded = calls
        self.agent = agent


class GuardMiddleware(AgentMiddleware):
    """Guards the tool calls of a ``create_agent`` agent (both ``invoke`` and ``ainvoke``).

    Before the agent runs, the user's messages are given to the guard (for ``from_user``)
    and audited; every tool call then takes the guarded path. ``agent`` names the acting
    agent for ``agent ==`` rules.
    """

    def __init__(self, *, guard: Guard, audit: AuditLog | None = None,
                 agent: str = "agent", session: SessionFactory | None = None) -> None:
        super().__init__()
        self.guard = guard
        self.audit = audit
        self.agent = agent
        self._calls = GuardedCalls(guard=guard, audit=audit, agent=agent, session=session)
        self._told: dict[str, int] = {}  # per thread: user messages already given

    @property
    def name(self) -> str:
        return f"GuardMiddleware[{self.agent}]"

    def before_agent(self, state: Any, runtime: Runtime[Any]) -> dict[str, Any] | None:
        thread = thread_of(get_config())
        messages = state.get("messages", ()) if isinstance(state, Mapping) else ()
        tell_user_messages(self.guard, self.audit, thread, messages, self._told)
        return None

    async def abefore_agent(self, state: Any, runtime: Runtime[Any]) -> dict[str, Any] | None:
        return self.before_agent(state, runtime)

    def wrap_tool_call(self, request: ToolCallRequest,
                       handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
                       ) -> ToolMessage | Command[Any]:
        return self._calls.run(request, handler)

    async def awrap_tool_call(
            self, request: ToolCallRequest,
            handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return await self._calls.arun(request, handler)


def tell_user_messages(guard: Guard, audit: AuditLog | None, thread: str,
                       messages: Sequence[Any], told: dict[str, int]) -> None:
    """Give the guard the user's messages it has not seen (the trusted source of
    ``from_user``), each audited once as a ``user_message`` record."""
    human = [m for m in messages if isinstance(m, HumanMessage)]
    start = told.get(thread, 0)
    for index, message in enumerate(human[start:], start=start):
        text = message.content if isinstance(message.content, str) else message.text
        guard.user_message(thread, str(text))
        rec.record_user_message(audit, session=thread, user="", text=str(text),
                                message_id=f"user-{message.id or index}")
    told[thread] = len(human)
