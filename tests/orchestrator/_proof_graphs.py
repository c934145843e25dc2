"""Graphs for the proof tests and `guardgraph verify`: one wired as the spec says, and
ones that break each property."""

from __future__ import annotations

from typing import Any

from _orch_support import Bank, Scripted, make_guard
from langgraph.graph import END, START, MessagesState, StateGraph

from guardgraph.orchestrator import AgentGraph, GuardedToolNode

_TOOLS = {t.__name__: t for t in Bank().tools()}


def _graph(payments: list[str], support: list[str], research: list[str]) -> AgentGraph:
    return (AgentGraph()
            .add_specialist("payments", Scripted("payments"),
                            tools=[_TOOLS[t] for t in payments])
            .add_specialist("support", Scripted("support"), tools=[_TOOLS[t] for t in support])
            .add_specialist("research", Scripted("research"),
                            tools=[_TOOLS[t] for t in research])
            .router(lambda state: "payments"))


good = _graph(["send_money", "get_balance"], ["get_balance"], ["read_email"])
support_pays = _graph(["send_money"], ["get_balance", "send_money"], ["read_email"])


def handoff() -> Any:
    """A hand-built graph: support hands over to research by a plain edge, which is no
    routing decision the guard sees, so a pii task can reach research."""
    g: StateGraph[Any, Any, Any, Any] = StateGraph(MessagesState)
    g.add_node("router", lambda s: {})
    g.add_node("payments", lambda s: {})
    g.add_node("support", lambda s: {})
    g.add_node("research", lambda s: {})
    g.add_node("payments_tools", GuardedToolNode([_TOOLS["send_money"]], guard=make_guard(),
                                                 agent="payments"))
    g.add_node("support_tools", GuardedToolNode([_TOOLS["get_balance"]], guard=make_guard(),
                                                agent="support"))
    g.add_node("research_tools", GuardedToolNode([_TOOLS["read_email"]],
                                                 guard=make_guard(), agent="research"))
    g.add_edge(START, "router")
    g.add_conditional_edges("router", lambda s: "payments",
                            ["payments", "support", "research"])
    g.add_edge("payments", "payments_tools")
    g.add_edge("payments_tools", "payments")
    g.add_edge("support", "support_tools")
    g.add_edge("support_tools", "research")
    g.add_edge("research", "research_tools")
    g.add_edge("research_tools", END)
    return g.compile()
