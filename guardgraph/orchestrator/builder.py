"""Owns `AgentGraph`: a small builder over ``StateGraph`` for specialists behind a router,
whose every routing decision and tool call is guarded and audited.

>>> from guardgraph.orchestrator import AgentGraph
>>> def lookup(city: str) -> str:
...     "The weather in a city."
...     return f"sunny in {city}"
>>> builder = AgentGraph().add_specialist("weather", lambda state: "done", tools=[lookup])
>>> sorted(builder.topology().tools["weather"])
['lookup']

The compiled graph is a normal LangGraph ``CompiledStateGraph``: ``invoke``, ``stream``,
``astream``, a checkpointer and ``thread_id`` work as LangGraph users expect. The guard
session id is the ``thread_id``.

Topology: ``START -> router -> <specialist> <-> <specialist>__tools``; each tool call of
a turn is its own task (``Send``), so one interrupted call never re-runs the others.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as create_tool
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Send

from guardgraph.errors import GuardgraphError
from guardgraph.orchestrator import _records as rec
from guardgraph.orchestrator._carrier import SessionCarrier
from guardgraph.orchestrator._guarded import (
    SessionFactory,
    default_session,
    rec_safe,
    thread_of,
)
from guardgraph.orchestrator._specialists import Turn, as_router, as_turn
from guardgraph.orchestrator._tracing import agent_span
from guardgraph.orchestrator.proofs import GraphTopology
from guardgraph.orchestrator.tools import GuardedToolNode, tell_user_messages

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from guardgraph.audit.log import AuditLog
    from guardgraph.guardrails import Guard

__all__ = ["AgentGraph", "AgentState", "GraphBuildError", "user_task"]

ROUTER = "router"
_TOOLS = "__tools"
try:  # the config key LangGraph reads its default durability from
    from langgraph._internal._constants import CONFIG_KEY_DURABILITY
except ImportError:  # pragma: no cover - pinned langgraph 1.2 has it
    CONFIG_KEY_DURABILITY = "__pregel_durability"


class GraphBuildError(GuardgraphError):
    """The graph cannot be compiled: an unknown tool, a specialist without tools, a
    router target that is no specialist, or a spec that does not load."""


class AgentState(TypedDict, total=False):
    """The state of an `AgentGraph` run.

    ``task``: ``{"user", "labels", "kind"}`` of the request (for ``task.labels`` and
    ``session.user`` rules); ``active_agent``: the specialist in charge;
    ``routes``: routing decisions taken; ``guard_session``: the guard's session state as
    of the last turn (``Guard.export_session``), so that it travels with the checkpoint.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    task: dict[str, Any]
    active_agent: str
    routes: Annotated[int, operator.add]
    guard_session: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Specialist:
    name: str
    agent: object
    tools: tuple[BaseTool, ...]


class AgentGraph:
    """Specialists with their tools, behind a router; ``compile`` validates and builds.

    ``add_specialist(name, agent, tools)``: ``agent`` is a plain callable (state ->
    ``AIMessage`` or final answer), a LangChain chat model with tool calling, or a local
    policy with ``propose(history)``. ``router(...)``: a callable (state -> specialist
    name) or a chat model; with one specialist the router may be omitted.
    """

    def __init__(self) -> None:
        self._specialists: dict[str, _Specialist] = {}
        self._router: object | None = None

    def add_specialist(self, name: str, agent: object,
                       tools: Sequence[BaseTool | Callable[..., Any]]) -> AgentGraph:
        if not isinstance(name, str) or not name.isidentifier():
            raise GraphBuildError(f"specialist name must be an identifier, got {name!r}")
        if name in self._specialists or name in (ROUTER,):
            raise GraphBuildError(f"specialist {name!r} is defined twice (or is reserved)")
        converted = tuple(t if isinstance(t, BaseTool) else create_tool(t) for t in tools)
        self._specialists[name] = _Specialist(name=name, agent=agent, tools=converted)
        return self

    def router(self, router: object) -> AgentGraph:
        self._router = router
        return self

    def topology(self) -> GraphTopology:
        """Nodes, edges, the router's targets and each specialist's tools (for proofs)."""
        names = tuple(self._specialists)
        edges: list[tuple[str, str]] = [(START, ROUTER)]
        for name in names:
            edges += [(ROUTER, name), (name, name + _TOOLS), (name + _TOOLS, name),
                      (name, END)]
        return GraphTopology(
            nodes=(START, ROUTER, *names, *(n + _TOOLS for n in names), END),
            edges=tuple(edges),
            routes=frozenset((ROUTER, n) for n in names),
            agents=frozenset(names),
            tools={n: frozenset(t.name for t in s.tools) for n, s in self._specialists.items()},
            tool_nodes={n + _TOOLS: n for n in names},
        )

    def compile(self, *, guard: Guard | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                audit: AuditLog | None = None, checkpointer: Any = None, store: Any = None,
                session: SessionFactory | None = None,
                durability: str = "sync", recursion_limit: int = 100,
                name: str = "guardgraph") -> CompiledStateGraph[Any, Any, Any, Any]:
        """Validate and build the LangGraph graph.

        ``guard``: a `Guard`, or spec file path(s) to build one from. ``store``: LangGraph's
        key-value store, where the execution ledger lives (a fresh in-memory one when
        None); use a SQLite or PostgreSQL store to keep exactly-once across restarts.
        ``session``: builds the guard's `Session` of a check from (thread id, state, config)
        (default: user, labels and kind from the state's ``task``).
        ``durability``: the default for every run (``"sync"``: each step's writes are
        persisted before the next step starts).
        """
        guard_ = _guard_of(guard)
        self._validate(guard_)
        from langgraph.store.memory import InMemoryStore

        graph: StateGraph[Any, Any, Any, Any] = StateGraph(AgentState)
        names = list(self._specialists)
        targets = tuple(names)
        route = as_router(self._router, targets) if self._router is not None else None
        store_ = store if store is not None else InMemoryStore()
        carrier = SessionCarrier(guard_, store_)
        graph.add_node(ROUTER, _router_node(route, targets, guard_, audit, carrier,
                                            session or default_session),  # type: ignore[call-overload]
                       destinations=(*targets, END))
        graph.add_edge(START, ROUTER)
        for spec in self._specialists.values():
            tools_node = spec.name + _TOOLS
            node = GuardedToolNode(spec.tools, guard=guard_, audit=audit, agent=spec.name,
                                   name=tools_node, session=session)
            node.guarded.on_enter = carrier.enter
            node.guarded.on_commit = carrier.save
            turn = as_turn(spec.agent, spec.tools, spec.name)
            graph.add_node(spec.name,  # type: ignore[call-overload]
                           _specialist_node(spec.name, turn, guard_, carrier))
            graph.add_node(tools_node, node)
            graph.add_conditional_edges(spec.name, _to_tools(tools_node), [tools_node, END])
            graph.add_edge(tools_node, spec.name)
        compiled = graph.compile(checkpointer=checkpointer,
                                 store=store_,
                                 name=name)
        # Durability applies to checkpoint writes; without a checkpointer LangGraph has no
        # write to wait for (and 1.2 fails on "sync"), so it is left unset.
        compiled.config = {"recursion_limit": recursion_limit}
        if checkpointer is not None:
            compiled.config["configurable"] = {CONFIG_KEY_DURABILITY: durability}
        return compiled

    def _validate(self, guard: Guard) -> None:
        if not self._specialists:
            raise GraphBuildError("the graph has no specialist; call add_specialist first")
        if self._router is None and len(self._specialists) > 1:
            raise GraphBuildError(f"{len(self._specialists)} specialists need a router; "
                                  "call .router(...)")
        declared = set(_declared_tools(guard))
        for spec in self._specialists.values():
            if not spec.tools:
                raise GraphBuildError(f"specialist {spec.name!r} has no tools")
            unknown = sorted(t.name for t in spec.tools if t.name not in declared)
            if unknown:
                raise GraphBuildError(
                    f"specialist {spec.name!r}: tool(s) {', '.join(unknown)} not declared in "
                    f"the spec (declared: {', '.join(sorted(declared)) or 'none'})")


def _guard_of(guard: object) -> Guard:
    from guardgraph.guardrails import Guard

    if isinstance(guard, Guard):
        if getattr(guard, "policy", None) is None:
            raise GraphBuildError(
                f"the guard's spec did not load: {getattr(guard, 'load_error', 'unknown')}")
        return guard
    paths: Sequence[str | os.PathLike[str]]
    if isinstance(guard, str | os.PathLike):
        paths = [guard]
    elif isinstance(guard, Sequence):
        paths = list(guard)
    else:
        raise GraphBuildError(f"guard: expected a Guard or spec path(s), got "
                              f"{type(guard).__name__}")
    from guardgraph.guardrails import load_policy

    try:
        return Guard(load_policy(*(Path(p) for p in paths)))
    except GuardgraphError as exc:
        raise GraphBuildError(f"the spec does not load: {exc}") from exc


def _declared_tools(guard: Guard) -> tuple[str, ...]:
    return tuple(guard.policy.tools)


def _router_node(route: Callable[[Mapping[str, Any]], str] | None, targets: tuple[str, ...],
                 guard: Guard, audit: AuditLog | None,
                 carrier: SessionCarrier,
                 session_of: SessionFactory) -> Callable[[AgentState], Command[Any]]:
    told: dict[str, int] = {}

    def router(state: AgentState) -> Command[Any]:
        config = get_config()
        thread = thread_of(config)
        target = ""
        try:
            with agent_span(ROUTER, thread) as ids:
                carrier.enter(thread, state)
                session = session_of(thread, state, config)
                tell_user_messages(guard, audit, session.id, list(state.get("messages", ())),
                                   told)
                if route is None:
                    # One specialist and no router: no routing decision is taken, so
                    # there is nothing to guard (a spec without route rules denies all).
                    _record_task(audit, thread, state, ids)
                    return Command(goto=targets[0],
                                   update={"routes": 1, "active_agent": targets[0]})
                target = route(state)
                verdict = _check_route(guard, audit, thread, session, state, target, ids)
        except GraphBubbleUp:
            raise
        except Exception as exc:  # fail closed: a guard or log that cannot decide denies
            failure = exc
            rec_safe(lambda: rec.record_error(audit, session=thread, actor=ROUTER,
                                              call_id=f"route-{_routes(state) + 1}",
                                              tool="route", error=failure, stage="guard"))
            return _stop(f"route to {target or '?'} denied by guardgraph [GG408]: the guard "
                         f"could not decide ({type(exc).__name__}: {exc})")
        if target not in targets:
            return _stop(f"route to {target} denied by guardgraph: unknown specialist "
                         f"{target!r} (specialists: {', '.join(targets)})")
        if not verdict.executable:
            return _stop(f"route to {target} denied by guardgraph "
                         f"[{','.join(verdict.rules) or verdict.code}]: {verdict.message}")
        return Command(goto=target, update={"routes": 1, "active_agent": target})
    return router


def _routes(state: AgentState) -> int:
    return int(state.get("routes", 0) or 0)


def _check_route(guard: Guard, audit: AuditLog | None, thread: str, session: Any,
                 state: AgentState, target: str, ids: Any) -> Any:
    """The guard's verdict on routing to ``target`` (an action of the router), audited
    under the thread; checked in the guard's session (which several threads may share,
    hence the thread in the call id)."""
    from guardgraph.guardrails import Action

    n = _routes(state) + 1
    call_id = f"route-{n}" if session.id == thread else f"{thread}/route-{n}"
    if n == 1:
        _record_task(audit, thread, state, ids)
    verdict = guard.check_and_commit(Action.route(target, agent=ROUTER, call_id=call_id),
                                     session)
    rec.record_route(audit, verdict, session=thread, router=ROUTER, target=target,
                     call_id=call_id, span=ids)
    return verdict


def _record_task(audit: AuditLog | None, thread: str, state: AgentState, ids: Any) -> None:
    task = state.get("task") or {}
    first = next((m for m in state.get("messages", ()) if isinstance(m, HumanMessage)), None)
    rec.record_task(audit, session=thread, user=str(task.get("user", "")),
                    text=str(first.content) if first is not None else "",
                    labels=tuple(task.get("labels", ())), kind=str(task.get("kind", "")),
                    span=ids)


def _stop(text: str) -> Command[Any]:
    return Command(goto=END, update={"routes": 1,
                                     "messages": [AIMessage(content=text, name=ROUTER)]})


def _specialist_node(name: str, turn: Turn, guard: Guard,
                     carrier: SessionCarrier) -> Callable[[AgentState], dict[str, Any]]:
    def specialist(state: AgentState) -> dict[str, Any]:
        thread = thread_of(get_config())
        carrier.enter(thread, state)
        with agent_span(name, thread):
            reply = turn(state)
        if reply.name is None:
            reply = AIMessage(content=reply.content, tool_calls=reply.tool_calls, name=name,
                              id=reply.id)
        return {"messages": [reply], "active_agent": name,
                "guard_session": carrier.export(thread)}
    return specialist


def _to_tools(tools_node: str) -> Callable[[AgentState], list[Send] | str]:
    def edge(state: AgentState) -> list[Send] | str:
        messages = state.get("messages", ())
        last = messages[-1] if messages else None
        if isinstance(last, AIMessage) and last.tool_calls:
            # One task per call, as create_agent does: an interrupt in one call keeps the
            # finished writes of the others, so a resume never re-runs them.
            return [Send(tools_node, [tc]) for tc in last.tool_calls]
        return END
    return edge


def user_task(text: str, *, user: str = "", labels: Sequence[str] = (),
              kind: str = "") -> dict[str, Any]:
    """The input of one run: the user's message and the task's context."""
    return {"messages": [HumanMessage(content=text)],
            "task": {"user": user, "labels": sorted(labels), "kind": kind}}
